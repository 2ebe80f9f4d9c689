#include "effscale/trainers/batch_norm_recalibration.h"

#include <torch/torch.h>

#include "effscale/trainers/batch_loader.h"

namespace effscale::trainers {

void recalibrate_batch_norm(models::EfficientNet& model, const ImageDataset& data, const TransformOptions& transform,
                            int64_t batches, int64_t batch_size, torch::Device device, uint64_t seed) {
  if (batches <= 0) return;
  std::vector<std::pair<torch::nn::BatchNorm2dImpl*, c10::optional<double>>> layers;
  model->eval();
  for (const auto& m : model->modules())
    if (auto* bn = m->as<torch::nn::BatchNorm2dImpl>()) {
      layers.emplace_back(bn, bn->options.momentum());
      bn->reset_running_stats();
      bn->options.momentum(c10::nullopt);  // cumulative average over the batches below
      bn->train();
    }
  {
    torch::NoGradGuard no_grad;
    BatchLoader loader(data, transform, {std::min(batch_size, data.size()), true, seed, 0x9bc, 2});
    for (int64_t i = 0; i < batches; ++i) {
      auto batch = loader.next();
      if (!batch) break;
      model->forward(batch->images.to(device));
    }
  }
  for (auto& [bn, momentum] : layers) {
    bn->options.momentum(momentum);
    bn->eval();
  }
}

}  // namespace effscale::trainers
