#pragma once
// ArchSpec: a whole EfficientNet-style network as data. Everything else (search, scaling, training,
// the study database) passes these around; the torch modules are built from one.

#include <array>
#include <string>
#include <vector>

#include "effscale/models/block_args.h"

namespace effscale::models {

// How convolutions pad. Symmetric pads (k - 1) / 2 on every side (torchvision, timm `efficientnet_*`);
// TfSame pads like TensorFlow's 'same' (the extra row/column goes bottom/right for stride 2 on even
// sizes; timm `tf_efficientnet_*`, the TF reference).
enum class Padding { Symmetric, TfSame };

// Batch-norm hyper-parameters in PyTorch's sense (momentum weighs the *new* batch statistic).
// The TF reference's 0.99 decay is momentum 0.01 here.
struct BatchNormConfig {
  double eps = 1e-3;       // added to the variance
  double momentum = 0.01;  // running = (1 - momentum) * running + momentum * batch
};

// The most classifier outputs a spec may have (ImageNet-21k has 21,841).
inline constexpr int kMaxClasses = 1000000;

// A network: stem conv, stages of MBConv blocks, head conv, pooling, dropout, classifier.
// Block filters, stem and head filters are reference values; width_mult / depth_mult scale them with
// round_filters / round_repeats when the network is realized (see plan_layers in layer_plan.h).
struct ArchSpec {
  std::string name = "custom";       // free-form label (official ones: b0..b7, b8, l2)
  std::vector<BlockArgs> stages;     // one BlockArgs per stage, in order; must chain (see validate)
  int stem_filters = 32;             // 3x3 stride-2 stem conv output, before width rounding (1..kMaxFilters)
  int head_filters = 1280;           // 1x1 head conv output, before width rounding (1..kMaxFilters)
  double width_mult = 1.0;           // channel multiplier (> 0)
  double depth_mult = 1.0;           // repeat multiplier (> 0)
  int depth_divisor = 8;             // channels are rounded to multiples of this (>= 1)
  int resolution = 224;              // native square input size (>= 8)
  double dropout = 0.2;              // dropout before the classifier, in [0, 1)
  double drop_connect = 0.2;         // stochastic-depth rate of the last block, in [0, 1)
  int num_classes = 1000;            // classifier outputs (1..kMaxClasses)
  int in_channels = 3;               // input image channels (1..kMaxFilters)
  BatchNormConfig bn;                // batch-norm eps / momentum
  Padding padding = Padding::Symmetric;

  friend bool operator==(const ArchSpec& a, const ArchSpec& b);
  friend bool operator!=(const ArchSpec& a, const ArchSpec& b) { return !(a == b); }
};

// Throws SpecError naming the first invalid field: a range above, no stages, a stage whose
// input_filters differs from the previous stage's output_filters (the first stage's from
// stem_filters), or a block field out of range.
void validate(const ArchSpec& spec);

// Stem and head channels after width rounding.
int realized_stem_filters(const ArchSpec& spec);
int realized_head_filters(const ArchSpec& spec);

// The stages as built: filters through round_filters, repeats through round_repeats.
std::vector<BlockArgs> realized_stages(const ArchSpec& spec);

// Names of the padding conventions as written in spec files: "symmetric", "tf_same".
std::string padding_name(Padding padding);
// Inverse of padding_name; throws SpecError naming the bad value.
Padding parse_padding(const std::string& name);

}  // namespace effscale::models
