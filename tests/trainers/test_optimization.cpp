// The recipe's numerics against values computed by hand or by torch::optim: RMSProp-TF, SGD-Nesterov,
// AdamW, weight-decay groups, schedules, label smoothing, top-k, EMA.

#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <cmath>

#include "effscale/models/official.h"
#include "effscale/trainers/losses.h"
#include "effscale/trainers/lr_schedule.h"
#include "effscale/trainers/model_ema.h"
#include "effscale/trainers/train_optimizer.h"

using namespace effscale::trainers;

namespace {

// One scalar parameter with gradient g.
torch::Tensor scalar_param(double value, double grad) {
  torch::Tensor p = torch::tensor({value}, torch::kDouble).requires_grad_(true);
  p.mutable_grad() = torch::tensor({grad}, torch::kDouble);
  return p;
}

}  // namespace

TEST_CASE("RMSProp-TF: epsilon inside the root, square average starting at one", "[trainers][optimizer]") {
  torch::Tensor p = scalar_param(1.0, 0.5);
  OptimizerOptions o;
  o.weight_decay = 0.1;
  TrainOptimizer opt({{p}, {}}, o);
  opt.step(0.01);
  // g = 0.5 + 0.1 * 1 = 0.6; s = 1 + 0.1 (0.36 - 1) = 0.936; b = 0.01 * 0.6 / sqrt(0.937); p = 1 - b
  const double g = 0.6, s = 0.936, b = 0.01 * g / std::sqrt(s + 1e-3);
  CHECK(p.item<double>() == Approx(1.0 - b).epsilon(1e-12));
  p.mutable_grad() = torch::tensor({0.5}, torch::kDouble);
  opt.step(0.02);
  const double g2 = 0.5 + 0.1 * (1.0 - b), s2 = s + 0.1 * (g2 * g2 - s), b2 = 0.9 * b + 0.02 * g2 / std::sqrt(s2 + 1e-3);
  CHECK(p.item<double>() == Approx(1.0 - b - b2).epsilon(1e-12));
}

TEST_CASE("SGD-Nesterov and AdamW match torch::optim", "[trainers][optimizer]") {
  for (OptimizerKind kind : {OptimizerKind::SgdNesterov, OptimizerKind::AdamW}) {
    INFO(optimizer_kind_name(kind));
    torch::manual_seed(0);
    torch::Tensor ours = torch::randn({5}, torch::kDouble).requires_grad_(true);
    torch::Tensor theirs = ours.detach().clone().requires_grad_(true);
    OptimizerOptions o;
    o.kind = kind;
    o.weight_decay = 0.01;
    o.eps = 1e-8;
    TrainOptimizer opt({{ours}, {}}, o);
    std::unique_ptr<torch::optim::Optimizer> ref;
    if (kind == OptimizerKind::SgdNesterov)
      ref = std::make_unique<torch::optim::SGD>(std::vector<torch::Tensor>{theirs},
                                                torch::optim::SGDOptions(0.1).momentum(0.9).nesterov(true).weight_decay(0.01));
    else
      ref = std::make_unique<torch::optim::AdamW>(std::vector<torch::Tensor>{theirs},
                                                  torch::optim::AdamWOptions(0.1).weight_decay(0.01).eps(1e-8));
    for (int step = 0; step < 4; ++step) {
      const torch::Tensor g = torch::randn({5}, torch::kDouble);
      ours.mutable_grad() = g.clone();
      theirs.mutable_grad() = g.clone();
      opt.step(0.1);
      ref->step();
    }
    CHECK(torch::allclose(ours, theirs, 1e-10, 1e-12));
  }
}

TEST_CASE("batch-norm parameters do not decay", "[trainers][optimizer]") {
  auto spec = effscale::models::official("b0");
  spec.width_mult = 0.25;
  effscale::models::EfficientNet model(spec);
  const ParameterGroups groups = split_for_weight_decay(*model);
  CHECK(groups.not_decayed.size() == 2 * 49);  // weight and bias of each of B0's 49 BN layers
  CHECK(groups.decayed.size() + groups.not_decayed.size() == model->parameters().size());
}

