#include "effscale/models/threads_by_work.h"

#include <torch/torch.h>

#include <algorithm>
#include <array>

#include "effscale/models/counts.h"
#include "effscale/models/rounding.h"

namespace effscale::models {
namespace {

// Height and width of a feature map.
using MapSize = std::array<int64_t, 2>;

// Adds a convolution's work on a map of `in` to `work`; returns its output's size: ceil(n / stride) per dimension,
// which both padding conventions give for odd kernels (as count_macs counts).
MapSize add_conv(const FoldedConv& conv, const MapSize& in, int64_t images, PassWork& work) {
  const MapSize out{conv_output_size(in[0], conv.stride[0]), conv_output_size(in[1], conv.stride[1])};
  // weight [out, in / groups, k, k]: each output pixel costs out * in / groups * k * k, the weight's size.
  work.macs += images * out[0] * out[1] * conv.weight.numel();
  work.steps += 1;
  return out;
}

void add_dense(const Dense& dense, int64_t images, PassWork& work) {
  work.macs += images * dense.weight.numel();
  work.steps += 1;
}

}  // namespace

PassWork inference_work(const FoldedNetwork& net, c10::IntArrayRef input_dims) {
  PassWork work;
  if (input_dims.size() != 4) return work;
  const int64_t images = input_dims[0];
  MapSize map = add_conv(net.stem, {input_dims[2], input_dims[3]}, images, work);
  for (const FoldedBlock& block : net.blocks) {
    if (block.expands) add_conv(block.expand, map, images, work);
    map = add_conv(block.kxk, map, images, work);
    if (block.has_se) {
      add_dense(block.se_reduce, images, work);
      add_dense(block.se_expand, images, work);
      work.steps += 2;  // the channel mean and the scaling
    }
    if (block.projects) add_conv(block.project, map, images, work);
  }
  add_conv(net.head, map, images, work);
  add_dense(net.classifier, images, work);
  return work;
}

PassWork forward_work(const ArchSpec& spec, int64_t images, int resolution) {
  return {images * count_macs(spec, resolution), count_parallel_steps(spec)};
}

int threads_for_work(const PassWork& work, int available) {
  available = std::max(1, available);
  if (work.steps == 0 || work.macs / work.steps < kMinMacsPerStepForThreads) return 1;
  return available;
}

int inference_lanes(const PassWork& work, int64_t images, int available) {
  available = std::max(1, available);
  return threads_for_work(work, available) == 1 || images >= available ? available : 1;
}

int training_threads(const ArchSpec& spec, int64_t images, int resolution, int available) {
  return threads_for_work(forward_work(spec, images, resolution), available);
}

}  // namespace effscale::models
