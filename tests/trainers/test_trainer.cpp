// The training loop: resume gives identical weights, divergence stops with a reason, checkpoints refuse
// other models, callbacks stop early, and a small net really learns Fashion-MNIST.

#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <filesystem>

#include "effscale/models/official.h"
#include "effscale/trainers/dataset_readers.h"
#include "effscale/trainers/trainer.h"
#include "temp_dir.h"
#include "tiny_training.h"

using namespace effscale::trainers;
namespace m = effscale::models;

using namespace effscale::testing;

TEST_CASE("2 epochs in one go and 1 + resume + 1 give identical weights", "[trainers][resume]") {
  const bool channels_last = GENERATE(false, true);
  INFO("channels_last " << channels_last);
  effscale::testing::TempDir dir;
  const ImageDataset train_set = synthetic(96, 1), val = synthetic(32, 2);
  const auto tiny_options = [&](const std::string& checkpoint) {
    TrainerOptions o = effscale::testing::tiny_options(checkpoint);
    o.channels_last = channels_last;
    return o;
  };

  torch::manual_seed(3);
  m::EfficientNet straight(tiny_spec(4));
  const TrainResult full = train(straight, train_set, val, tiny_options(dir.file("straight.pt")));
  REQUIRE(full.history.size() == 2);

  TrainerOptions first = tiny_options(dir.file("resumed.pt"));
  first.epochs = 1;
  torch::manual_seed(3);
  m::EfficientNet part(tiny_spec(4));
  train(part, train_set, val, first);  // "killed" after epoch 1: only the checkpoint survives

  torch::manual_seed(99);  // a different process: other initial weights and RNG, all overwritten
  m::EfficientNet resumed(tiny_spec(4));
  TrainerOptions second = tiny_options(dir.file("resumed.pt"));
  second.resume = true;
  const TrainResult rest = train(resumed, train_set, val, second);
  REQUIRE(rest.history.size() == 2);
  CHECK(rest.history[0].train_loss == full.history[0].train_loss);
  CHECK(rest.history[1].validation.top1 == full.history[1].validation.top1);
  check_same_state(*straight, *resumed);
  check_same_state(*full.eval_model, *rest.eval_model);  // the EMA copy too

  // Resuming a finished run trains nothing more.
  const TrainResult again = train(resumed, train_set, val, second);
  CHECK(again.history.size() == 2);
  check_same_state(*straight, *resumed);
}

TEST_CASE("a run killed after a mid-epoch checkpoint resumes there with identical weights", "[trainers][resume]") {
  effscale::testing::TempDir dir;
  const ImageDataset train_set = synthetic(96, 1), val = synthetic(32, 2);  // 6 steps an epoch
  const auto options = [&](const std::string& checkpoint) {
    TrainerOptions o = tiny_options(checkpoint);
    o.checkpoint_every_steps = 4;
    o.progress_every = 1;
    return o;
  };
  torch::manual_seed(3);
  m::EfficientNet straight(tiny_spec(4));
  const TrainResult full = train(straight, train_set, val, options(dir.file("straight.pt")));

  // "Killed" at step 10 (epoch 2, batch 4): the checkpoint of step 8 (epoch 2, batch 2) survives.
  TrainerCallbacks kill;
  kill.on_progress = [](const StepProgress& p) {
    if (p.epoch == 2 && p.step == 4) throw std::runtime_error("killed");
  };
  torch::manual_seed(3);
  m::EfficientNet part(tiny_spec(4));
  CHECK_THROWS_WITH(train(part, train_set, val, options(dir.file("resumed.pt")), kill), "killed");
  torch::manual_seed(99);
  m::EfficientNet resumed(tiny_spec(4));
  TrainerOptions again = options(dir.file("resumed.pt"));
  again.resume = true;
  int first_step_seen = 0;
  TrainerCallbacks watch;
  watch.on_progress = [&](const StepProgress& p) {
    if (first_step_seen == 0) first_step_seen = int(p.epoch * 100 + p.step);
  };
  const TrainResult rest = train(resumed, train_set, val, again, watch);
  CHECK(first_step_seen == 203);  // epoch 2 went on from its batch 3
  REQUIRE(rest.history.size() == 2);
  CHECK(rest.history[1].train_loss == full.history[1].train_loss);  // the mean over the whole epoch
  check_same_state(*straight, *resumed);
  check_same_state(*full.eval_model, *rest.eval_model);
}

TEST_CASE("a checkpoint refuses another model, and a damaged one names the file", "[trainers][resume]") {
  effscale::testing::TempDir dir;
  const ImageDataset train_set = synthetic(32, 1);
  TrainerOptions o = tiny_options(dir.file("ckpt.pt"));
  o.epochs = 1;
  m::EfficientNet model(tiny_spec(4));
  train(model, train_set, train_set, o);
  m::ArchSpec other = tiny_spec(4);
  other.width_mult = 0.5;
  m::EfficientNet wider(other);
  o.resume = true;
  CHECK_THROWS_WITH(train(wider, train_set, train_set, o), Catch::Contains("written for another model"));
  dir.write("ckpt.pt", "not a checkpoint");
  CHECK_THROWS_WITH(train(model, train_set, train_set, o), Catch::Contains("ckpt.pt") && Catch::Contains("cannot be read"));
}

