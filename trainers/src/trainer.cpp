#include "effscale/trainers/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>

#include "effscale/base/cpu_runtime.h"
#include "effscale/models/inference_net.h"
#include "effscale/models/threads_by_work.h"
#include "effscale/trainers/batch_loader.h"
#include "effscale/trainers/batch_norm_recalibration.h"
#include "effscale/trainers/checkpoint.h"
#include "effscale/trainers/data_parallel.h"
#include "effscale/trainers/losses.h"
#include "effscale/trainers/model_ema.h"
#include "effscale/trainers/transforms.h"

namespace effscale::trainers {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

nlohmann::json report_json(const EpochReport& r) {
  return {{"epoch", r.epoch},          {"epochs", r.epochs},
          {"train_loss", r.train_loss}, {"val_top1", r.validation.top1},
          {"val_top5", r.validation.top5}, {"val_loss", r.validation.loss},
          {"val_samples", r.validation.samples}, {"images_per_second", r.images_per_second},
          {"seconds", r.seconds}, {"lr", r.lr}};
}

EpochReport report_from_json(const nlohmann::json& j) {
  EpochReport r;
  r.epoch = j.at("epoch");
  r.epochs = j.at("epochs");
  r.train_loss = j.at("train_loss");
  r.validation = {j.at("val_top1"), j.at("val_top5"), j.at("val_loss"), j.at("val_samples")};
  r.images_per_second = j.at("images_per_second");
  r.seconds = j.at("seconds");
  r.lr = j.value("lr", 0.0);  // checkpoints written before the field existed
  return r;
}

std::string history_json(const std::vector<EpochReport>& history) {
  nlohmann::json array = nlohmann::json::array();
  for (const EpochReport& r : history) array.push_back(report_json(r));
  return array.dump();
}

int shard_of(const TrainerOptions& o) { return o.group ? o.group->rank() : 0; }
int shards_of(const TrainerOptions& o) { return o.group ? o.group->size() : 1; }
bool leads(const TrainerOptions& o) { return !o.group || o.group->leader(); }

void check_options(const TrainerOptions& o, const ImageDataset& train_set) {
  if (o.epochs < 1) throw std::invalid_argument("epochs " + std::to_string(o.epochs) + ": must be at least 1");
  if (o.batch_size < 1) throw std::invalid_argument("batch size " + std::to_string(o.batch_size) + ": must be at least 1");
  if (train_set.size() < o.batch_size)
    throw std::invalid_argument("the training set (" + std::to_string(train_set.size()) +
                                " samples) is smaller than one batch of " + std::to_string(o.batch_size));
  if (!(o.label_smoothing >= 0 && o.label_smoothing < 1)) throw std::invalid_argument("label smoothing must be in [0, 1)");
  if (!(o.ema_decay >= 0 && o.ema_decay < 1)) throw std::invalid_argument("EMA decay must be in [0, 1)");
  if (!transforms_make_channels(o.transform.channels))
    throw std::invalid_argument("input channels " + std::to_string(o.transform.channels) +
                                ": the transforms feed grey (1) or RGB (3) images");
  if (o.checkpoint_every_steps < 0) throw std::invalid_argument("checkpoint interval " + std::to_string(o.checkpoint_every_steps) + " steps: must be at least 0");
  if (o.batch_size % shards_of(o) != 0)
    throw std::invalid_argument("batch size " + std::to_string(o.batch_size) + " is the global batch and must divide evenly over the " +
                                std::to_string(shards_of(o)) + " data-parallel ranks");
}

// Data-parallel ranks must train the same thing: the same data, batch, length, seed and model.
void check_ranks_agree(ProcessGroup& group, const TrainerOptions& o, const ImageDataset& train_set,
                       const ImageDataset& validation, const models::EfficientNet& model) {
  int64_t weights = 0;
  for (const torch::Tensor& p : model->parameters()) weights += p.numel();
  require_same_on_all_ranks(group, {{"the training set's size", double(train_set.size())},
                                     {"the validation set's size", double(validation.size())},
                                     {"the batch size", double(o.batch_size)},
                                     {"the epoch count", double(o.epochs)},
                                     {"the seed", double(o.seed % (uint64_t(1) << 40))},
                                     {"the model's parameter count", double(weights)}});
}

// Whether this run continues from its checkpoint. Data-parallel ranks follow the leader, and all fail alike
// when the leader has a checkpoint that some rank cannot see.
bool resuming(const TrainerOptions& o) {
  const bool here = o.resume && !o.checkpoint_path.empty() && std::filesystem::exists(o.checkpoint_path);
  if (!o.group) return here;
  const std::vector<double> seen = sum_over_ranks(*o.group, {o.group->leader() && here ? 1.0 : 0.0, here ? 1.0 : 0.0});
  if (seen[0] == 0) return false;
  if (seen[1] != o.group->size())
    throw std::invalid_argument("the checkpoint " + o.checkpoint_path + " is not visible to every data-parallel rank (" +
                                std::to_string(int(seen[1])) + " of " + std::to_string(o.group->size()) +
                                " see it): put the run's folder on a filesystem all ranks share");
  return true;
}

// What the epochs of one run work on.
struct EpochContext {
  models::EfficientNet& model;
  TrainOptimizer& optimizer;
  ModelEma* ema;
  const ImageDataset& data;
  const TrainerOptions& o;
  const LrScheduleOptions& schedule;
  LossScaler& scaler;
  FlatGradients* gradients;  // data-parallel only
  const TrainerCallbacks& callbacks;
  // Saves a checkpoint inside `epoch` after `batches_done` of its batches, `step` steps in all.
  std::function<void(int64_t epoch, int64_t batches_done, int64_t step, double loss_sum)> save_mid_epoch;
};

// One training epoch from its batch `first_batch` on (a resumed epoch; `loss_sum` of the batches before);
// returns the epoch's mean loss and the images per second of this pass.
std::pair<double, double> run_epoch(const EpochContext& c, int64_t epoch, int64_t& step, int64_t first_batch, double loss_sum) {
  const TrainerOptions& o = c.o;
  c.model->train();
  const effscale::base::ScopedThreadLimit small_work(training_step_threads(c.model, o));  // this epoch's steps
  BatchLoader loader(c.data, o.transform, {o.batch_size, true, o.seed, epoch, 2, shard_of(o), shards_of(o), first_batch});
  const auto start = Clock::now();
  int64_t done = first_batch, images = 0;
  while (auto batch = loader.next()) {
    effscale::base::follow_core_share();
    if (o.group)  // each rank draws its own dropout and drop-connect masks, from a stream seeded per step
      c.model->noise.set_current_seed(mix_seed(o.seed, static_cast<uint64_t>(step), 0x0d90 + static_cast<uint64_t>(o.group->rank())));
    const double lr = learning_rate(c.schedule, step);
    const torch::Tensor x = to_memory_format(batch->images.to(o.device), o.channels_last), y = batch->labels.to(o.device);
    c.optimizer.zero_grad();
    torch::Tensor logits;
    {
      AutocastScope autocast(o.precision, o.device);
      logits = c.model->forward(x);
    }
    torch::Tensor loss = label_smoothing_cross_entropy(logits.to(torch::kFloat), y, o.label_smoothing);
    double value = loss.item<double>();
    (c.scaler.enabled() ? loss * c.scaler.scale() : loss).backward();
    if (c.gradients != nullptr) value = c.gradients->average(*o.group, value);  // the same on every rank
    if (!std::isfinite(value))
      throw TrainingDiverged("the loss became " + std::to_string(value) + " at epoch " + std::to_string(epoch + 1) +
                             ", step " + std::to_string(done + 1) + " (learning rate " + std::to_string(lr) +
                             "); lower the learning rate or check the data");
    bool finite = true;
    if (c.scaler.enabled()) {  // fp16 only: nothing extra on the fp32 / bf16 step
      finite = c.scaler.unscale_and_check(c.model->parameters());
      c.scaler.update(finite);
    }
    if (finite) c.optimizer.step(lr);  // an fp16 overflow skips the step and lowers the scale
    if (c.ema != nullptr) c.ema->update(c.model, step);
    ++step;
    ++done;
    images += x.size(0) * shards_of(o);
    loss_sum += value;
    if (o.checkpoint_every_steps > 0 && step % o.checkpoint_every_steps == 0 && done < loader.batches())
      c.save_mid_epoch(epoch, done, step, loss_sum);  // the epoch's end saves anyway
    if (c.callbacks.on_progress && leads(o) && (done % std::max<int64_t>(1, o.progress_every) == 0 || done == loader.batches())) {
      const double rate = images / std::max(seconds_since(start), 1e-9);
      c.callbacks.on_progress({epoch + 1, o.epochs, done, loader.batches(), loss_sum / done, lr, rate,
                               double((loader.batches() - done) * o.batch_size) / rate});
    }
  }
  return {done ? loss_sum / done : 0.0, images / std::max(seconds_since(start), 1e-9)};
}

}  // namespace

