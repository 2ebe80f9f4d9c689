#pragma once
// How other implementations name EfficientNet tensors and which BN / padding conventions their weights
// assume (docs/weights.md), so their files load into our modules and compute the same function.

#include <string>
#include <vector>

#include "effscale/models/arch_spec.h"
#include "effscale/models/layer_plan.h"

namespace effscale::models {

// Naming schemes of weight files. Effscale and Timm share names (ours follow timm); they differ in the
// conventions with_weight_conventions applies.
enum class WeightFormat { Effscale, Timm, Torchvision };

// "effscale", "timm", "torchvision" <-> WeightFormat; parse throws SpecError naming the bad value.
WeightFormat parse_weight_format(const std::string& text);
std::string weight_format_name(WeightFormat format);

// Translates our parameter and buffer names (conv_stem.weight, blocks.S.J.conv_dw.weight, bn2.running_var,
// ...) to another implementation's names for one network.
class WeightNaming {
 public:
  // `spec` is the network whose tensors are named; throws SpecError when it is invalid.
  WeightNaming(const ArchSpec& spec, WeightFormat format);
  // The name `format` uses for our `name`; throws WeightsError when `name` is not one of the network's.
  std::string external(const std::string& name) const;

 private:
  std::string torchvision(const std::string& name) const;
  WeightFormat format_;
  std::vector<LayerPlan> plan_;
  int stages_;
};

// `spec` with the batch-norm eps / momentum and padding under which weights from `format` were trained:
// torchvision symmetric padding, eps 1e-5 / momentum 0.1, except models named b5, b6, b7 (1e-3 / 0.01);
// timm `efficientnet_*` symmetric, 1e-5 / 0.1; timm `tf_efficientnet_*` (tf_variant) TF 'same', 1e-3 / 0.1;
// effscale: unchanged (our files carry their spec).
ArchSpec with_weight_conventions(ArchSpec spec, WeightFormat format, bool tf_variant);

}  // namespace effscale::models
