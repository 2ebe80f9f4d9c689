#pragma once
// The mobile networks a search is measured against, as specs every command can name beside the official
// EfficientNets: MobileNetV2 (the reference MnasNet's and EfficientNet's search spaces are relative to) and
// MnasNet-A1 (what MnasNet's search found). Both keep B0's stem, head and settings, so that only the blocks differ.

#include <string>
#include <string_view>
#include <vector>

#include "effscale/models/arch_spec.h"

namespace effscale::models {

// MobileNetV2 (Sandler et al. 2018) as a spec: its seven inverted-residual blocks (t, c, n, s) = (1, 16, 1, 1),
// (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1), 3x3 kernels, no SE,
// stem 32 and head 1280, on B0's other settings (swish, as every effscale spec). Named "mobilenetv2".
ArchSpec mobilenetv2_reference();

// MnasNet-A1's seven blocks (arXiv:1807.11626, Fig. 7) as block strings on B0's stem and head, without
// its ReLU (activations are not part of a spec). Named "mnasnet-a1".
ArchSpec mnasnet_a1();

// The names reference_network() knows: "mobilenetv2", "mnasnet-a1".
std::vector<std::string> reference_network_names();

// True when `name` is one of reference_network_names() (case-insensitive; "mnasnet_a1" is accepted).
bool is_reference_network_name(std::string_view name);

// The reference network `name`; throws SpecError listing the names for anything else.
ArchSpec reference_network(std::string_view name);

}  // namespace effscale::models
