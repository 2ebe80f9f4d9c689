#pragma once
// The released EfficientNet family (docs/specs.md): B0's block strings and the hand-rounded
// width / depth / resolution / dropout table of B0-B7, B8 and L2.

#include <string>
#include <string_view>
#include <vector>

#include "effscale/models/arch_spec.h"

namespace effscale::models {

// One row of the official scaling table.
struct OfficialScale {
  std::string name;   // "b0" .. "b7", "b8", "l2"
  double width_mult;
  double depth_mult;
  int resolution;
  double dropout;
};

// The official table, in order B0..B7, B8, L2.
const std::vector<OfficialScale>& official_table();

// Names of the official models, in table order.
std::vector<std::string> official_names();

// The searched baseline, EfficientNet-B0: the seven block strings of docs/specs.md, stem 32, head 1280,
// 224 pixels, dropout 0.2, drop-connect 0.2, 1000 classes, TF batch-norm (eps 1e-3, momentum 0.01),
// symmetric padding.
ArchSpec efficientnet_b0();

// The official model `name` ("b0".."b7", "b8", "l2"; case-insensitive, an "efficientnet-" or
// "efficientnet_" prefix is accepted): B0 with the table's multipliers, resolution and dropout.
// Throws SpecError listing the known names for anything else.
ArchSpec official(std::string_view name);

// True when `name` names an official model (same spelling rules as official()).
bool is_official_name(std::string_view name);

}  // namespace effscale::models
