#pragma once
// A depthwise convolution on the CPU that avoids LibTorch 1.13's slow depthwise kernels: on small outputs (a 5x5
// kernel over a 1x1 map takes LibTorch 12-18 ms at batch 128, every tap but the centre in the padding) the forward
// pass, in training and in inference, and the weight and input gradients are computed by effscale's kernels where
// they measured faster (docs/benchmarks.md, "Training kernels"), by LibTorch's convolution and
// convolution_backward elsewhere. effscale's kernels run over whole rows of pixels, one tap at a time, in loops
// compiled for AVX-512, AVX2 and the x86-64 baseline (the CPU's chosen when the program loads); they sum in an order
// that does not depend on the number of threads; their outputs equal LibTorch's up to float rounding (summation
// order, FMA).

#include <torch/types.h>

#include "effscale/models/conv2d_pad.h"

namespace effscale::models {

// True when padded_conv2d takes depthwise_conv2d_training for this convolution: grad mode on and x or weight
// requiring a gradient, x a 4-D float32 CPU tensor in channels_last memory, weight [C, 1, k, k] with C = x's
// channels and at least 16 (below that LibTorch's kernels are faster), groups == C, no bias, and at least one of
// the forward and the two gradients taken by effscale's kernels (depthwise_kernel_choice; otherwise LibTorch's
// path as it is).
bool depthwise_training_applies(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                int64_t groups, const Stride2d& stride);

// The depthwise convolution of x with `weight` at `stride`, padded by `padding`'s convention (as padded_conv2d),
// by effscale's forward kernel where depthwise_kernel_choice says so, recording effscale's backward in the
// autograd graph. x and weight as depthwise_training_applies asks (the
// choice of kernels need not favour effscale's: the tests run both sides).
// Gradients are first order only (the backward is not itself differentiable).
torch::Tensor depthwise_conv2d_training(const torch::Tensor& x, const torch::Tensor& weight, const Stride2d& stride,
                                        Padding padding);

// True when padded_conv2d takes depthwise_conv2d_inference: no gradient wanted (grad mode off, or nothing
// requiring one), x and weight as depthwise_training_applies asks, bias undefined or [C] float32, and the forward
// by effscale's kernel (depthwise_kernel_choice).
bool depthwise_inference_applies(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                 int64_t groups, const Stride2d& stride);

// The depthwise convolution of x with `weight`, plus `bias` when defined, at `stride`, padded by `padding`'s
// convention, by effscale's forward kernel; no autograd record. x and weight as depthwise_inference_applies asks;
// the result is in channels_last memory.
torch::Tensor depthwise_conv2d_inference(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                         const Stride2d& stride, Padding padding);

// Where effscale's kernels replace LibTorch's, from the shapes alone (so a run's numerics do not depend on timing):
// with 16 channels or more, the forward when the output has at most 4 pixels, the weight gradient when k >= 5 or
// the output has at most 4 pixels, the input gradient when the output has at most 4 pixels. Exposed for the tests
// and the benchmark.
struct DepthwiseKernelChoice {
  bool forward_by_effscale = false;
  bool weight_by_effscale = false;
  bool input_by_effscale = false;
};
DepthwiseKernelChoice depthwise_kernel_choice(int64_t channels, int64_t kernel, int64_t out_height, int64_t out_width);

}  // namespace effscale::models