TEST_CASE("optimizer state round trips through an archive", "[trainers][optimizer]") {
  torch::Tensor p = scalar_param(1.0, 0.5), q = scalar_param(1.0, 0.5);
  TrainOptimizer a({{p}, {}}, {}), b({{q}, {}}, {});
  a.step(0.01);
  torch::serialize::OutputArchive out;
  a.save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  std::istringstream in_bytes(bytes.str());
  torch::serialize::InputArchive in;
  in.load_from(in_bytes);
  b.load(in);
  {
    torch::NoGradGuard no_grad;
    q.copy_(p);
  }
  a.step(0.01);
  b.step(0.01);
  CHECK(p.item<double>() == q.item<double>());
}

TEST_CASE("schedules: linear warmup, staircase decay every 2.4 epochs, cosine", "[trainers][schedule]") {
  LrScheduleOptions o;
  o.base_lr = 0.256;
  o.warmup_epochs = 5;
  o.steps_per_epoch = 10;
  CHECK(learning_rate(o, 0) == Approx(0.256 / 50));
  CHECK(learning_rate(o, 49) == Approx(0.256));
  CHECK(learning_rate(o, 50) == Approx(0.256 * std::pow(0.97, 2)));  // epoch 5: floor(5 / 2.4) = 2
  CHECK(learning_rate(o, 72) == Approx(0.256 * std::pow(0.97, 3)));  // epoch 7.2
  CHECK(learning_rate(o, 71) == Approx(0.256 * std::pow(0.97, 2)));
  o.kind = ScheduleKind::Cosine;
  o.total_epochs = 15;
  CHECK(learning_rate(o, 50) == Approx(0.256));
  CHECK(learning_rate(o, 100) == Approx(0.128));
  CHECK(learning_rate(o, 150) == Approx(0.0).margin(1e-12));
  CHECK(parse_schedule_kind("cosine") == ScheduleKind::Cosine);
  CHECK(parse_schedule_kind("exponential") == ScheduleKind::Exponential);
  CHECK_THROWS_WITH(parse_schedule_kind("linear"), Catch::Contains("'linear'"));
  CHECK(scaled_learning_rate(0.016, 4096) == Approx(0.256));
}

TEST_CASE("label smoothing and top-k by hand", "[trainers][loss]") {
  const torch::Tensor logits = torch::tensor({{2.0, 0.0, -1.0}}, torch::kDouble);
  const torch::Tensor target = torch::tensor({0}, torch::kLong);
  const torch::Tensor logp = torch::log_softmax(logits, 1);
  const double nll = -logp[0][0].item<double>(), uniform = -logp.mean().item<double>();
  CHECK(label_smoothing_cross_entropy(logits, target, 0.1).item<double>() == Approx(0.9 * nll + 0.1 * uniform));
  CHECK(label_smoothing_cross_entropy(logits, target, 0.0).item<double>() == Approx(nll));
  const torch::Tensor batch = torch::tensor({{0.1, 0.9, 0.0}, {0.8, 0.1, 0.05}}, torch::kDouble);
  const torch::Tensor labels = torch::tensor({2, 0}, torch::kLong);
  CHECK(count_topk_correct(batch, labels, 1) == 1);
  CHECK(count_topk_correct(batch, labels, 2) == 1);
  CHECK(count_topk_correct(batch, labels, 5) == 2);
}

TEST_CASE("EMA warms up on the step count and averages BN statistics", "[trainers][ema]") {
  auto spec = effscale::models::official("b0");
  spec.width_mult = 0.25;
  spec.depth_mult = 0.25;
  spec.num_classes = 2;
  effscale::models::EfficientNet model(spec);
  ModelEma ema(model, 0.9999);
  const torch::Tensor before = ema.model()->classifier->weight.clone();
  {
    torch::NoGradGuard no_grad;
    model->classifier->weight.add_(1.0);
    model->bn1->running_mean.fill_(2.0);
  }
  ema.update(model, 0);  // decay min(0.9999, 1 / 10) = 0.1
  CHECK(torch::allclose(ema.model()->classifier->weight, before + 0.9));
  CHECK(ema.model()->bn1->running_mean[0].item<double>() == Approx(1.8));
  ema.update(model, 1000000);  // decay 0.9999
  CHECK(ema.model()->bn1->running_mean[0].item<double>() == Approx(1.8 + 0.0001 * 0.2));
}
