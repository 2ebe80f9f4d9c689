#pragma once
// SqueezeExcite: global average pool, 1x1 reduce conv (bias) + swish, 1x1 expand conv (bias) +
// sigmoid, and a channel-wise gate on the input. Parameter names follow timm (conv_reduce, conv_expand).

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include "effscale/models/conv2d_pad.h"

namespace effscale::models {

class SqueezeExciteImpl : public torch::nn::Cloneable<SqueezeExciteImpl> {
 public:
  // channels: the gated tensor's channels; reduced: the squeeze width (>= 1).
  SqueezeExciteImpl(int64_t channels, int64_t reduced);
  void reset() override;
  // x: [N, channels, H, W] -> same shape, x * sigmoid(expand(swish(reduce(mean_hw(x))))). With autograd
  // off the gate is applied to x in place (pass a temporary you own). Recording autograd on a channels_last float
  // CPU tensor, it runs as one function through effscale's loops (squeeze_excite_training.h); otherwise forward_ops.
  torch::Tensor forward(torch::Tensor x);
  // forward through LibTorch's ops alone (the same contract).
  torch::Tensor forward_ops(torch::Tensor x);

  int64_t channels;
  int64_t reduced;
  Conv2dPad conv_reduce{nullptr};
  Conv2dPad conv_expand{nullptr};
};
TORCH_MODULE(SqueezeExcite);

}  // namespace effscale::models
