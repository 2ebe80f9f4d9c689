#include "effscale/search/reward.h"

#include <cmath>
#include <stdexcept>
#include <string>

namespace effscale::search {

void validate(const RewardOptions& o) {
  if (!(o.target_macs > 0) || !std::isfinite(o.target_macs))
    throw std::invalid_argument("reward target " + std::to_string(o.target_macs) + " MACs: expected a positive number");
  if (!std::isfinite(o.exponent))
    throw std::invalid_argument("reward exponent " + std::to_string(o.exponent) + ": expected a finite number");
}

double reward(double accuracy, int64_t macs, const RewardOptions& o) {
  const double ratio = double(macs) / o.target_macs;
  const double w = o.hard ? (ratio <= 1.0 ? 0.0 : -1.0) : o.exponent;
  return accuracy * std::pow(ratio, w);
}

}  // namespace effscale::search
