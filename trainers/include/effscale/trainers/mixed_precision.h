#pragma once
// Mixed precision and memory format for training: autocast scopes (bf16 on CPU or CUDA, fp16 on CUDA),
// dynamic loss scaling for fp16, and channels_last parameters and inputs.

#include <torch/types.h>

#include <string>

namespace effscale::trainers {

// The precision training computes in. Weights, optimizer state and the loss stay in fp32 in every mode.
enum class Precision { Fp32, Bf16, Fp16 };

// "fp32" (or "none"), "bf16", "fp16"; throws std::invalid_argument naming the bad value.
Precision parse_precision(const std::string& text);

// Throws std::invalid_argument when `precision` cannot run on `device` (fp16 autocast needs CUDA).
void check_precision(Precision precision, const torch::Device& device);

// While alive, ops on `device` run under autocast in bf16 / fp16 (nothing for Fp32); restores the previous
// autocast state and clears the cast cache when the outermost scope ends.
class AutocastScope {
 public:
  AutocastScope(Precision precision, const torch::Device& device);
  ~AutocastScope();
  AutocastScope(const AutocastScope&) = delete;
  AutocastScope& operator=(const AutocastScope&) = delete;

 private:
  bool active_ = false, cuda_ = false, was_enabled_ = false;
  at::ScalarType previous_dtype_ = at::kFloat;
};

// Dynamic loss scaling for fp16 (as torch.cuda.amp.GradScaler): the loss is multiplied by scale() before
// backward; unscale_and_check() divides the gradients by it and reports whether they are all finite; update()
// halves the scale after an overflow and doubles it after `growth_interval` clean steps.
class LossScaler {
 public:
  explicit LossScaler(bool enabled, double initial_scale = 65536.0, int64_t growth_interval = 2000);
  bool enabled() const { return enabled_; }
  double scale() const { return enabled_ ? scale_ : 1.0; }
  // Divides every gradient of `params` by scale(); true when every gradient is finite (the step may be taken).
  bool unscale_and_check(const std::vector<torch::Tensor>& params);
  // Adjusts the scale after a step attempt (`finite`: the gradients were finite).
  void update(bool finite);

 private:
  bool enabled_;
  double scale_;
  int64_t growth_interval_, clean_steps_ = 0;
};

// Whether a run trains in channels_last: `choice` "on", "off", or "auto": on for the CPU (LibTorch's oneDNN
// kernels train EfficientNets 1.3-2.2x faster in it, docs/benchmarks.md), off elsewhere until measured.
// Throws std::invalid_argument naming a bad choice.
bool resolve_channels_last(const std::string& choice, const torch::Device& device);

// `x` in channels_last format when `channels_last` and x is 4-D; x otherwise.
torch::Tensor to_memory_format(const torch::Tensor& x, bool channels_last);

}  // namespace effscale::trainers
