#pragma once
// Specs for the model tests: seeded random ArchSpecs covering every block option (property tests), and B0 at the
// grey proxy the search trains.

#include <random>

#include "effscale/models/arch_spec.h"

namespace effscale::testing {

// A valid, small spec (1-4 stages, filters <= 48) drawn from `rng`: kernels 1/3/5/7, strides 1/2
// per dimension, expand 1-6, SE on or off, noskip, width/depth multipliers, either padding, 1-3
// input channels, 1-12 classes.
models::ArchSpec random_valid_spec(std::mt19937& rng);

// B0 as the proxy presets train it: width and depth multipliers as given, one input channel, 28 px, 10 classes.
models::ArchSpec grey_proxy_b0(double width_mult, double depth_mult);

}  // namespace effscale::testing
