"""Peer for the weights tests: builds python3-torchvision EfficientNets with seeded random weights and
randomised BN statistics, saves them the way people have them, plus an input and its eval-mode logits.

usage: efficientnet_weights.py OUT_DIR CASE...   where CASE is NAME:RESOLUTION:MODE[:CONTAINER]
  NAME        b0..b7
  MODE        torchvision  torchvision's own model, names and conventions
              timm_tf      the same network with TensorFlow 'same' padding and BN eps 1e-3 (timm's
                           tf_efficientnet_*), saved under timm's names
  CONTAINER   state_dict (torch.save(model.state_dict()), default), checkpoint (a training checkpoint dict
              with the weights under 'state_dict'), safetensors (written by the writer below)
Writes OUT_DIR/NAME_RES_MODE.{weights,input.pt,logits.pt}; the input is float32, the logits are computed
in float64 from the float32 weights, so a float32 implementation is judged by its own rounding only.
"""
import argparse, collections, json, math, struct, sys

import torch
import torch.nn.functional as F
import torchvision
from torchvision.ops.misc import Conv2dNormActivation, SqueezeExcitation


class TfSameConv2d(torch.nn.Conv2d):
    """Conv2d padding like TensorFlow 'same': total pad max((ceil(n/s)-1)*s + k - n, 0), smaller half first."""

    def forward(self, x):
        pads = []
        for n, k, s in ((x.shape[-1], self.kernel_size[1], self.stride[1]), (x.shape[-2], self.kernel_size[0], self.stride[0])):
            total = max((math.ceil(n / s) - 1) * s + k - n, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def to_tf_same(module):
    for name, child in module.named_children():
        if isinstance(child, torch.nn.Conv2d):
            conv = TfSameConv2d(child.in_channels, child.out_channels, child.kernel_size, child.stride, 0,
                                child.dilation, child.groups, child.bias is not None)
            conv.load_state_dict(child.state_dict())
            setattr(module, name, conv)
        elif isinstance(child, torch.nn.BatchNorm2d):
            child.eps = 1e-3
        else:
            to_tf_same(child)


def timm_names(model):
    """torchvision state-dict name -> timm name, derived from the module structure."""
    names = {}
    def add(prefix, new, module):
        for key in module.state_dict():
            names[prefix + "." + key] = new + "." + key
    stages = len(model.features) - 2
    add("features.0.0", "conv_stem", model.features[0][0])
    add("features.0.1", "bn1", model.features[0][1])
    for s in range(1, stages + 1):
        for j, block in enumerate(model.features[s]):
            parts = list(block.block)
            expand = len(parts) == 4
            convs = ["conv_pw", "conv_dw", "se", "conv_pwl"] if expand else ["conv_dw", "se", "conv_pw"]
            bns = ["bn1", "bn2", None, "bn3"] if expand else ["bn1", None, "bn2"]
            for k, part in enumerate(parts):
                prefix = "features.%d.%d.block.%d" % (s, j, k)
                new = "blocks.%d.%d." % (s - 1, j)
                if isinstance(part, SqueezeExcitation):
                    add(prefix + ".fc1", new + "se.conv_reduce", part.fc1)
                    add(prefix + ".fc2", new + "se.conv_expand", part.fc2)
                else:
                    add(prefix + ".0", new + convs[k], part[0])
                    add(prefix + ".1", new + bns[k], part[1])
    add("features.%d.0" % (stages + 1), "conv_head", model.features[stages + 1][0])
    add("features.%d.1" % (stages + 1), "bn2", model.features[stages + 1][1])
    add("classifier.1", "classifier", model.classifier[1])
    return names


def write_safetensors(path, tensors):
    """The safetensors layout, written by hand: u64 header size, JSON header, packed little-endian data."""
    dtypes = {torch.float32: "F32", torch.int64: "I64", torch.float16: "F16"}
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        data = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def randomise(model, seed, res):
    """Random BN affine parameters and biases, then BN statistics calibrated on random batches (so every
    layer sees unit-scale activations and the logits depend on the input) and perturbed."""
    torch.manual_seed(seed)
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.1)
            elif isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)):
                # fan-in scaled weights keep every BN input near unit variance (torchvision's fan-out init
                # makes depthwise outputs tiny, and then BN epsilon dominates)
                torch.nn.init.kaiming_normal_(m.weight, mode="fan_in")
                if m.bias is not None:
                    m.bias.normal_(0, 0.1)
        for m in model.modules():  # small residual branches keep deep stacks well conditioned, as in trained nets
            if getattr(m, "use_res_connect", False):
                m.block[-1][1].weight.uniform_(0.1, 0.3)
        momenta = [m.momentum for m in bns]
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
        model.train()
        for m in model.modules():  # no dropout or stochastic depth while calibrating
            if not isinstance(m, torch.nn.BatchNorm2d) and m is not model:
                m.training = False
        for _ in range(3):
            model(torch.randn(12, 3, res, res))
        model.eval()
        for m, momentum in zip(bns, momenta):
            m.momentum = momentum
            m.running_mean.add_(torch.randn_like(m.running_mean) * 0.05 * m.running_var.sqrt())
            m.running_var.mul_(torch.empty_like(m.running_var).uniform_(0.8, 1.25))
            m.num_batches_tracked.fill_(seed)


def make_case(out_dir, case, seed):
    name, res, mode, container = (case.split(":") + ["state_dict"])[:4]
    res = int(res)
    model = getattr(torchvision.models, "efficientnet_" + name)().eval()
    if mode == "timm_tf":
        to_tf_same(model)
    randomise(model, seed, res)
    state = model.state_dict()
    if mode == "timm_tf":
        mapping = timm_names(model)
        state = collections.OrderedDict((mapping[k], v) for k, v in model.state_dict().items())
    elif mode != "torchvision":
        sys.exit("unknown mode " + mode)
    stem = "%s/%s_%d_%s" % (out_dir, name, res, mode)
    if container == "safetensors":
        write_safetensors(stem + ".weights", state)
    elif container == "checkpoint":
        torch.save({"epoch": 7, "arch": "efficientnet_" + name, "state_dict": state,
                    "optimizer": {"lr": 0.1, "momentum": 0.9}, "args": argparse.Namespace(lr=0.1, epochs=7)},
                   stem + ".weights")
    else:
        torch.save(state, stem + ".weights")
    x = torch.randn(2, 3, res, res, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():  # in float64: the exact function of the saved float32 weights
        logits = model.double()(x.double())
    torch.save(x, stem + ".input.pt")
    torch.save(logits, stem + ".logits.pt")


if __name__ == "__main__":
    torch.set_num_threads(2)
    for i, case in enumerate(sys.argv[2:]):
        make_case(sys.argv[1], case, 10 + i)
