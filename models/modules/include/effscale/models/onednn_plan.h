#pragma once
// The folded network on the CPU through oneDNN, the library LibTorch's own CPU convolutions call, without
// LibTorch's per-call costs: LibTorch 1.13 reorders every convolution's weights into oneDNN's blocked layout on every
// call, runs swish, squeeze-excite and residual adds as separate passes, and allocates each activation anew.
// A plan is the network compiled for one input shape: every convolution a oneDNN primitive created once, its
// weights reordered once into the layout the primitive reads, its bias, swish and (for a projection with a
// residual) the add fused into it as post-ops; squeeze-excite as a channel mean, two inner products with fused
// activations and a scaling in place; activations in NHWC buffers allocated once and shared by layers whose
// lifetimes do not overlap. Pooling shortcuts run LibTorch's ops on views of those buffers.
// Built only where CMake finds oneDNN's headers (EFFSCALE_HAVE_ONEDNN); InferenceNet falls back to LibTorch's ops
// elsewhere.

#include <torch/types.h>

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "effscale/models/inference_net.h"

namespace effscale::models {

class OnednnPlan;

// Whether `net` can run through oneDNN for inputs like x: float32 weights on the CPU, x a 4-D float32 CPU tensor
// with the network's input channels.
bool onednn_plan_fits(const FoldedNetwork& net, const torch::Tensor& x);

// The plans of one folded network for the input shapes it was last called with (at most kMaxShapes per lane; the
// least recently used is dropped), and the weights each convolution was reordered into, shared by plans that read
// the same layout. A batch runs in chunks of as many images as keep the largest activation within kChunkBytes, so that
// each layer's output is still in the cache when the next reads it (B0 at 224 px: 3 images, 4.8 MB each; measured
// 1.12x over whole batches of 32, the median of ten runs each on the 2-core VM with a 32 MB L3). A call may split its
// batch into lanes: contiguous shares run side by side, one thread each, each through plans of its own (their own
// buffers; the packed weights are shared, read only while lanes run). Calls take turns (one mutex): a plan's buffers
// serve one call at a time.
class OnednnPlans {
 public:
  static constexpr int kMaxShapes = 4;  // per lane: one image, a chunk, a batch's remainder, and one more
  static constexpr int64_t kChunkBytes = int64_t{16} << 20;
  OnednnPlans();
  ~OnednnPlans();
  // The logits of `net` for x ([N, in_channels, H, W], any memory format; onednn_plan_fits), a new [N, classes]
  // tensor; nullopt when oneDNN has no primitive for one of the layers at this shape (remembered: the caller then
  // runs LibTorch's ops for it). `net` must be the network every earlier call passed (the plans keep its weights,
  // reordered). `lanes` > 1 (at most N are used): the batch is split into that many contiguous shares of
  // (N + lanes - 1) / lanes images or fewer, run at once on as many threads of LibTorch's pool, one intra-op thread
  // each; every image's logits are the same as in a call with one lane and the same chunk shapes, and otherwise
  // equal up to float rounding.
  std::optional<torch::Tensor> forward(const FoldedNetwork& net, const torch::Tensor& x, int lanes = 1);

 private:
  friend class OnednnPlan;
  struct PackedWeights;
  using PlanList = std::list<std::unique_ptr<OnednnPlan>>;  // most recently used first
  // Lane `lane`'s plan for input `dims`, built when new (dropping the lane's least recently used beyond
  // kMaxShapes); null when oneDNN cannot compile it.
  OnednnPlan* plan_for(const FoldedNetwork& net, const std::vector<int64_t>& dims, size_t lane);
  std::mutex mutex_;
  std::vector<PlanList> lanes_;                // lanes_[i]: the plans lane i runs
  std::vector<std::vector<int64_t>> refused_;  // input shapes oneDNN could not compile
  std::unique_ptr<PackedWeights> packed_;
};

}  // namespace effscale::models
