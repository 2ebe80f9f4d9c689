#pragma once
// How the model tests compare tensors.

#include <torch/torch.h>

#include <algorithm>

namespace effscale::testing {

// The largest elementwise difference of `actual` from `expected`, relative to the largest magnitude in `expected`
// (1e-30 when expected is all zeros).
inline double relative_error(const torch::Tensor& actual, const torch::Tensor& expected) {
  return (actual - expected).abs().max().item<double>() / std::max(expected.abs().max().item<double>(), 1e-30);
}

}  // namespace effscale::testing