torch::Device parse_device(const std::string& text) {
  if (text == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  std::unique_ptr<torch::Device> device;
  try {
    device = std::make_unique<torch::Device>(text);
  } catch (const std::exception&) {
    throw std::invalid_argument("device '" + text + "': expected auto, cpu, cuda or cuda:N");
  }
  if (device->is_cuda() && !torch::cuda::is_available())
    throw std::invalid_argument("device '" + text + "': this build or machine has no CUDA device");
  if (!device->is_cuda() && !device->is_cpu()) throw std::invalid_argument("device '" + text + "': expected cpu or cuda");
  return *device;
}

int training_step_threads(const models::EfficientNet& model, const TrainerOptions& o) {
  const int available = at::get_num_threads();
  if (!o.device.is_cpu()) return available;
  return models::training_threads(model->spec, o.batch_size / shards_of(o), o.transform.resolution, available);
}

EvalResult evaluate(models::EfficientNet& model, const ImageDataset& data, const TransformOptions& transform,
                    int64_t batch_size, torch::Device device, ProcessGroup* group) {
  model->eval();
  torch::NoGradGuard no_grad;
  const models::InferenceNet folded(*model);
  BatchLoader loader(data, transform, {batch_size, false, 0, 0, 2, group ? group->rank() : 0, group ? group->size() : 1});
  EvalResult r;
  double loss_sum = 0;
  int64_t top1 = 0, top5 = 0;
  while (auto batch = loader.next()) {
    effscale::base::follow_core_share();
    if (batch->labels.size(0) == 0) continue;  // this rank's share of a short last batch
    const torch::Tensor y = batch->labels.to(device);
    const torch::Tensor logits = folded.forward(batch->images.to(device)).to(torch::kFloat);
    loss_sum += torch::nn::functional::cross_entropy(logits, y, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
    top1 += count_topk_correct(logits, y, 1);
    top5 += count_topk_correct(logits, y, 5);
    r.samples += y.size(0);
  }
  if (group != nullptr) {
    const std::vector<double> totals = sum_over_ranks(*group, {double(top1), double(top5), loss_sum, double(r.samples)});
    top1 = int64_t(totals[0]);
    top5 = int64_t(totals[1]);
    loss_sum = totals[2];
    r.samples = int64_t(totals[3]);
  }
  if (r.samples > 0) {
    r.top1 = double(top1) / r.samples;
    r.top5 = double(top5) / r.samples;
    r.loss = loss_sum / r.samples;
  }
  return r;
}

TrainResult train(models::EfficientNet& model, const ImageDataset& train_set, const ImageDataset& validation,
                  const TrainerOptions& o, const TrainerCallbacks& callbacks) {
  check_options(o, train_set);
  check_precision(o.precision, o.device);
  if (o.group) check_ranks_agree(*o.group, o, train_set, validation, model);
  model->to(o.device);
  if (o.channels_last) model->set_layout(torch::MemoryFormat::ChannelsLast);
  LossScaler scaler(o.precision == Precision::Fp16);
  TrainOptimizer optimizer(split_for_weight_decay(*model), o.optimizer);
  std::unique_ptr<ModelEma> ema = o.ema_decay > 0 ? std::make_unique<ModelEma>(model, o.ema_decay) : nullptr;
  LrScheduleOptions schedule = o.schedule;
  schedule.base_lr = scaled_learning_rate(o.lr_per_256, o.batch_size);
  schedule.steps_per_epoch = train_set.size() / o.batch_size;

  TrainResult result;
  int64_t first_epoch = 0, step = 0, first_batch = 0;
  double loss_sum = 0;
  if (resuming(o)) {
    const CheckpointMeta meta = load_checkpoint(o.checkpoint_path, model, ema ? &ema->model() : nullptr, optimizer);
    first_epoch = meta.epochs_done;
    step = meta.steps_done;
    first_batch = meta.batches_done;  // > 0: saved inside epoch first_epoch + 1
    loss_sum = meta.epoch_loss_sum;
    for (const auto& j : nlohmann::json::parse(meta.history_json)) result.history.push_back(report_from_json(j));
  }
  result.eval_model = ema ? ema->model() : model;
  if (o.group) {  // the replicas start equal (rank 0's), whatever each rank built or loaded
    broadcast_module(*o.group, *model);
    if (ema) broadcast_module(*o.group, *ema->model());
  }
  // Data-parallel: gradients accumulate in one buffer that is averaged in place after each backward pass.
  const std::unique_ptr<FlatGradients> gradients = o.group ? std::make_unique<FlatGradients>(model->parameters()) : nullptr;
  // Each rank's batch norm sees only its share of the batches: its statistics are averaged before they are
  // evaluated or saved.
  const auto average_statistics = [&] {
    if (!o.group) return;
    average_buffers(*o.group, *model);
    if (ema) average_buffers(*o.group, *ema->model());
  };
  const auto save = [&](const CheckpointMeta& meta) {
    if (!o.checkpoint_path.empty() && leads(o))
      save_checkpoint(o.checkpoint_path, model, ema ? &ema->model() : nullptr, optimizer, meta);
  };
  const EpochContext context{model, optimizer, ema.get(), train_set, o, schedule, scaler, gradients.get(), callbacks,
                             [&](int64_t epoch, int64_t batches_done, int64_t at_step, double sum) {
                               average_statistics();
                               save({epoch, at_step, history_json(result.history), batches_done, sum});
                             }};
  for (int64_t epoch = first_epoch; epoch < o.epochs; ++epoch) {
    const auto start = Clock::now();
    const bool resumed = epoch == first_epoch;
    const auto [loss, rate] = run_epoch(context, epoch, step, resumed ? first_batch : 0, resumed ? loss_sum : 0.0);
    EpochReport report;
    report.epoch = epoch + 1;
    report.epochs = o.epochs;
    report.train_loss = loss;
    report.images_per_second = rate;
    report.lr = learning_rate(schedule, std::max<int64_t>(0, step - 1));
    average_statistics();
    recalibrate_batch_norm(result.eval_model, train_set, o.transform, o.bn_recalibration_batches, o.batch_size, o.device,
                           mix_seed(o.seed, static_cast<uint64_t>(epoch), 0xb17));
    report.validation = evaluate(result.eval_model, validation, o.transform, o.batch_size, o.device, o.group.get());
    report.seconds = seconds_since(start);
    result.history.push_back(report);
    // Report before checkpointing: a run killed in between repeats the epoch and reports it again (a
    // report of the same epoch replaces the earlier one), so no epoch is ever missing from the record.
    bool go_on = !leads(o) || !callbacks.on_epoch || callbacks.on_epoch(report);
    if (o.group) go_on = sum_over_ranks(*o.group, {o.group->leader() && go_on ? 1.0 : 0.0})[0] > 0;  // the leader's
    save({epoch + 1, step, history_json(result.history)});
    if (!go_on) {
      result.stopped_early = epoch + 1 < o.epochs;
      break;
    }
  }
  return result;
}

}  // namespace effscale::trainers
