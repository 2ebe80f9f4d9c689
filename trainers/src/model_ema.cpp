#include "effscale/trainers/model_ema.h"

#include <torch/torch.h>

#include <algorithm>

namespace effscale::trainers {

ModelEma::ModelEma(const models::EfficientNet& model, double decay)
    : ema_(std::dynamic_pointer_cast<models::EfficientNetImpl>(model->clone())), decay_(decay) {
  TORCH_CHECK(decay >= 0.0 && decay < 1.0, "EMA decay must be in [0, 1)");
  ema_->eval();
  for (auto& p : ema_->parameters()) p.set_requires_grad(false);
}

void ModelEma::update(const models::EfficientNet& model, int64_t step) {
  torch::NoGradGuard no_grad;
  const double d = std::min(decay_, (1.0 + double(step)) / (10.0 + double(step)));
  auto blend = [d](torch::Tensor& avg, const torch::Tensor& current) {
    if (avg.is_floating_point()) avg.mul_(d).add_(current, 1.0 - d);
    else avg.copy_(current);
  };
  auto ema_params = ema_->parameters();
  const auto params = model->parameters();
  for (size_t i = 0; i < params.size(); ++i) blend(ema_params[i], params[i]);
  auto ema_buffers = ema_->buffers();
  const auto buffers = model->buffers();
  for (size_t i = 0; i < buffers.size(); ++i) blend(ema_buffers[i], buffers[i]);
}

}  // namespace effscale::trainers
