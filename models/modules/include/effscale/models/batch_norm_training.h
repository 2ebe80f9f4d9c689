#pragma once
// Batch norm in training mode for channels_last CPU tensors, through effscale's kernels. LibTorch 1.13's
// channels_last batch norm is slow on few channels (a [128, 4, 14, 14] batch, forward and backward: 3.0 ms against
// 0.11 here) and about as fast as these on many; these also take a gradient in either layout without LibTorch's
// mixed-layout slow paths (docs/benchmarks.md, "Training kernels", "Batch norm fused with swish"). Their loops run
// over periods of whole rows (short rows taken several at a time) and are compiled for AVX-512, AVX2 and the x86-64
// baseline, the CPU's chosen when the program loads. Statistics are summed in fixed blocks of rows combined in order,
// so results do not depend on the number of threads (they can differ between CPUs with and without FMA).

#include <torch/nn/modules/batchnorm.h>

namespace effscale::models {

// True when batch_norm_forward takes effscale's kernels for x: `bn` training, affine and tracking running
// statistics, x a 4-D float32 CPU tensor in channels_last memory with bn's channel count.
bool batch_norm_training_applies(const torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x);

// bn.forward(x), the same contract: in training, normalises with the batch's statistics (biased variance), updates
// running_mean / running_var (unbiased variance) with bn's momentum, or the cumulative average when the momentum is
// unset, and counts num_batches_tracked; otherwise normalises with the running statistics. When
// batch_norm_training_applies, effscale's kernels compute it and its first-order gradients; otherwise bn.forward.
torch::Tensor batch_norm_forward(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x);

// swish(batch_norm_forward(bn, x)) through one kernel, for x where batch_norm_training_applies (checked): the
// normalised activation z is never stored, and the backward pass recomputes it to form z's gradient in the pass that
// sums the channels. The sigmoid is a polynomial e^x (about 1e-7 relative), so results match LibTorch's silu to
// float rounding, not to the bit, and its loops are built for AVX-512, AVX2 and the baseline (the CPU's at load).
torch::Tensor batch_norm_swish_training(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x);

// swish(batch_norm_forward(bn, x)): batch_norm_swish_training where batch_norm_training_applies, otherwise the two
// ops (swish in mbconv.h).
torch::Tensor batch_norm_swish(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x);

}  // namespace effscale::models
