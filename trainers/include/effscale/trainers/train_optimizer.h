#pragma once
// TrainOptimizer: the optimizers of the recipe (RMSProp in TF's form, SGD with Nesterov momentum, AdamW)
// over explicit state tensors, with weight decay only on the parameters that should decay.

#include <torch/nn/module.h>
#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <string>
#include <vector>

namespace effscale::trainers {

enum class OptimizerKind { RmsPropTf, SgdNesterov, AdamW };

// "rmsprop_tf", "sgd", "adamw" <-> OptimizerKind; parse throws std::invalid_argument naming the value.
OptimizerKind parse_optimizer_kind(const std::string& name);
std::string optimizer_kind_name(OptimizerKind kind);

// Hyper-parameters; defaults are the paper's RMSProp (docs/training.md).
struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::RmsPropTf;
  double momentum = 0.9;       // RMSProp and SGD momentum
  double rms_decay = 0.9;      // RMSProp: square-average decay
  double eps = 1e-3;           // RMSProp: inside the square root (TF); AdamW: added to sqrt(v) (use 1e-8)
  double weight_decay = 1e-5;  // L2 on decayed parameters (RMSProp, SGD: added to the gradient); AdamW: decoupled
  double beta1 = 0.9, beta2 = 0.999;  // AdamW
};

// Parameters split for weight decay: batch-norm weights and biases do not decay, everything else does.
struct ParameterGroups {
  std::vector<torch::Tensor> decayed;
  std::vector<torch::Tensor> not_decayed;
};
ParameterGroups split_for_weight_decay(const torch::nn::Module& model);

// Update rules (g = gradient, p = parameter, wd on decayed parameters only):
//   RmsPropTf:   g += wd p; s = s + (1 - decay)(g^2 - s) (s starts at 1, as TF); b = momentum b + lr g / sqrt(s + eps); p -= b
//   SgdNesterov: g += wd p; b = momentum b + g; p -= lr (g + momentum b)
//   AdamW:       p *= 1 - lr wd; m, v Adam moments; p -= lr m^ / (sqrt(v^) + eps)
// Parameters without a gradient are skipped. Not thread-safe.
class TrainOptimizer {
 public:
  TrainOptimizer(ParameterGroups groups, OptimizerOptions options);
  // Clears every parameter's gradient.
  void zero_grad();
  // Applies one update with learning rate `lr`.
  void step(double lr);
  // Writes / reads the state (slots and step count) under "optimizer/"; load throws std::invalid_argument
  // when the archive was written for other parameters.
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);
  const OptimizerOptions& options() const { return options_; }

 private:
  std::vector<torch::Tensor> params_;
  std::vector<bool> decays_;
  std::vector<torch::Tensor> slot_a_, slot_b_;  // RMSProp: square avg, momentum; SGD: momentum; AdamW: m, v
  int64_t steps_ = 0;
  OptimizerOptions options_;
};

}  // namespace effscale::trainers
