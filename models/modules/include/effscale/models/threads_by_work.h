#pragma once
// How many intra-op threads a pass of a network takes on the CPU, from its work per layer. A small network's layers
// are a few microseconds of work each, and every layer is a parallel region where OpenMP's threads meet: below some
// work per layer, a second thread costs more than it shares (the evidence and quick proxies' evaluation, 0.35-0.51M
// multiply-adds per step at batch 64, ran 1.15-1.25x faster on one thread than on two, and the evidence proxy's
// training 1.3-1.8x; docs/benchmarks.md, "Threads by work"). The choice is made from the shapes alone, so it does not
// depend on timing, and results do not depend on it beyond float rounding.

#include <c10/util/ArrayRef.h>

#include <cstdint>

#include "effscale/models/arch_spec.h"
#include "effscale/models/inference_net.h"

namespace effscale::models {

// The work of one forward pass: the multiply-adds of its convolutions and dense layers for the whole batch, and the
// number of steps that are parallel regions (each convolution and dense layer, and a squeeze-excite's mean and
// scaling).
struct PassWork {
  int64_t macs = 0;
  int64_t steps = 0;
};

// The work of one forward pass of the folded `net` on an input of `input_dims` ([N, C, H, W]). Allocates nothing.
PassWork inference_work(const FoldedNetwork& net, c10::IntArrayRef input_dims);

// The work of one forward pass of the network `spec` builds on `images` images of `resolution` x `resolution`
// (<= 0: the spec's own): `images` times count_macs, and count_parallel_steps. Throws SpecError as count_macs does.
PassWork forward_work(const ArchSpec& spec, int64_t images, int resolution);

// Multiply-adds per step below which a pass runs on one thread. Measured on the 2-core development VM (Zen 5, one
// thread against two): one thread wins at 0.35M and 0.51M per step, two win by 10-25% from 1.2M (B0 at 224 px and
// batch 1, 3.4M per step, runs 1.5x faster on two). Only this one-or-all choice was measured; machines with more
// cores keep all their threads above the line.
constexpr int64_t kMinMacsPerStepForThreads = 800'000;

// The intra-op threads for a pass of `work` when `available` are there: 1 below kMinMacsPerStepForThreads
// multiply-adds per step, `available` otherwise (at least 1).
int threads_for_work(const PassWork& work, int available);

// The lanes an inference pass of `work` on `images` images splits its batch into when `available` threads are there:
// `available` lanes (at most `images` run), each a contiguous share of the batch on one thread, where the layers' steps
// are too small to share among threads (threads_for_work gives 1) or every thread gets at least one image; otherwise
// 1 (the pass's layers use the threads). Measured on the 2-core VM, two lanes against one of two threads: the
// proxies' evaluation at batch 64 1.3-1.8x, B0 at 32 px and batch 64 1.17x, at 224 px and batch 32 1.12-1.17x.
int inference_lanes(const PassWork& work, int64_t images, int available);

// The intra-op threads for the training steps of the network `spec` builds, on batches of `images` at `resolution`,
// when `available` are there: the forward pass's work decides, as for inference (a backward pass has about twice
// the forward's multiply-adds over about twice its steps, so the same line holds for the whole step). Throws
// SpecError as count_macs does.
int training_threads(const ArchSpec& spec, int64_t images, int resolution, int available);

}  // namespace effscale::models
