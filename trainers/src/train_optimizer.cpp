#include "effscale/trainers/train_optimizer.h"

#include <torch/torch.h>

#include <cmath>
#include <optional>
#include <set>
#include <stdexcept>

namespace effscale::trainers {

OptimizerKind parse_optimizer_kind(const std::string& name) {
  if (name == "rmsprop_tf") return OptimizerKind::RmsPropTf;
  if (name == "sgd") return OptimizerKind::SgdNesterov;
  if (name == "adamw") return OptimizerKind::AdamW;
  throw std::invalid_argument("optimizer '" + name + "': expected rmsprop_tf, sgd or adamw");
}

std::string optimizer_kind_name(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::RmsPropTf: return "rmsprop_tf";
    case OptimizerKind::SgdNesterov: return "sgd";
    case OptimizerKind::AdamW: return "adamw";
  }
  return "";
}

ParameterGroups split_for_weight_decay(const torch::nn::Module& model) {
  std::set<const void*> batch_norm;
  for (const auto& m : model.modules())
    if (m->as<torch::nn::BatchNorm2dImpl>())
      for (const auto& p : m->parameters(/*recurse=*/false)) batch_norm.insert(p.unsafeGetTensorImpl());
  ParameterGroups groups;
  for (const auto& p : model.parameters())
    (batch_norm.count(p.unsafeGetTensorImpl()) ? groups.not_decayed : groups.decayed).push_back(p);
  return groups;
}

TrainOptimizer::TrainOptimizer(ParameterGroups groups, OptimizerOptions options) : options_(options) {
  for (auto& p : groups.decayed) {
    params_.push_back(p);
    decays_.push_back(true);
  }
  for (auto& p : groups.not_decayed) {
    params_.push_back(p);
    decays_.push_back(false);
  }
  for (const auto& p : params_) {
    const bool rms = options_.kind == OptimizerKind::RmsPropTf;
    slot_a_.push_back(rms ? torch::ones_like(p) : torch::zeros_like(p));
    slot_b_.push_back(torch::zeros_like(p));
  }
}

void TrainOptimizer::zero_grad() {
  for (auto& p : params_)
    if (p.grad().defined()) p.mutable_grad().zero_();
}

namespace {

// The step's constants as 0-dim CPU tensors of the parameters' type (double or float), the operands of mul_,
// add and div below: LibTorch 1.13 turns a double Scalar operand of those into a double tensor and converts it
// with a _to_copy on every call (about 7 us each, one per parameter per step: 10% of an evidence-proxy step in the
// op profile), where a 0-dim tensor of the operand's own type is used as it is. Same value (the double rounded to
// the parameters' type either way), so the same results bit for bit.
struct StepScalars {
  torch::Tensor momentum, eps, beta1, beta2, c2, decay;  // decay: AdamW's 1 - lr * weight_decay
  StepScalars(const OptimizerOptions& o, int64_t steps, double lr, torch::ScalarType type)
      : momentum(of(o.momentum, type)), eps(of(o.eps, type)), beta1(of(o.beta1, type)), beta2(of(o.beta2, type)),
        c2(of(1.0 - std::pow(o.beta2, double(steps)), type)), decay(of(1.0 - lr * o.weight_decay, type)) {}
  static torch::Tensor of(double value, torch::ScalarType type) {
    return torch::scalar_tensor(value, torch::dtype(type));
  }
};

}  // namespace

void TrainOptimizer::step(double lr) {
  torch::NoGradGuard no_grad;
  ++steps_;
  const OptimizerOptions& o = options_;
  std::optional<StepScalars> scalars;  // for the parameters' type (made again for a parameter of another)
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor& p = params_[i];
    if (!p.grad().defined()) continue;
    const double wd = decays_[i] ? o.weight_decay : 0.0;
    torch::Tensor g = p.grad();
    // A double or float parameter's own type; float (the type LibTorch computes a reduced-precision tensor's
    // scalar operands in) for the others.
    const torch::ScalarType type = p.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
    if (!scalars || scalars->momentum.scalar_type() != type) scalars.emplace(o, steps_, lr, type);
    const auto& [momentum, eps, beta1, beta2, c2, decay] = *scalars;
    switch (o.kind) {
      case OptimizerKind::RmsPropTf: {
        if (wd != 0) g = g.add(p, wd);
        slot_a_[i].add_(g.square().sub_(slot_a_[i]), 1.0 - o.rms_decay);
        slot_b_[i].mul_(momentum).addcdiv_(g, slot_a_[i].add(eps).sqrt_(), lr);
        p.sub_(slot_b_[i]);
        break;
      }
      case OptimizerKind::SgdNesterov: {
        if (wd != 0) g = g.add(p, wd);
        slot_a_[i].mul_(momentum).add_(g);
        p.sub_(g.add(slot_a_[i], o.momentum), lr);
        break;
      }
      case OptimizerKind::AdamW: {
        if (wd != 0) p.mul_(decay);
        slot_a_[i].mul_(beta1).add_(g, 1.0 - o.beta1);
        slot_b_[i].mul_(beta2).addcmul_(g, g, 1.0 - o.beta2);
        const double c1 = 1.0 - std::pow(o.beta1, double(steps_));
        p.addcdiv_(slot_a_[i], slot_b_[i].div(c2).sqrt_().add_(eps), -lr / c1);
        break;
      }
    }
  }
}

void TrainOptimizer::save(torch::serialize::OutputArchive& archive) const {
  archive.write("optimizer/kind", torch::tensor(static_cast<int64_t>(options_.kind)));
  archive.write("optimizer/steps", torch::tensor(steps_));
  archive.write("optimizer/count", torch::tensor(static_cast<int64_t>(params_.size())));
  for (size_t i = 0; i < params_.size(); ++i) {
    archive.write("optimizer/a/" + std::to_string(i), slot_a_[i], /*is_buffer=*/true);
    archive.write("optimizer/b/" + std::to_string(i), slot_b_[i], /*is_buffer=*/true);
  }
}

void TrainOptimizer::load(torch::serialize::InputArchive& archive) {
  torch::Tensor kind, steps, count;
  archive.read("optimizer/kind", kind);
  archive.read("optimizer/steps", steps);
  archive.read("optimizer/count", count);
  if (kind.item<int64_t>() != static_cast<int64_t>(options_.kind) || count.item<int64_t>() != int64_t(params_.size()))
    throw std::invalid_argument("the checkpoint's optimizer state is for another optimizer or model");
  steps_ = steps.item<int64_t>();
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < params_.size(); ++i) {
    torch::Tensor a, b;
    archive.read("optimizer/a/" + std::to_string(i), a, /*is_buffer=*/true);
    archive.read("optimizer/b/" + std::to_string(i), b, /*is_buffer=*/true);
    if (!a.sizes().equals(slot_a_[i].sizes())) throw std::invalid_argument("the checkpoint's optimizer state has other shapes");
    slot_a_[i].copy_(a);
    slot_b_[i].copy_(b);
  }
}

}  // namespace effscale::trainers
