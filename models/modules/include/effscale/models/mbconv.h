#pragma once
// MBConv: the inverted-bottleneck block of MnasNet / EfficientNet, built from one LayerPlan.

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/pimpl.h>

#include <ATen/core/Generator.h>

#include "effscale/models/conv2d_pad.h"
#include "effscale/models/layer_plan.h"
#include "effscale/models/squeeze_excite.h"

namespace effscale::models {

// expand 1x1 conv + BN + swish (only when expand_ratio != 1), depthwise kxk conv carrying the stride
// + BN + swish, squeeze-excitation (when se_filters > 0), project 1x1 conv + BN; a residual add with
// drop-connect when the plan says `residual`, or an add of pool_shortcut(x) when it says `pool_shortcut`.
// A fused plan (conv type 1) replaces expand + depthwise by one regular kxk conv input -> expanded; a plain plan
// (conv type 2) is that regular conv input -> output + BN + swish and SE, without a projection.
// Parameter names follow timm: with expansion conv_pw, bn1, conv_dw, bn2, se.*, conv_pwl, bn3; without
// it (timm's DepthwiseSeparableConv) conv_dw, bn1, se.*, conv_pw, bn2; fused (timm's EdgeResidual) conv_exp,
// bn1, se.*, conv_pwl, bn2; plain (timm's ConvBnAct) conv, bn1, se.*. For a fused or plain block
// `depthwise_conv` holds the regular conv.
class MBConvImpl : public torch::nn::Cloneable<MBConvImpl> {
 public:
  // `noise`: the generator drop-connect draws from (the owning EfficientNet's); a block of its own when
  // undefined (seeded 0).
  MBConvImpl(LayerPlan plan, BatchNormConfig bn, Padding padding, at::Generator noise = {});
  void reset() override;
  // x: [N, input_filters, H, W] -> [N, output_filters, ceil(H / s_h), ceil(W / s_w)]. In training mode a
  // residual block drops each sample's branch with probability drop_connect_rate and rescales the kept
  // ones by 1 / (1 - rate); in eval mode the branch is always kept.
  torch::Tensor forward(const torch::Tensor& x);

  LayerPlan plan;
  BatchNormConfig bn;
  Padding padding;
  at::Generator noise;              // drop-connect masks
  Conv2dPad expand_conv{nullptr};   // null when expand_ratio == 1
  torch::nn::BatchNorm2d expand_bn{nullptr};
  Conv2dPad depthwise_conv{nullptr};
  torch::nn::BatchNorm2d depthwise_bn{nullptr};
  SqueezeExcite se{nullptr};        // null when se_filters == 0
  Conv2dPad project_conv{nullptr};  // null for a plain block
  torch::nn::BatchNorm2d project_bn{nullptr};
};
TORCH_MODULE(MBConv);

// The pooling shortcut: x average-pooled with kernel = stride and stride = stride (ceil mode, so the size is
// ceil(n / s) like the block's output; padding not counted), then zero-padded or cut to `channels`. No
// parameters, no multiply-adds.
torch::Tensor pool_shortcut(const torch::Tensor& x, const std::array<int, 2>& strides, int64_t channels);

// Batch norm with the spec's eps and momentum (PyTorch sense), affine, tracking running statistics.
torch::nn::BatchNorm2d make_batch_norm(int64_t channels, const BatchNormConfig& bn);

// Swish, x * sigmoid(x). When autograd is off (inference) it works in place on `x`, which must then be a
// temporary the caller owns; with autograd on it returns a new tensor, and for a channels_last x its backward
// first brings the gradient into x's memory format (mixed layouts are many times slower in LibTorch 1.13).
torch::Tensor swish(torch::Tensor x);

// Stochastic depth: in training, zeroes each sample of x with probability `rate` and scales the rest by
// 1 / (1 - rate), drawing from `generator` (apply_keep_mask); returns x unchanged when not training or rate == 0.
torch::Tensor drop_connect(const torch::Tensor& x, double rate, bool training, at::Generator& generator);

}  // namespace effscale::models
