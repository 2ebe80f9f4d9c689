#pragma once
// ModelEma: an exponential moving average of a model's weights and batch-norm statistics (docs/training.md),
// kept in a separate copy used for evaluation.

#include "effscale/models/efficientnet.h"

namespace effscale::trainers {

class ModelEma {
 public:
  // Copies `model` (weights and buffers) as the starting average. decay in [0, 1).
  ModelEma(const models::EfficientNet& model, double decay);
  // After optimizer step `step` (0-based): every floating parameter and buffer becomes
  // d * ema + (1 - d) * current with d = min(decay, (1 + step) / (10 + step)) (TF's warmup on the step
  // count); integer buffers (BN's num_batches_tracked) are copied.
  void update(const models::EfficientNet& model, int64_t step);
  // The averaged model, in eval mode.
  models::EfficientNet& model() { return ema_; }
  double decay() const { return decay_; }

 private:
  models::EfficientNet ema_{nullptr};
  double decay_;
};

}  // namespace effscale::trainers
