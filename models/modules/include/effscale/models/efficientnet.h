#pragma once
// EfficientNet: the torch module an ArchSpec describes.

#include <torch/nn/cloneable.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/pimpl.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "effscale/models/arch_spec.h"
#include "effscale/models/counts.h"  // kMaxModuleParams
#include "effscale/models/mbconv.h"

namespace effscale::models {

// stem (3x3 stride-2 conv + BN + swish), the MBConv layers of plan_layers(spec), head (1x1 conv + BN +
// swish), global average pool, dropout, linear classifier. Parameter names follow timm: conv_stem, bn1,
// blocks.S.J.*, conv_head, bn2, classifier. Weights are initialised as in the TF reference: conv
// normal(0, sqrt(2 / fan_out)) with fan_out = k * k * out / groups, classifier uniform(+-1 / sqrt(out)),
// biases zero, BN weight 1 and bias 0. Weights and the dropout / drop-connect masks come from the model's own
// generators, seeded with `seed` (drawn from LibTorch's global generator when not given, so torch::manual_seed
// still decides it): a model built with a seed is the same whatever other threads do.
// Throws SpecError when the spec is invalid or has more than kMaxModuleParams parameters.
class EfficientNetImpl : public torch::nn::Cloneable<EfficientNetImpl> {
 public:
  explicit EfficientNetImpl(ArchSpec spec, std::optional<uint64_t> seed = std::nullopt);
  // Builds the modules (holding global_generator_mutex(), as their constructors draw from the global
  // generator), initialises them from `seed` and starts `noise` afresh; called by the constructor and by
  // clone(), so a clone draws its own masks.
  void reset() override;
  // x: [N, in_channels, H, W] (any H, W >= 1) -> logits [N, num_classes].
  torch::Tensor forward(const torch::Tensor& x);
  // x -> head activations [N, head_filters, ceil(H / 32), ceil(W / 32)] (before pooling).
  torch::Tensor forward_features(const torch::Tensor& x);
  // Re-applies the TF reference initialisation to every parameter, from a generator seeded with `seed`.
  void init_weights();
  // Zeroes the weight (gamma) of the last batch norm of every block with a shortcut (residual or pooling) and a
  // projection, so each such block starts as its shortcut: the network starts as shallow as its layout allows
  // (Goyal et al. 2017, "zero-init residual"; torchvision's zero_init_residual, timm's zero_init_last). Returns how
  // many blocks it changed.
  int zero_init_residual_branches();
  // The MBConv layers in forward order (shared with `blocks`; a fresh list on every call, so it stays
  // right after clone() or load, which replace the modules inside `blocks`).
  std::vector<MBConv> layers() const;
  // Gives every 4-D parameter and buffer the strides of `format` in place (values unchanged: in_layout) and keeps
  // the activations in it from the stem's output on (a grey input is in both layouts at once).
  void set_layout(torch::MemoryFormat format);

  ArchSpec spec;
  uint64_t seed = 0;    // the weights' seed (init_weights) and, mixed, the masks' (noise)
  at::Generator noise;  // dropout and drop-connect masks (shared with the blocks); training checkpoints keep its state
  torch::MemoryFormat layout = torch::MemoryFormat::Contiguous;  // of the activations (set_layout); kept by clone()
  Conv2dPad conv_stem{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::ModuleList blocks{nullptr};  // one ModuleList of MBConv per stage (names blocks.S.J)
  Conv2dPad conv_head{nullptr};
  torch::nn::BatchNorm2d bn2{nullptr};
  torch::nn::Linear classifier{nullptr};
};
TORCH_MODULE(EfficientNet);

// `t` (4-D) with the strides `format` gives a fresh tensor of its shape, copied when they differ. Unlike
// t.contiguous(format), this restrides a tensor that is contiguous in both layouts at once (one channel, or a 1x1
// kernel: every depthwise and 1x1 convolution weight), which oneDNN would otherwise run in NCHW: 5x slower to
// train the 28 px grey proxy than channels_last, up to 60x per convolution (measured; docs/benchmarks.md).
torch::Tensor in_layout(const torch::Tensor& t, torch::MemoryFormat format);

// Trainable parameters of a module (those with requires_grad), summed over numel.
int64_t count_module_params(const torch::nn::Module& module);

}  // namespace effscale::models
