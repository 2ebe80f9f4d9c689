#pragma once
// LayerPlan: the realized network, one entry per MBConv layer. The analytic counts and the torch
// module builder both walk this list, so they can never disagree about what is built.

#include <array>
#include <vector>

#include "effscale/models/arch_spec.h"

namespace effscale::models {

// One MBConv layer exactly as it is built.
struct LayerPlan {
  int stage = 0;                     // stage index (0-based)
  int index_in_stage = 0;            // layer index within the stage (0-based)
  int input_filters = 0;             // channels in
  int output_filters = 0;            // channels out
  int expanded_filters = 0;          // input_filters * expand_ratio; a plain layer: output_filters
  int se_filters = 0;                // squeeze channels: max(1, int(input_filters * se_ratio)); 0 = no SE
  int kernel_size = 3;
  std::array<int, 2> strides{1, 1};  // only the first layer of a stage strides
  int expand_ratio = 1;
  bool residual = false;             // stride 1, in == out and id_skip (identity shortcut)
  bool pool_shortcut = false;        // pool_skip where the identity does not fit: the shortcut is average-pooled
                                     // by the stride (kernel = stride, ceil mode) and zero-padded / cut to out
  bool fused = false;                // conv_type 1: a regular kxk conv in -> expanded replaces expand + depthwise
  bool plain = false;                // conv_type 2: one regular kxk conv in -> out (+ BN, swish, SE); no projection
  double drop_connect_rate = 0.0;    // drop_connect * layer_index / layer_count (all layers, 0-based)

  // What the layer builds, for the module builder and the counts alike: a 1x1 expand conv (expand_ratio != 1 on
  // the depthwise path); a regular kxk conv (fused or plain) instead of the depthwise one; the 1x1 projection
  // (every layer but a plain one).
  bool has_expand_conv() const { return expand_ratio != 1 && !fused && !plain; }
  bool has_regular_kxk() const { return fused || plain; }
  bool has_projection() const { return !plain; }
};

// Expands the spec's stages into layers (realized filters and repeats). Throws SpecError when the
// spec is invalid (see validate).
std::vector<LayerPlan> plan_layers(const ArchSpec& spec);

}  // namespace effscale::models
