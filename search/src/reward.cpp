#include "effscale/search/reward.h"

#include <cmath>

namespace effscale::search {

double reward(double accuracy, int64_t macs, const RewardOptions& o) {
  const double ratio = double(macs) / o.target_macs;
  const double w = o.hard ? (ratio <= 1.0 ? 0.0 : -1.0) : o.exponent;
  return accuracy * std::pow(ratio, w);
}

}  // namespace effscale::search
