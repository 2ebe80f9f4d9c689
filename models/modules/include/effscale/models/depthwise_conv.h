#pragma once
// A depthwise convolution for training on the CPU whose backward pass avoids LibTorch 1.13's slow depthwise
// kernels. The forward pass is LibTorch's (so outputs equal the plain path's bit for bit); the backward computes
// the weight and input gradients with effscale's kernels where they measured faster (docs/benchmarks.md, "Training
// kernels") and with LibTorch's convolution_backward elsewhere. effscale's kernels sum in an order that does not
// depend on the number of threads.

#include <torch/types.h>

#include "effscale/models/conv2d_pad.h"

namespace effscale::models {

// True when padded_conv2d takes depthwise_conv2d_training for this convolution: grad mode on and x or weight
// requiring a gradient, x a 4-D float32 CPU tensor in channels_last memory, weight [C, 1, k, k] with C = x's
// channels and at least 16 (below that LibTorch's kernels are faster), groups == C, no bias, and at least one of
// the two gradients taken by effscale's kernels (depthwise_backward_choice; otherwise LibTorch's path as it is).
bool depthwise_training_applies(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                int64_t groups, const Stride2d& stride);

// The depthwise convolution of x with `weight` at `stride`, padded by `padding`'s convention (as padded_conv2d),
// recording effscale's backward in the autograd graph. x and weight as depthwise_training_applies asks (the
// choice of kernels need not favour effscale's: the tests run both sides).
// Gradients are first order only (the backward is not itself differentiable).
torch::Tensor depthwise_conv2d_training(const torch::Tensor& x, const torch::Tensor& weight, const Stride2d& stride,
                                        Padding padding);

// Where the backward uses effscale's kernels, from the shapes alone (so a run's numerics do not depend on timing):
// with 16 channels or more, the weight gradient when k >= 5 or the output has at most 4 pixels, the input gradient
// when the output has at most 4 pixels. Exposed for the tests and the benchmark.
struct DepthwiseBackwardChoice {
  bool weight_by_effscale = false;
  bool input_by_effscale = false;
};
DepthwiseBackwardChoice depthwise_backward_choice(int64_t channels, int64_t kernel, int64_t out_height,
                                                  int64_t out_width);

}  // namespace effscale::models
