#pragma once
// How many intra-op threads a forward pass of the folded network takes on the CPU. A small network's layers are a
// few microseconds of work each, and every layer is a parallel region where OpenMP's threads meet: below some work
// per layer, a second thread costs more than it shares (the evidence and quick proxies' evaluation, 0.35-0.51M
// multiply-adds per step at batch 64, ran 1.15-1.25x faster on one thread than on two; docs/benchmarks.md, "Threads
// by work"). The choice is made from the shapes alone, so it does not depend on timing, and the logits do not
// depend on it beyond float rounding.

#include <c10/util/ArrayRef.h>

#include <cstdint>

#include "effscale/models/inference_net.h"

namespace effscale::models {

// The work of one forward pass of `net` on an input of `input_dims` ([N, C, H, W]): the multiply-adds of its
// convolutions and dense layers for the whole batch, and the number of steps that are parallel regions (each
// convolution and dense layer, and a squeeze-excite's mean and scaling).
struct InferenceWork {
  int64_t macs = 0;
  int64_t steps = 0;
};
InferenceWork inference_work(const FoldedNetwork& net, c10::IntArrayRef input_dims);

// Multiply-adds per step below which a forward pass runs on one thread. Measured on the 2-core development VM
// (Zen 5, one thread against two): one thread wins at 0.35M and 0.51M per step, two win by 10-25% from 1.2M
// (B0 at 224 px and batch 1, 3.4M per step, runs 1.5x faster on two). Only this one-or-all choice was measured;
// machines with more cores keep all their threads above the line.
constexpr int64_t kMinMacsPerStepForThreads = 800'000;

// The intra-op threads for a pass of `work` when `available` are there: 1 below kMinMacsPerStepForThreads
// multiply-adds per step, `available` otherwise (at least 1).
int inference_threads(const InferenceWork& work, int available);

}  // namespace effscale::models
