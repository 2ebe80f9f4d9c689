// bench_kernels: effscale's CPU kernels against LibTorch's own on the same shapes, one line per shape:
//   depthwise N C H k s  ours=MS libtorch=MS ratio=R   (forward and backward of a depthwise convolution,
//                                                       channels_last; ours: what padded_conv2d runs in training)
//   batch_norm N C H     ours=MS libtorch=MS ratio=R   (training-mode forward and backward, channels_last)
//   batch_norm_swish N C H fused=MS unfused=MS libtorch=MS ratio=R
//                        (swish(batch norm(x)) in training, forward and backward: fused, batch_norm_swish_training;
//                        unfused, effscale's batch norm then swish, as before the fused kernel; libtorch, its batch
//                        norm then silu; ratio = unfused / fused)
//   squeeze_excite N C H fused=MS ops=MS ratio=R
//                        (squeeze-excite in training, forward and backward: fused, squeeze_excite_training; ops,
//                        LibTorch's ops through autograd, as before it; ratio = ops / fused)
//   depthwise_infer N C H k s ours=MS libtorch=MS libtorch_strided=MS ratio=R
//                        (inference forward with a bias, as the folded inference form runs it; the input has the
//                        strides .contiguous(channels_last) gives, as the model's activations do; libtorch_strided:
//                        LibTorch's time on the same values with explicit channels_last strides, which it depends on
//                        where the shape makes both layouts contiguous)
// Times are medians in milliseconds; ratio is LibTorch's time (libtorch=) over ours (> 1: ours is faster). The shapes are those
// of the evidence and quick proxies (28 px grey, width 0.25) and of B0 at 64 and 224 px.
// usage: bench_kernels [--threads N] [--iters I]
#include <torch/torch.h>

#include <cstdio>
#include <string>

#include "bench_timing.h"
#include "effscale/base/cpu_runtime.h"
#include "effscale/cli/app_main.h"
#include "effscale/cli/command_line.h"
#include "effscale/models/batch_norm_training.h"
#include "effscale/models/conv2d_pad.h"
#include "effscale/models/efficientnet.h"
#include "effscale/models/mbconv.h"
#include "effscale/models/squeeze_excite_training.h"

namespace m = effscale::models;
namespace po = boost::program_options;
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

void depthwise_infer(int64_t n, int64_t c, int64_t h, int64_t k, int64_t s, int iters) {
  const torch::Tensor x = torch::randn({n, c, h, h}).contiguous(kChannelsLast);
  const torch::Tensor strided = m::in_layout(x.clone(), kChannelsLast);
  const torch::Tensor w = torch::randn({c, 1, k, k}), bias = torch::randn({c});
  const m::Stride2d stride{s, s};
  const auto ms = [&](auto conv) {
    return 1000 * median_seconds(2, iters, [&] {
      c10::InferenceMode guard;
      conv();
    });
  };
  const double ours = ms([&] { return m::padded_conv2d(x, w, bias, stride, c, m::Padding::Symmetric); });
  const double theirs = ms([&] { return m::libtorch_padded_conv2d(x, w, bias, stride, c, m::Padding::Symmetric); });
  const double theirs_strided =
      ms([&] { return m::libtorch_padded_conv2d(strided, w, bias, stride, c, m::Padding::Symmetric); });
  std::printf("depthwise_infer N%-4lld C%-5lld H%-4lld k%lld s%lld ours=%.3fms libtorch=%.3fms libtorch_strided=%.3fms "
              "ratio=%.2f\n",
              static_cast<long long>(n), static_cast<long long>(c), static_cast<long long>(h),
              static_cast<long long>(k), static_cast<long long>(s), ours, theirs, theirs_strided, theirs / ours);
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

void batch_norm_swish(int64_t n, int64_t c, int64_t h, int iters) {
  const torch::Tensor x = m::in_layout(torch::randn({n, c, h, h}), kChannelsLast);
  torch::nn::BatchNorm2d bn(c);
  const double fused =
      forward_backward_ms(x, iters, [&](const torch::Tensor& in) { return m::batch_norm_swish_training(*bn, in); });
  const double unfused =
      forward_backward_ms(x, iters, [&](const torch::Tensor& in) { return m::swish(m::batch_norm_forward(*bn, in)); });
  const double theirs =
      forward_backward_ms(x, iters, [&](const torch::Tensor& in) { return torch::silu(bn->forward(in)); });
  std::printf("batch_norm_swish N%-4lld C%-5lld H%-4lld fused=%.3fms unfused=%.3fms libtorch=%.3fms ratio=%.2f\n",
              static_cast<long long>(n), static_cast<long long>(c), static_cast<long long>(h), fused, unfused, theirs,
              unfused / fused);
}

void squeeze_excite(int64_t n, int64_t c, int64_t h, int iters) {
  const torch::Tensor x = m::in_layout(torch::randn({n, c, h, h}), kChannelsLast);
  m::SqueezeExcite se(c, std::max<int64_t>(1, c / 24));  // an MBConv's squeeze: a quarter of its input, 1/6 expanded
  const double fused =
      forward_backward_ms(x, iters, [&](const torch::Tensor& in) { return m::squeeze_excite_training(*se, in); });
  const double ops = forward_backward_ms(x, iters, [&](const torch::Tensor& in) { return se->forward_ops(in); });
  std::printf("squeeze_excite N%-4lld C%-5lld H%-4lld fused=%.3fms ops=%.3fms ratio=%.2f\n", static_cast<long long>(n),
              static_cast<long long>(c), static_cast<long long>(h), fused, ops, ops / fused);
}

}  // namespace

int run(int argc, char** argv) {
  po::options_description options("bench_kernels");
  options.add_options()
      ("threads", effscale::cli::with_default(1), "intra-op threads (at least 1)")
      ("iters", effscale::cli::with_default(10), "timed forward and backward passes per shape (at least 1)");
  auto parsed = effscale::cli::parse_command_line(argc, argv, options, "usage: bench_kernels [--threads N] [--iters I]");
  if (parsed.help_requested) return 0;
  const int threads = parsed.values["threads"].as<int>(), iters = parsed.values["iters"].as<int>();
  if (threads < 1) throw effscale::cli::UsageError("--threads must be at least 1, got " + std::to_string(threads));
  if (iters < 1) throw effscale::cli::UsageError("--iters must be at least 1, got " + std::to_string(iters));
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
  for (const auto& b : norms) batch_norm_swish(b[0], b[1], b[2], iters);
  for (const auto& b : norms) squeeze_excite(b[0], b[1], b[2], iters);
  std::printf("# inference forward (median ms)\n");
  for (const auto& c : convs) depthwise_infer(c[0], c[1], c[2], c[3], c[4], iters);
  return 0;
}

int main(int argc, char** argv) {
  return effscale::cli::run_app("bench_kernels", [&] { return run(argc, argv); });
}
