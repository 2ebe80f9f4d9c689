#pragma once
// Re-estimates batch-norm running statistics from training data ("precise BN"). Short proxy runs need it:
// with the recipe's momentum (0.01) a few hundred steps leave the running statistics far from the
// network's current activations, and evaluation then measures the lag, not the architecture.

#include <torch/types.h>

#include "effscale/models/efficientnet.h"
#include "effscale/trainers/image_dataset.h"
#include "effscale/trainers/transforms.h"

namespace effscale::trainers {

// Resets every BN layer's running mean and variance and recomputes them as the plain average over up to
// `batches` batches of `data` (training transform, fixed seed), with the rest of the network in eval mode
// (no dropout, no drop-connect). Momentum settings are restored afterwards; the model is left in eval mode.
// Does nothing when batches <= 0.
void recalibrate_batch_norm(models::EfficientNet& model, const ImageDataset& data, const TransformOptions& transform,
                            int64_t batches, int64_t batch_size, torch::Device device, uint64_t seed);

}  // namespace effscale::trainers
