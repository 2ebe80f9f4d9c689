#pragma once
// Analytic parameter and multiply-add counts, computed from an ArchSpec alone (no forward pass).

#include <cstdint>

#include "effscale/models/arch_spec.h"

namespace effscale::models {

// Trainable parameters of the network the spec builds: conv weights (biases only in SE convs),
// batch-norm weight and bias, classifier weight and bias. Equals the torch module's own count.
// Throws SpecError when the spec is invalid or the count does not fit in 64 bits.
int64_t count_params(const ArchSpec& spec);

// Multiply-adds of one forward pass of a `resolution` x `resolution` image: every conv (stem,
// expand, depthwise, SE reduce/expand on the pooled vector, project, head) and the classifier.
// Batch norm, activations, pooling and residual adds are not counted (the papers' convention).
// resolution <= 0 means the spec's own resolution. Throws SpecError when the spec is invalid or the count does
// not fit in 64 bits.
int64_t count_macs(const ArchSpec& spec, int resolution = 0);

}  // namespace effscale::models
