#include "effscale/models/squeeze_excite.h"

#include <torch/torch.h>

#include "effscale/models/squeeze_excite_training.h"

namespace effscale::models {

SqueezeExciteImpl::SqueezeExciteImpl(int64_t channels_, int64_t reduced_)
    : channels(channels_), reduced(reduced_) {
  reset();
}

void SqueezeExciteImpl::reset() {
  conv_reduce = register_module("conv_reduce", Conv2dPad(Conv2dPadOptions(channels, reduced, 1).bias(true)));
  conv_expand = register_module("conv_expand", Conv2dPad(Conv2dPadOptions(reduced, channels, 1).bias(true)));
}

torch::Tensor SqueezeExciteImpl::forward(torch::Tensor x) {
  if (squeeze_excite_training_applies(*this, x)) return squeeze_excite_training(*this, x);
  return forward_ops(std::move(x));
}

torch::Tensor SqueezeExciteImpl::forward_ops(torch::Tensor x) {
  torch::Tensor s = x.mean({2, 3}, /*keepdim=*/true);
  s = torch::silu(conv_reduce->forward(s));
  s = torch::sigmoid(conv_expand->forward(s));
  return torch::GradMode::is_enabled() ? x * s : x.mul_(s);
}

}  // namespace effscale::models
