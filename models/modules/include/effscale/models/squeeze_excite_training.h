#pragma once
// Squeeze-excite in training for channels_last CPU tensors, as one autograd function. Through LibTorch's ops the
// block makes about seven passes over its activation (the mean; the gate's product; in the backward the two products
// of the gate's gradient, their reduction, the mean's expansion and the sum of the input's two gradients) and a dozen
// dispatched ops; this makes two forward (the per-sample channel sums, the gated product) and two backward (the sums
// of the output gradient times the input, the input gradient), with the squeeze's small [N, C] algebra in between
// (its matrix products through ATen, its element-wise steps in plain loops; docs/benchmarks.md, "Squeeze-excite in
// one function").

#include <torch/types.h>

#include "effscale/models/squeeze_excite.h"

namespace effscale::models {

// True when squeeze_excite_training takes x: autograd recording, x a 4-D float32 CPU tensor in channels_last memory
// with se's channel count, and se's float32 weights with their biases.
bool squeeze_excite_training_applies(const SqueezeExciteImpl& se, const torch::Tensor& x);

// se.forward_ops(x) (x * sigmoid(expand(swish(reduce(mean_hw(x)))))) and its first-order gradients for x and the
// four parameters, through effscale's loops, for x where squeeze_excite_training_applies (checked). Results equal
// LibTorch's ops to float rounding (sums in a fixed order per sample, so they do not depend on the thread count);
// the output is a new channels_last tensor.
torch::Tensor squeeze_excite_training(SqueezeExciteImpl& se, const torch::Tensor& x);

}  // namespace effscale::models
