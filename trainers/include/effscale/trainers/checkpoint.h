#pragma once
// Training checkpoints: one file with everything a run needs to continue.

#include <string>

#include "effscale/models/efficientnet.h"
#include "effscale/trainers/train_optimizer.h"

namespace effscale::trainers {

// The run's position and record, stored beside the tensors.
struct CheckpointMeta {
  int64_t epochs_done = 0;     // completed epochs
  int64_t steps_done = 0;      // optimizer steps taken
  std::string history_json;    // the epoch reports so far (JSON array)
  int64_t batches_done = 0;    // > 0: saved inside epoch epochs_done + 1, after this many of its batches
  double epoch_loss_sum = 0;   // the summed loss of those batches
};

// Writes model, EMA (when non-null), optimizer state, the model's mask generator state, meta and the model's
// spec to `path` atomically (temporary file + rename). Throws std::runtime_error naming the path on failure.
void save_checkpoint(const std::string& path, const models::EfficientNet& model, const models::EfficientNet* ema,
                     const TrainOptimizer& optimizer, const CheckpointMeta& meta);

// Restores what save_checkpoint wrote into existing objects and returns the meta. Throws
// std::invalid_argument naming the path when the file is not a checkpoint, is damaged, or was written for a
// model with another spec.
CheckpointMeta load_checkpoint(const std::string& path, models::EfficientNet& model, models::EfficientNet* ema,
                               TrainOptimizer& optimizer);

}  // namespace effscale::trainers
