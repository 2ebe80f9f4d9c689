#!/usr/bin/env python3
"""The peer of bench_proxy: one candidate of the search as a preset trains it, with torchvision's EfficientNet.

B0 built by torchvision with the preset's width and depth multipliers (channels rounded to the preset's
proxy-divisor, as effscale rounds them), its stem taking the preset's input channels, 10 classes; trained with the
preset's batch, SGD with Nesterov momentum 0.9 and weight decay on all but batch-norm parameters, the preset's
learning rate per 256 images with its warmup and schedule, label smoothing; batches cut from in-memory uint8 images
(28 x 28 grey, as Fashion-MNIST) with a random horizontal flip and normalisation done on the whole batch at once
(the fastest way in Python; a per-sample torchvision transform is slower). One number, as bench_proxy prints it:
  --case train: images/s of training steps      --case eval: images/s of an evaluation pass (top-1, top-5, loss)
  --case params: the network's parameter count
--form best runs eager, channels_last (and, for eval, the frozen TorchScript form) and prints the fastest.

usage: peer_proxy.py --preset FILE.ini --case train|eval|params [--threads N] [--warmup W] [--iters I]
                     [--val-images N] [--form eager|channels_last|frozen|best]
"""
import argparse
import configparser
import math

import torch
from torchvision.models import efficientnet as tv_efficientnet

from peer_torchvision import median_seconds  # the timing every peer line uses

CLASSES, SOURCE = 10, 28


def read_preset(path):
    parser = configparser.ConfigParser(inline_comment_prefixes=("#",))
    with open(path) as f:
        parser.read_string("[preset]\n" + f.read())
    return parser["preset"]


def proxy_network(preset):
    """torchvision's B0 at the preset's proxy: width, depth, divisor, input channels, dropout rates, 10 classes."""
    divisor = int(preset.get("proxy-divisor", "8"))
    original = tv_efficientnet._make_divisible
    tv_efficientnet._make_divisible = lambda v, _divisor, min_value=None: original(v, divisor, min_value)
    try:
        settings, last_channel = tv_efficientnet._efficientnet_conf(
            "efficientnet_b0", width_mult=float(preset["proxy-width"]), depth_mult=float(preset["proxy-depth"]))
        # The preset's dropout and drop-connect (stochastic depth) rates when it sets them, B0's 0.2 otherwise.
        model = tv_efficientnet.EfficientNet(settings, float(preset.get("dropout", "0.2")),
                                             stochastic_depth_prob=float(preset.get("drop-connect", "0.2")),
                                             num_classes=CLASSES, last_channel=last_channel)
    finally:
        tv_efficientnet._make_divisible = original
    stem = model.features[0][0]
    model.features[0][0] = torch.nn.Conv2d(int(preset.get("in-channels", "3")), stem.out_channels, 3, 2, 1, bias=False)
    return model


def images(n):
    return torch.randint(0, 256, (n, 1, SOURCE, SOURCE), dtype=torch.uint8), torch.randint(0, CLASSES, (n,))


def batch_from(data, labels, index, train, memory_format):
    x = data[index].float().div_(255)
    if train:
        flip = torch.rand(x.shape[0]) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    return x.sub_(0.5).div_(0.25).contiguous(memory_format=memory_format), labels[index]


def learning_rate(preset, step, steps_per_epoch):
    """The preset's rate per 256 images at `step`: linear warmup, then cosine or constant (enough for timing)."""
    base = float(preset["lr"]) * int(preset["batch-size"]) / 256
    warmup = float(preset.get("warmup-epochs", "0")) * steps_per_epoch
    if step < warmup:
        return base * (step + 1) / warmup
    if preset.get("schedule", "") == "cosine":
        return base * 0.5 * (1 + math.cos(math.pi * min(1.0, step / steps_per_epoch)))
    return base


def bench_train(preset, args, memory_format):
    model = proxy_network(preset).train().to(memory_format=memory_format)
    batch = int(preset["batch-size"])
    decayed = [p for n, p in model.named_parameters() if p.ndim > 1]
    not_decayed = [p for n, p in model.named_parameters() if p.ndim <= 1]
    optimizer = torch.optim.SGD([{"params": decayed, "weight_decay": float(preset.get("weight-decay", "1e-5"))},
                                 {"params": not_decayed, "weight_decay": 0.0}], lr=0.1, momentum=0.9, nesterov=True)
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=float(preset.get("label-smoothing", "0")))
    data, labels = images(batch * (args.warmup + args.iters + 1))
    order, state = torch.randperm(data.shape[0]), {"step": 0}

    def step():
        begin = (state["step"] * batch) % (data.shape[0] - batch)
        x, y = batch_from(data, labels, order[begin:begin + batch], True, memory_format)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(preset, state["step"], 1000)
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.item()  # as effscale's trainer, which checks every loss for divergence
        loss.backward()
        optimizer.step()
        state["step"] += 1

    return batch / median_seconds(args.warmup, args.iters, step)


def bench_eval(preset, args, memory_format, frozen):
    model = proxy_network(preset).eval().to(memory_format=memory_format)
    batch = int(preset["batch-size"])
    data, labels = images(args.val_images)
    if frozen:
        with torch.no_grad():
            example = batch_from(data, labels, torch.arange(batch), False, memory_format)[0]
            model = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model, example)))

    def evaluate():
        with torch.inference_mode():
            top1 = top5 = loss = 0.0
            for begin in range(0, data.shape[0], batch):
                x, y = batch_from(data, labels, torch.arange(begin, min(begin + batch, data.shape[0])), False, memory_format)
                logits = model(x)
                loss += torch.nn.functional.cross_entropy(logits, y, reduction="sum").item()
                best = logits.topk(5, dim=1).indices
                top1 += (best[:, 0] == y).sum().item()
                top5 += (best == y[:, None]).any(dim=1).sum().item()

    return data.shape[0] / median_seconds(args.warmup, args.iters, evaluate)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", required=True)
    parser.add_argument("--case", required=True, choices=["train", "eval", "params"])
    parser.add_argument("--form", default="eager", choices=["eager", "channels_last", "frozen", "best"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--val-images", type=int, default=2048)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    preset = read_preset(args.preset)
    if args.case == "params":
        print(sum(p.numel() for p in proxy_network(preset).parameters()))
        return
    forms = [args.form] if args.form != "best" else ["eager", "channels_last"] + (["frozen"] if args.case == "eval" else [])
    rates = []
    for form in forms:
        memory_format = torch.contiguous_format if form == "eager" else torch.channels_last
        rates.append(bench_train(preset, args, memory_format) if args.case == "train" else
                     bench_eval(preset, args, memory_format, form == "frozen"))
    print(max(rates))


if __name__ == "__main__":
    main()
