// bench_kernels: effscale's CPU training kernels against LibTorch's own on the same shapes, one line per shape:
//   depthwise N C H k s  ours=MS libtorch=MS ratio=R   (forward and backward of a depthwise convolution,
//                                                       channels_last; ours: what padded_conv2d runs in training)
//   batch_norm N C H     ours=MS libtorch=MS ratio=R   (training-mode forward and backward, channels_last)
// Times are medians in milliseconds; ratio is LibTorch's time over ours (> 1: ours is faster). The shapes are those
// of the evidence and quick proxies (28 px grey, width 0.25) and of B0 at 64 and 224 px.
// usage: bench_kernels [--threads N] [--iters I]
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench_timing.h"
#include "effscale/base/cpu_runtime.h"
#include "effscale/models/batch_norm_training.h"
#include "effscale/models/conv2d_pad.h"
#include "effscale/models/efficientnet.h"

namespace m = effscale::models;
using effscale::bench::median_seconds;

namespace {

constexpr auto kChannelsLast = torch::MemoryFormat::ChannelsLast;

// Milliseconds of one forward and backward through `layer`, a fresh input requiring its gradient each time.
template <class Layer>
double forward_backward_ms(const torch::Tensor& x, int iters, Layer layer) {
  return 1000 * median_seconds(2, iters, [&] {
    const torch::Tensor input = x.detach().requires_grad_();
    const torch::Tensor y = layer(input);
    y.backward(torch::ones_like(y));
  });
}

void depthwise(int64_t n, int64_t c, int64_t h, int64_t k, int64_t s, int iters) {
  // in_layout gives channels_last strides even where the shape makes both layouts contiguous (as the model's
  // tensors have them; oneDNN picks its layout from the strides).
  const torch::Tensor x = m::in_layout(torch::randn({n, c, h, h}), kChannelsLast);
  const torch::Tensor w = m::in_layout(torch::randn({c, 1, k, k}), kChannelsLast).requires_grad_();
  const m::Stride2d stride{s, s};
  const double ours = forward_backward_ms(x, iters, [&](const torch::Tensor& in) {
    return m::padded_conv2d(in, w, {}, stride, c, m::Padding::Symmetric);
  });
  const double theirs = forward_backward_ms(x, iters, [&](const torch::Tensor& in) {
    return m::libtorch_padded_conv2d(in, w, {}, stride, c, m::Padding::Symmetric);
  });
  std::printf("depthwise  N%-4lld C%-5lld H%-4lld k%lld s%lld ours=%.3fms libtorch=%.3fms ratio=%.2f\n",
              static_cast<long long>(n), static_cast<long long>(c), static_cast<long long>(h),
              static_cast<long long>(k), static_cast<long long>(s), ours, theirs, theirs / ours);
}

void batch_norm(int64_t n, int64_t c, int64_t h, int iters) {
  const torch::Tensor x = m::in_layout(torch::randn({n, c, h, h}), kChannelsLast);
  torch::nn::BatchNorm2d bn(c);
  const double ours = forward_backward_ms(x, iters, [&](const torch::Tensor& in) { return m::batch_norm_forward(*bn, in); });
  const double theirs = forward_backward_ms(x, iters, [&](const torch::Tensor& in) { return bn->forward(in); });
  std::printf("batch_norm N%-4lld C%-5lld H%-4lld       ours=%.3fms libtorch=%.3fms ratio=%.2f\n",
              static_cast<long long>(n), static_cast<long long>(c), static_cast<long long>(h), ours, theirs,
              theirs / ours);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, iters = 10;
  bool known = argc % 2 == 1;  // flags come in pairs
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--threads") threads = std::atoi(argv[i + 1]);
    else if (flag == "--iters") iters = std::atoi(argv[i + 1]);
    else known = false;
  }
  if (threads < 1 || iters < 1 || !known) {
    std::fprintf(stderr, "usage: bench_kernels [--threads N] [--iters I]\n");
    return 2;
  }
  effscale::base::configure_cpu_runtime(threads);  // the threads, and freed memory kept (as every command)
  std::printf("# threads=%d iters=%d (median ms of forward + backward, channels_last)\n", threads, iters);
  // N, C, H, k, stride: the evidence proxy (batch 128), the quick proxy (batch 64), B0 at 64 px and 224 px (batch 32).
  const int64_t convs[][5] = {{128, 288, 1, 5, 1}, {128, 168, 2, 5, 1}, {128, 120, 2, 3, 1}, {128, 60, 4, 3, 2},
                              {128, 36, 7, 5, 2},  {128, 24, 14, 3, 2}, {64, 48, 14, 3, 2},  {64, 192, 2, 5, 1},
                              {32, 96, 32, 3, 2},  {32, 144, 16, 3, 1}, {32, 240, 8, 5, 1},  {32, 672, 4, 5, 2},
                              {32, 1152, 2, 3, 1}, {32, 96, 112, 3, 2}, {32, 144, 56, 3, 1}, {32, 240, 28, 5, 1}};
  for (const auto& c : convs) depthwise(c[0], c[1], c[2], c[3], c[4], iters);
  const int64_t norms[][3] = {{128, 4, 14}, {128, 24, 14}, {128, 36, 7}, {128, 288, 1}, {64, 48, 14},
                              {32, 96, 32}, {32, 144, 16}, {32, 1152, 2}, {32, 96, 56}};
  for (const auto& b : norms) batch_norm(b[0], b[1], b[2], iters);
  return 0;
}
