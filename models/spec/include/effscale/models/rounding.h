#pragma once
// The width and depth rounding rules of the EfficientNet reference (docs/specs.md), and how a convolution rounds a
// feature map's size.

#include <cstdint>

namespace effscale::models {

// Scales a filter count by `width_mult` and rounds it to a multiple of `divisor` the reference way:
// f *= w; n = max(divisor, int(f + divisor / 2) / divisor * divisor); if n < 0.9 f then n += divisor.
// Requires filters >= 1, width_mult > 0, divisor >= 1.
int round_filters(int filters, double width_mult, int divisor = 8);

// Scales a stage's repeat count by `depth_mult`, rounding up: ceil(depth_mult * repeats).
// Requires repeats >= 1, depth_mult > 0.
int round_repeats(int repeats, double depth_mult);

// The output size along one dimension of a convolution with an odd kernel over `input_size` at `stride`, in either
// padding convention the specs have (symmetric (k-1)/2 or TensorFlow's 'SAME'): ceil(input_size / stride).
// Requires input_size >= 0, stride >= 1.
constexpr int64_t conv_output_size(int64_t input_size, int64_t stride) { return (input_size + stride - 1) / stride; }

}  // namespace effscale::models
