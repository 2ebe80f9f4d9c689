#pragma once
// The multi-objective reward of MnasNet / EfficientNet's baseline search (docs/search.md).

#include <cstdint>

namespace effscale::search {

// How the MACs target enters the reward.
struct RewardOptions {
  double target_macs = 400e6;  // T: B0-sized (multiply-adds at the target setting)
  double exponent = -0.07;     // w in ACC * (MACs / T)^w (soft constraint)
  bool hard = false;           // hard constraint: w = 0 under T, -1 above
};

// Throws std::invalid_argument naming the setting when T is not a positive finite number or w is not finite.
void validate(const RewardOptions& options);

// ACC(m) * (MACs(m) / T)^w with w from the options. Requires macs > 0.
double reward(double accuracy, int64_t macs, const RewardOptions& options);

}  // namespace effscale::search
