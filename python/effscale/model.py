"""effscale's EfficientNet as a plain PyTorch module, with effscale's (timm's) parameter names.

Blocks follow timm: InvertedResidual (conv_pw, bn1, conv_dw, bn2, se, conv_pwl, bn3) when the block expands,
DepthwiseSeparable (conv_dw, bn1, se, conv_pw, bn2) when it does not, EdgeResidual (conv_exp, bn1, se,
conv_pwl, bn2) for a fused block (a regular kxk conv in place of expand + depthwise), ConvBnAct (conv, bn1, se)
for a plain block (one regular kxk conv from input to output, MnasNet's ConvOp). Scripts with
torch.jit.script and exports to ONNX.
"""
from typing import List

import torch
import torch.nn.functional as F
from torch import nn

from .spec import LayerPlan, Spec


def same_padding(size: int, kernel: int, stride: int) -> int:
    """TensorFlow 'same' total padding of one dimension."""
    out = (size + stride - 1) // stride
    return max((out - 1) * stride + kernel - size, 0)


class Conv2dPad(nn.Conv2d):
    """A Conv2d padded by the spec's convention: symmetric (k - 1) / 2, or TensorFlow 'same' from the input size
    at each call (the extra row / column at the bottom / right)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride=(1, 1), groups: int = 1, bias: bool = False,
                 tf_same: bool = False):
        super().__init__(cin, cout, kernel, stride=stride, padding=0 if tf_same else (kernel - 1) // 2,
                         groups=groups, bias=bias)
        self.tf_same = tf_same

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tf_same:
            ph = same_padding(x.shape[-2], self.kernel_size[0], self.stride[0])
            pw = same_padding(x.shape[-1], self.kernel_size[1], self.stride[1])
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, reduced: int):
        super().__init__()
        self.conv_reduce = nn.Conv2d(channels, reduced, 1, bias=True)
        self.conv_expand = nn.Conv2d(reduced, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        s = torch.sigmoid(self.conv_expand(F.silu(self.conv_reduce(s))))
        return x * s


def pool_shortcut(x: torch.Tensor, sh: int, sw: int, channels: int) -> torch.Tensor:
    """x average-pooled by the stride (ceil mode, padding not counted), then zero-padded or cut to `channels`."""
    if sh != 1 or sw != 1:
        x = F.avg_pool2d(x, (sh, sw), (sh, sw), 0, ceil_mode=True, count_include_pad=False)
    if x.shape[1] > channels:
        return x[:, :channels]
    if x.shape[1] < channels:
        return F.pad(x, [0, 0, 0, 0, 0, channels - x.shape[1]])
    return x


class _Block(nn.Module):
    """What every block shares: its shortcut and drop-connect."""

    def __init__(self, plan: LayerPlan):
        super().__init__()
        self.residual = plan.residual
        self.pool = plan.pool_shortcut
        self.sh, self.sw = plan.strides
        self.out_channels = plan.output_filters
        self.drop_rate = plan.drop_connect_rate

    def shortcut(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.training and self.drop_rate > 0 and (self.residual or self.pool):
            keep = torch.rand(y.shape[0], 1, 1, 1, dtype=y.dtype, device=y.device) < 1.0 - self.drop_rate
            y = y * keep.to(y.dtype) / (1.0 - self.drop_rate)
        if self.residual:
            return y + x
        if self.pool:
            return y + pool_shortcut(x, self.sh, self.sw, self.out_channels)
        return y


def _se(plan: LayerPlan, channels: int) -> nn.Module:
    return SqueezeExcite(channels, plan.se_filters) if plan.se_filters > 0 else nn.Identity()


def _bn(channels: int, spec: Spec) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=spec.bn_eps, momentum=spec.bn_momentum)


class InvertedResidual(_Block):
    def __init__(self, plan: LayerPlan, spec: Spec):
        super().__init__(plan)
        tf, mid = spec.padding == "tf_same", plan.expanded_filters
        self.conv_pw = Conv2dPad(plan.input_filters, mid, 1, tf_same=tf)
        self.bn1 = _bn(mid, spec)
        self.conv_dw = Conv2dPad(mid, mid, plan.kernel_size, plan.strides, groups=mid, tf_same=tf)
        self.bn2 = _bn(mid, spec)
        self.se = _se(plan, mid)
        self.conv_pwl = Conv2dPad(mid, plan.output_filters, 1, tf_same=tf)
        self.bn3 = _bn(plan.output_filters, spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.silu(self.bn1(self.conv_pw(x)))
        y = self.se(F.silu(self.bn2(self.conv_dw(y))))
        return self.shortcut(x, self.bn3(self.conv_pwl(y)))


class DepthwiseSeparable(_Block):
    def __init__(self, plan: LayerPlan, spec: Spec):
        super().__init__(plan)
        tf, cin = spec.padding == "tf_same", plan.input_filters
        self.conv_dw = Conv2dPad(cin, cin, plan.kernel_size, plan.strides, groups=cin, tf_same=tf)
        self.bn1 = _bn(cin, spec)
        self.se = _se(plan, cin)
        self.conv_pw = Conv2dPad(cin, plan.output_filters, 1, tf_same=tf)
        self.bn2 = _bn(plan.output_filters, spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.se(F.silu(self.bn1(self.conv_dw(x))))
        return self.shortcut(x, self.bn2(self.conv_pw(y)))


class EdgeResidual(_Block):
    def __init__(self, plan: LayerPlan, spec: Spec):
        super().__init__(plan)
        tf, mid = spec.padding == "tf_same", plan.expanded_filters
        self.conv_exp = Conv2dPad(plan.input_filters, mid, plan.kernel_size, plan.strides, tf_same=tf)
        self.bn1 = _bn(mid, spec)
        self.se = _se(plan, mid)
        self.conv_pwl = Conv2dPad(mid, plan.output_filters, 1, tf_same=tf)
        self.bn2 = _bn(plan.output_filters, spec)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.se(F.silu(self.bn1(self.conv_exp(x))))
        return self.shortcut(x, self.bn2(self.conv_pwl(y)))


class ConvBnAct(_Block):
    def __init__(self, plan: LayerPlan, spec: Spec):
        super().__init__(plan)
        tf = spec.padding == "tf_same"
        self.conv = Conv2dPad(plan.input_filters, plan.output_filters, plan.kernel_size, plan.strides, tf_same=tf)
        self.bn1 = _bn(plan.output_filters, spec)
        self.se = _se(plan, plan.output_filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x, self.se(F.silu(self.bn1(self.conv(x)))))


def make_block(plan: LayerPlan, spec: Spec) -> nn.Module:
    if plan.plain:
        return ConvBnAct(plan, spec)
    if plan.fused:
        return EdgeResidual(plan, spec)
    if plan.expand_ratio != 1:
        return InvertedResidual(plan, spec)
    return DepthwiseSeparable(plan, spec)


class EfficientNet(nn.Module):
    """The network a Spec describes: conv_stem, bn1, blocks.S.J, conv_head, bn2, classifier (effscale's names)."""

    def __init__(self, spec: Spec):
        super().__init__()
        self.spec = spec
        tf = spec.padding == "tf_same"
        plans = spec.layers()
        self.conv_stem = Conv2dPad(spec.in_channels, spec.stem(), 3, (2, 2), tf_same=tf)
        self.bn1 = _bn(spec.stem(), spec)
        stages: List[List[nn.Module]] = []
        for plan in plans:
            if plan.index_in_stage == 0:
                stages.append([])
            stages[-1].append(make_block(plan, spec))
        self.blocks = nn.Sequential(*[nn.Sequential(*stage) for stage in stages])
        self.conv_head = Conv2dPad(plans[-1].output_filters, spec.head(), 1, tf_same=tf)
        self.bn2 = _bn(spec.head(), spec)
        self.dropout = spec.dropout
        self.classifier = nn.Linear(spec.head(), spec.num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = F.silu(self.bn1(self.conv_stem(x)))
        x = self.blocks(x)
        return F.silu(self.bn2(self.conv_head(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.forward_features(x).mean((2, 3))
        if self.training and self.dropout > 0:
            x = F.dropout(x, self.dropout, True)
        return self.classifier(x)
