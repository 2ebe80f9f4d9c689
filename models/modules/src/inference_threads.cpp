#include "effscale/models/inference_threads.h"

#include <torch/torch.h>

#include <algorithm>

namespace effscale::models {
namespace {

// Output size along one dimension: both padding conventions give ceil(n / stride) for odd kernels.
int64_t strided(int64_t n, int64_t stride) { return (n + stride - 1) / stride; }

// Adds a convolution's work at an input of [h, w] to `work`; returns its output's [h, w].
std::vector<int64_t> add_conv(const FoldedConv& conv, const std::vector<int64_t>& hw, int64_t images,
                              InferenceWork& work) {
  const std::vector<int64_t> out{strided(hw[0], conv.stride[0]), strided(hw[1], conv.stride[1])};
  // weight [out, in / groups, k, k]: each output value is in / groups * k * k multiply-adds.
  const int64_t per_output = conv.weight.numel() / conv.weight.size(0);
  work.macs += images * out[0] * out[1] * conv.weight.size(0) * per_output;
  work.steps += 1;
  return out;
}

void add_dense(const Dense& dense, int64_t images, InferenceWork& work) {
  work.macs += images * dense.weight.numel();
  work.steps += 1;
}

}  // namespace

InferenceWork inference_work(const FoldedNetwork& net, const std::vector<int64_t>& input_dims) {
  InferenceWork work;
  if (input_dims.size() != 4) return work;
  const int64_t images = input_dims[0];
  std::vector<int64_t> hw = add_conv(net.stem, {input_dims[2], input_dims[3]}, images, work);
  for (const FoldedBlock& block : net.blocks) {
    if (block.expands) add_conv(block.expand, hw, images, work);
    hw = add_conv(block.kxk, hw, images, work);
    if (block.has_se) {
      add_dense(block.se_reduce, images, work);
      add_dense(block.se_expand, images, work);
      work.steps += 2;  // the channel mean and the scaling
    }
    if (block.projects) add_conv(block.project, hw, images, work);
  }
  add_conv(net.head, hw, images, work);
  add_dense(net.classifier, images, work);
  return work;
}

int inference_threads(const InferenceWork& work, int available) {
  available = std::max(1, available);
  if (work.steps == 0 || work.macs / work.steps < kMinMacsPerStepForThreads) return 1;
  return available;
}

}  // namespace effscale::models
