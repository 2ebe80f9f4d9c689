#include "effscale/models/rounding.h"

#include <algorithm>
#include <cmath>

namespace effscale::models {

int round_filters(int filters, double width_mult, int divisor) {
  const double scaled = filters * width_mult;
  // int() in the reference truncates toward zero; scaled is positive, so floor is the same.
  int rounded = static_cast<int>(std::floor(scaled + divisor / 2.0)) / divisor * divisor;
  rounded = std::max(divisor, rounded);
  if (rounded < 0.9 * scaled) rounded += divisor;
  return rounded;
}

int round_repeats(int repeats, double depth_mult) {
  // The product is computed in double as in Python; 1.1 * 2 = 2.2 -> 3, and exact products stay exact.
  return static_cast<int>(std::ceil(depth_mult * repeats));
}

}  // namespace effscale::models
