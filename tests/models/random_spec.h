#pragma once
// random_valid_spec: seeded random ArchSpecs covering every block option, for property tests.

#include <random>

#include "effscale/models/arch_spec.h"

namespace effscale::testing {

// A valid, small spec (1-4 stages, filters <= 48) drawn from `rng`: kernels 1/3/5/7, strides 1/2
// per dimension, expand 1-6, SE on or off, noskip, width/depth multipliers, either padding, 1-3
// input channels, 1-12 classes.
models::ArchSpec random_valid_spec(std::mt19937& rng);

}  // namespace effscale::testing
