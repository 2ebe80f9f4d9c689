#pragma once
// train(): the EfficientNet training loop (docs/training.md) with evaluation, checkpoints and resume.

#include <torch/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "effscale/models/efficientnet.h"
#include "effscale/trainers/image_dataset.h"
#include "effscale/trainers/lr_schedule.h"
#include "effscale/trainers/mixed_precision.h"
#include "effscale/trainers/process_group.h"
#include "effscale/trainers/train_optimizer.h"
#include "effscale/trainers/transforms.h"

namespace effscale::trainers {

// Everything a run is configured by. Defaults are the paper's recipe except the epoch count.
struct TrainerOptions {
  int64_t epochs = 5;                 // total epochs (>= 1)
  int64_t batch_size = 64;            // (>= 1)
  double lr_per_256 = 0.016;          // peak learning rate per 256 images (scaled by batch_size / 256)
  LrScheduleOptions schedule;         // kind, warmup, decay; base_lr and steps_per_epoch are set by train()
  OptimizerOptions optimizer;         // RMSProp-TF by default
  double label_smoothing = 0.1;
  double ema_decay = 0.9999;          // 0 disables the EMA; otherwise evaluation uses the EMA copy
  // Set: run_training trains the spec with this dropout rate (before the classifier) or drop-connect rate (of the
  // last block) instead of the spec's, each in [0, 1); the run's spec.json and checkpoint say the rate trained.
  std::optional<double> dropout, drop_connect;
  bool zero_init_residual = false;    // run_training starts every block with a shortcut as that shortcut
                                      // (EfficientNetImpl::zero_init_residual_branches)
  int64_t bn_recalibration_batches = 0;  // > 0: re-estimate BN statistics of the evaluated model from this many
                                         // training batches before each evaluation (for short proxy runs)
  TransformOptions transform;         // resolution, channels, augmentation
  uint64_t seed = 0;                  // data order and augmentation (weights: torch::manual_seed by the caller)
  std::string checkpoint_path;        // written at every epoch end (atomically); empty: none
  int64_t checkpoint_every_steps = 0;  // > 0: also every this many steps inside an epoch (resume continues there)
  bool resume = false;                // continue from checkpoint_path when it exists
  std::string start_note;             // run_training's log: printed once training has started, before the learning
                                      // rate (how the recipe was fitted to the run, cli::adapt_recipe_to_run)
  torch::Device device = torch::kCPU;
  Precision precision = Precision::Fp32;  // autocast for forward and loss (bf16 on CPU or CUDA; fp16 on CUDA with
                                          // dynamic loss scaling, restarted at 65536 on resume)
  bool channels_last = false;         // parameters and batches in channels_last memory format
  int64_t progress_every = 20;        // steps between progress callbacks
  std::shared_ptr<ProcessGroup> group;  // set: train data-parallel with the group's other ranks (see train())
};

// Accuracy and loss of a model on a dataset.
struct EvalResult {
  double top1 = 0, top5 = 0, loss = 0;  // fractions in [0, 1]; loss without smoothing
  int64_t samples = 0;
};

// What happened in one epoch.
struct EpochReport {
  int64_t epoch = 0;                  // 1-based
  int64_t epochs = 0;
  double train_loss = 0;              // mean smoothed training loss
  EvalResult validation;              // on the EMA copy when enabled
  double images_per_second = 0;       // training throughput
  double lr = 0;                      // the learning rate of the epoch's last step
  double seconds = 0;                 // wall time of the epoch including evaluation
};

// A progress point inside an epoch.
struct StepProgress {
  int64_t epoch = 0, epochs = 0, step = 0, steps = 0;
  double loss = 0, lr = 0, images_per_second = 0, eta_seconds = 0;
};

// Hooks into the loop; both optional. on_epoch returning false stops the run after that epoch (pruning).
struct TrainerCallbacks {
  std::function<void(const StepProgress&)> on_progress;
  std::function<bool(const EpochReport&)> on_epoch;
};

// The outcome of train().
struct TrainResult {
  std::vector<EpochReport> history;   // every epoch run, including those before a resume
  bool stopped_early = false;         // on_epoch asked to stop
  models::EfficientNet eval_model{nullptr};  // the model evaluation used (the EMA copy or the model)
};

// Thrown when the loss becomes NaN or infinite; what() names the epoch and step.
class TrainingDiverged : public std::runtime_error {
 public:
  explicit TrainingDiverged(const std::string& message) : std::runtime_error(message) {}
};

// Trains `model` on `train_set`, evaluating on `validation` after every epoch, checkpointing when
// checkpoint_path is set. With resume and an existing checkpoint, the model, EMA, optimizer, schedule
// position, RNG state and history are restored and training continues where the checkpoint was taken (the
// next epoch, or the next batch of a mid-epoch checkpoint): on the CPU, 2 epochs straight and 1 + resume + 1
// give identical weights, and so does a run killed after a mid-epoch checkpoint and resumed. Throws TrainingDiverged on a non-finite loss,
// std::invalid_argument for bad options or a checkpoint written for another model, std::runtime_error
// when the checkpoint cannot be written.
// With options.group, every rank calls train() with the same data and options: batch_size is the global
// batch, split evenly over the ranks (it must divide), gradients are averaged every step, batch norm
// statistics every epoch, so the replicas stay equal; evaluation is shared out and summed. Only the leader
// (rank 0) calls the callbacks and writes the checkpoint, and its on_epoch decision stops every rank; each
// rank resumes from checkpoint_path, which must then be on a filesystem they all see.
TrainResult train(models::EfficientNet& model, const ImageDataset& train_set, const ImageDataset& validation,
                  const TrainerOptions& options, const TrainerCallbacks& callbacks = {});

// The intra-op threads train() runs the steps of `model` under `options` on: on the CPU, the calling thread's count
// lowered to one when the network's forward pass on each rank's batch, at the transform's resolution, is under
// models::kMinMacsPerStepForThreads multiply-adds per step (models::training_threads); on other devices that count.
int training_step_threads(const models::EfficientNet& model, const TrainerOptions& options);

// Evaluates `model` (switched to eval mode) on `data` with the evaluation transform, through its folded
// inference form (models::InferenceNet: the eval-mode logits up to float rounding). With a group, each rank
// evaluates its share of every batch and all return the totals.
EvalResult evaluate(models::EfficientNet& model, const ImageDataset& data, const TransformOptions& transform,
                    int64_t batch_size, torch::Device device, ProcessGroup* group = nullptr);

// "auto" (CUDA when available), "cpu", "cuda" or "cuda:N"; throws std::invalid_argument otherwise or when
// CUDA is asked for and absent.
torch::Device parse_device(const std::string& text);

}  // namespace effscale::trainers
