// Prints EfficientNet-B0's exact parameter count and multiply-adds, computed by an installed effscale from the
// architecture alone (the reference: 5,288,548 parameters, 385,814,752 multiply-adds at 224 px).

#include <iostream>

#include "effscale/models/counts.h"
#include "effscale/models/official.h"

int main() {
  const effscale::models::ArchSpec b0 = effscale::models::efficientnet_b0();
  std::cout << "EfficientNet-B0: " << effscale::models::count_params(b0) << " parameters, "
            << effscale::models::count_macs(b0) << " multiply-adds\n";
  return 0;
}