TEST_CASE("a non-finite loss stops the run with the reason", "[trainers][train]") {
  const ImageDataset train_set = synthetic(64, 1);
  TrainerOptions o = tiny_options("");
  o.lr_per_256 = 1e30;
  o.schedule.warmup_epochs = 0;
  o.optimizer.kind = OptimizerKind::SgdNesterov;
  o.epochs = 3;
  m::EfficientNet model(tiny_spec(4));
  CHECK_THROWS_AS(train(model, train_set, train_set, o), TrainingDiverged);
  CHECK_THROWS_WITH(train(model, train_set, train_set, o), Catch::Contains("the loss became"));
}

TEST_CASE("the epoch callback sees every epoch and can stop the run", "[trainers][train]") {
  const ImageDataset train_set = synthetic(32, 1);
  TrainerOptions o = tiny_options("");
  o.epochs = 5;
  int seen = 0, progress = 0;
  TrainerCallbacks callbacks;
  callbacks.on_progress = [&](const StepProgress& p) { progress += p.step > 0; };
  callbacks.on_epoch = [&](const EpochReport& r) { return ++seen < 2 && r.epoch == seen; };
  m::EfficientNet model(tiny_spec(4));
  const TrainResult r = train(model, train_set, train_set, o, callbacks);
  CHECK(seen == 2);
  CHECK(r.history.size() == 2);
  CHECK(r.stopped_early);
  CHECK(progress >= 2);
  CHECK_THROWS_WITH(train(model, synthetic(8, 1), train_set, o), Catch::Contains("smaller than one batch"));
}

TEST_CASE("a small B0-derived net learns Fashion-MNIST", "[trainers][learning]") {
  const DatasetFiles files = load_named_dataset("fashion-mnist", "");
  const TrainValidationSplit split = split_validation(take_subset(files.train, 6000, 0), 0.25, 0);
  m::ArchSpec spec = tiny_spec(10);
  spec.resolution = 28;
  torch::manual_seed(0);
  m::EfficientNet model(spec);
  TrainerOptions o;
  o.epochs = 3;
  o.batch_size = 64;
  o.lr_per_256 = 0.4;
  o.optimizer.kind = OptimizerKind::SgdNesterov;
  o.label_smoothing = 0;
  o.schedule.warmup_epochs = 1;
  o.ema_decay = 0;
  o.bn_recalibration_batches = 10;
  o.transform.resolution = 28;
  o.transform.channels = 1;
  o.transform.crop_min_area = 1.0;
  o.transform.eval_crop = 1.0;
  const TrainResult r = train(model, split.train, split.validation, o);
  INFO("validation top-1 after 3 epochs on 4500 images: " << r.history.back().validation.top1);
  // Chance is 0.10. Over model seeds 0-5 this run reached 0.713-0.787 (mean 0.750, sd 0.025; 2026-12-02), and a change
  // of float rounding alone moves seed 0 within that spread (0.72 was once its floor here and failed so): the floor
  // sits about three sd below the mean, far above what a broken step learns.
  CHECK(r.history.back().validation.top1 >= 0.65);
}

TEST_CASE("bf16 autocast and channels_last train on the CPU, fp16 asks for CUDA", "[trainers][precision]") {
  const ImageDataset train_set = synthetic(96, 1), val = synthetic(32, 2);
  auto run = [&](Precision precision, bool channels_last) {
    torch::manual_seed(3);
    m::EfficientNet model(tiny_spec(4));
    TrainerOptions o = tiny_options("");
    o.epochs = 1;
    o.precision = precision;
    o.channels_last = channels_last;
    const TrainResult r = train(model, train_set, val, o);
    return std::make_pair(r.history.back().train_loss, model);
  };
  const auto [fp32_loss, fp32_model] = run(Precision::Fp32, false);
  const auto [bf16_loss, bf16_model] = run(Precision::Bf16, false);
  const auto [cl_loss, cl_model] = run(Precision::Fp32, true);
  CHECK(std::isfinite(bf16_loss));
  CHECK(bf16_loss != fp32_loss);                                   // autocast really changed the arithmetic
  CHECK(bf16_loss == Approx(fp32_loss).epsilon(0.05));             // ... by rounding, not by breaking training
  CHECK(cl_loss == Approx(fp32_loss).epsilon(1e-4));               // memory format changes no values
  for (const auto& p : bf16_model->parameters()) CHECK(p.scalar_type() == torch::kFloat);  // fp32 master weights
  const torch::Tensor stem = cl_model->conv_stem->weight;
  CHECK(stem.is_contiguous(torch::MemoryFormat::ChannelsLast));

  m::EfficientNet model(tiny_spec(4));
  TrainerOptions o = tiny_options("");
  o.precision = Precision::Fp16;
  CHECK_THROWS_WITH(train(model, train_set, val, o), Catch::Contains("fp16 mixed precision needs a CUDA device"));
  CHECK_THROWS_WITH(parse_precision("fp8"), Catch::Contains("precision 'fp8'"));
}

TEST_CASE("the fp16 loss scaler backs off on overflow and grows after clean steps", "[trainers][precision]") {
  LossScaler scaler(true, 1024.0, 3);
  torch::Tensor p = torch::ones({2}, torch::requires_grad());
  p.mutable_grad() = torch::tensor({2048.0f, -1024.0f});
  CHECK(scaler.unscale_and_check({p}));
  CHECK(torch::equal(p.grad(), torch::tensor({2.0f, -1.0f})));
  p.mutable_grad() = torch::tensor({INFINITY, 1.0f});
  CHECK_FALSE(scaler.unscale_and_check({p}));
  scaler.update(false);
  CHECK(scaler.scale() == 512.0);
  for (int i = 0; i < 3; ++i) scaler.update(true);
  CHECK(scaler.scale() == 1024.0);
  CHECK(LossScaler(false).scale() == 1.0);
}
