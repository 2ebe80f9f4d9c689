#pragma once
// Analytic parameter and multiply-add counts, computed from an ArchSpec alone (no forward pass).

#include <cstdint>

#include "effscale/models/arch_spec.h"

namespace effscale::models {

// The most parameters a module is built with: 2^32 (16 GiB of fp32 weights; EfficientNet-L2 has 480M).
inline constexpr int64_t kMaxModuleParams = int64_t(1) << 32;

// Throws SpecError when the spec is invalid or has more than kMaxModuleParams parameters: what EfficientNet's
// constructor checks, for commands that must refuse a network before they start work on it.
void check_buildable(const ArchSpec& spec);

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

// Elements of every conv's output for one `resolution` x `resolution` image (stem, expand, depthwise or regular
// kxk, SE reduce and expand on the pooled vector, project, head): the feature maps a forward pass produces, each
// of which training keeps (with its batch-norm and activation copies) until the backward pass. A measure of a
// network's training memory per image, as multiply-adds are of its compute. resolution <= 0 means the spec's own.
// Throws SpecError when the spec is invalid or the count does not fit in 64 bits.
int64_t count_activations(const ArchSpec& spec, int resolution = 0);

// The steps of one forward pass that a CPU runs as parallel regions: every conv count_macs counts, the classifier,
// and per squeeze-excite its channel mean and its scaling. What a pass's multiply-adds are divided by to judge
// whether a second thread pays (threads_by_work.h). Throws SpecError when the spec is invalid.
int64_t count_parallel_steps(const ArchSpec& spec);

}  // namespace effscale::models
