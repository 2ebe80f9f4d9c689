#include "effscale/models/depthwise_conv.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "effscale/models/parallel_grain.h"
#include "effscale/models/rounding.h"
#include "row_loops.h"

namespace effscale::models {
namespace {

constexpr int64_t kMinChannels = 16;

// Sizes of one depthwise convolution over an NHWC input that is already padded explicitly where needed; pad_h /
// pad_w are the symmetric zero padding the convolution adds itself.
struct Geometry {
  int64_t n, c, h, w, k, stride_h, stride_w, pad_h, pad_w, out_h, out_w;
};

// The output positions o in [0, out) whose input position o * stride - pad + offset lies in [0, size):
// [first, last), empty when first == last.
inline std::pair<int64_t, int64_t> inside_range(int64_t size, int64_t out, int64_t stride, int64_t pad, int64_t offset) {
  const int64_t shift = pad - offset;  // o * stride >= shift
  const int64_t first = shift <= 0 ? 0 : (shift + stride - 1) / stride;
  const int64_t top = size - 1 + shift;  // o * stride <= top
  const int64_t last = top < 0 ? 0 : std::min(out, top / stride + 1);
  return {std::min(first, out), std::max(std::min(first, out), last)};
}

// For output row (n, oh), calls visit(tap, first, last, in) for each tap that reads inside the input, in tap order:
// `tap` its index (i * k + j), [first, last) the output columns it reads inside the input, `in` the offset in the
// NHWC input of the pixel column `first` reads.
template <class Visit>
inline void for_each_tap_run(const Geometry& g, int64_t n, int64_t oh, Visit visit) {
  for (int64_t i = 0; i < g.k; ++i) {
    const int64_t ih = oh * g.stride_h - g.pad_h + i;
    if (ih < 0 || ih >= g.h) continue;
    for (int64_t j = 0; j < g.k; ++j) {
      const auto [first, last] = inside_range(g.w, g.out_w, g.stride_w, g.pad_w, j);
      if (first < last) visit(i * g.k + j, first, last, ((n * g.h + ih) * g.w + first * g.stride_w - g.pad_w + j) * g.c);
    }
  }
}

// dst[p * dst_step + c] += src[p * src_step + c] * tap[c] for `pixels` pixels of `channels` values: one tap of a
// depthwise convolution over a run of pixels of one row. Compiled for AVX-512, AVX2 and the baseline (row_loops.h).
EFFSCALE_VECTOR_CLONES static void depthwise_tap_accumulate(const float* __restrict src, int64_t src_step,
                                                            const float* __restrict tap, float* __restrict dst,
                                                            int64_t dst_step, int64_t pixels, int64_t channels) {
  for (int64_t p = 0; p < pixels; ++p) {
    const float* s = src + p * src_step;
    float* d = dst + p * dst_step;
    for (int64_t c = 0; c < channels; ++c) d[c] += s[c] * tap[c];
  }
}

// acc[c] += a[p * a_step + c] * b[p * b_step + c] over `pixels` pixels: one tap's share of the weight
// gradient over a run of pixels of one row (a the output gradient, b the input), channels [0, channels).
EFFSCALE_VECTOR_CLONES static void depthwise_tap_products(const float* __restrict a, int64_t a_step,
                                                          const float* __restrict b, int64_t b_step,
                                                          float* __restrict acc, int64_t pixels, int64_t channels) {
  for (int64_t p = 0; p < pixels; ++p) {
    const float* x = a + p * a_step;
    const float* y = b + p * b_step;
    for (int64_t c = 0; c < channels; ++c) acc[c] += x[c] * y[c];
  }
}

// output [N, OH, OW, C] from the input [N, H, W, C], taps [k * k, C] and bias [C] (or nullptr): each output row
// (rows split among threads) starts at the bias or zero and adds the taps that fall inside the input, in tap order,
// so every value sums in the same order whatever the threads.
void output_values(const float* input, const float* taps, const float* bias, float* output, const Geometry& g) {
  const int64_t row = g.out_w * g.c;
  at::parallel_for(0, g.n * g.out_h, grain_for(row * g.k * g.k), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t n = r / g.out_h, oh = r % g.out_h;
      float* out = output + r * row;
      for (int64_t ow = 0; ow < g.out_w; ++ow)
        for (int64_t c = 0; c < g.c; ++c) out[ow * g.c + c] = bias == nullptr ? 0.f : bias[c];
      for_each_tap_run(g, n, oh, [&](int64_t tap, int64_t first, int64_t last, int64_t in) {
        depthwise_tap_accumulate(input + in, g.stride_w * g.c, taps + tap * g.c, out + first * g.c, g.c, last - first,
                                 g.c);
      });
    }
  });
}

// The taps of a depthwise weight [C, 1, k, k] as [k * k, C], the layout effscale's kernels read.
torch::Tensor taps_of(const torch::Tensor& weight) {
  const int64_t c = weight.size(0), k = weight.size(-1);
  return weight.detach().reshape({c, k * k}).t().contiguous();
}

// The convolution of in.input (NHWC memory, already padded explicitly where conv_input pads) with `weight`, plus
// `bias` when defined, by effscale's forward kernel: [N, C, OH, OW] in channels_last memory.
torch::Tensor effscale_forward(const ConvInput& in, const torch::Tensor& weight, const torch::Tensor& bias,
                               const Stride2d& stride) {
  const torch::Tensor& x = in.input;
  const int64_t k = weight.size(-1);
  const auto out = [&](int d) { return (x.size(d + 2) + 2 * in.padding[d] - k) / stride[d] + 1; };
  const Geometry g{x.size(0), x.size(1), x.size(2), x.size(3), k, stride[0], stride[1],
                   in.padding[0], in.padding[1], out(0), out(1)};
  torch::Tensor y = torch::empty({g.n, g.c, g.out_h, g.out_w}, x.options(), torch::MemoryFormat::ChannelsLast);
  const torch::Tensor taps = taps_of(weight);
  const torch::Tensor b = bias.defined() ? bias.detach().contiguous() : torch::Tensor();
  output_values(x.data_ptr<float>(), taps.data_ptr<float>(), b.defined() ? b.data_ptr<float>() : nullptr,
                y.data_ptr<float>(), g);
  return y;
}

// Which of effscale's kernels a depthwise convolution of x with a k x k kernel at `stride` takes (either padding
// convention gives ceil(n / s) outputs per dimension).
DepthwiseKernelChoice choice_for(const torch::Tensor& x, int64_t kernel, const Stride2d& stride) {
  return depthwise_kernel_choice(x.size(1), kernel, conv_output_size(x.size(2), stride[0]),
                                 conv_output_size(x.size(3), stride[1]));
}

// conv_input's padded input in NHWC memory, which effscale's kernels read.
ConvInput nhwc_input(const torch::Tensor& x, int64_t kernel, const Stride2d& stride, Padding padding) {
  ConvInput in = conv_input(x, kernel, stride, padding);
  in.input = in.input.contiguous(torch::MemoryFormat::ChannelsLast);
  return in;
}

// Whether x and weight are a float32 CPU depthwise convolution effscale's kernels can read: x 4-D in channels_last
// memory, weight [C, 1, k, k] with C = x's channels >= kMinChannels, groups == C, bias (when defined) [C] float32.
bool depthwise_shapes_fit(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                          int64_t groups) {
  if (x.dim() != 4 || weight.dim() != 4) return false;
  if (!x.device().is_cpu() || x.scalar_type() != torch::kFloat || weight.scalar_type() != torch::kFloat) return false;
  const int64_t channels = x.size(1), k = weight.size(-1);
  if (bias.defined() && (bias.scalar_type() != torch::kFloat || bias.numel() != channels)) return false;
  return channels >= kMinChannels && groups == channels && weight.size(0) == channels && weight.size(1) == 1 &&
         weight.size(2) == k && x.is_contiguous(torch::MemoryFormat::ChannelsLast);
}

// grad_input [N, H, W, C] from grad_out [N, OH, OW, C] and taps [k * k, C]: each input row (rows split among
// threads) sums, in tap order, the output gradients whose taps read it.
void input_grad(const float* grad_out, const float* taps, float* grad_in, const Geometry& g) {
  const int64_t row = g.w * g.c;
  at::parallel_for(0, g.n * g.h, grain_for(row * g.k * g.k), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t n = r / g.h, ih = r % g.h;
      float* in = grad_in + r * row;
      std::fill(in, in + row, 0.f);
      for (int64_t i = 0; i < g.k; ++i) {
        const int64_t th = ih + g.pad_h - i;
        if (th < 0 || th % g.stride_h != 0 || th / g.stride_h >= g.out_h) continue;
        const int64_t oh = th / g.stride_h;
        for (int64_t j = 0; j < g.k; ++j) {
          const auto [first, last] = inside_range(g.w, g.out_w, g.stride_w, g.pad_w, j);
          if (first == last) continue;
          const float* go = grad_out + ((n * g.out_h + oh) * g.out_w + first) * g.c;
          depthwise_tap_accumulate(go, g.c, taps + (i * g.k + j) * g.c, in + (first * g.stride_w - g.pad_w + j) * g.c,
                                   g.stride_w * g.c, last - first, g.c);
        }
      }
    }
  });
}

// grad_taps [k * k, C] from grad_out and the input: per block of channels (blocks split among threads), each tap's
// sum over the output pixels in order, so a channel's sum is the same whatever the blocks are.
void weight_grad(const float* grad_out, const float* input, float* grad_taps, const Geometry& g) {
  const int64_t taps = g.k * g.k;
  at::parallel_for(0, g.c, kMinChannels, [&](int64_t begin, int64_t end) {
    const int64_t m = end - begin;
    std::vector<float> acc(taps * m, 0.f);
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for_each_tap_run(g, n, oh, [&](int64_t tap, int64_t first, int64_t last, int64_t in) {
          const float* go = grad_out + ((n * g.out_h + oh) * g.out_w + first) * g.c + begin;
          depthwise_tap_products(go, g.c, input + in + begin, g.stride_w * g.c, acc.data() + tap * m, last - first, m);
        });
    for (int64_t t = 0; t < taps; ++t)
      std::copy_n(acc.data() + t * m, m, grad_taps + t * g.c + begin);
  });
}

class DepthwiseConvFunction : public torch::autograd::Function<DepthwiseConvFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, int64_t stride_h, int64_t stride_w, int64_t padding) {
    const Stride2d stride{stride_h, stride_w};
    const ConvInput in = nhwc_input(x, weight.size(-1), stride, static_cast<Padding>(padding));
    torch::Tensor y = choice_for(x, weight.size(-1), stride).forward_by_effscale
                          ? effscale_forward(in, weight, {}, stride)
                          : conv2d_on(in, weight, {}, stride, x.size(1));
    ctx->save_for_backward({in.input, weight});
    ctx->saved_data["stride"] = std::vector<int64_t>{stride_h, stride_w};
    ctx->saved_data["padding"] = std::vector<int64_t>{in.padding[0], in.padding[1]};
    ctx->saved_data["before"] = std::vector<int64_t>{in.padded_before[0], in.padded_before[1]};
    ctx->saved_data["size"] = std::vector<int64_t>{x.size(2), x.size(3)};
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& input = saved[0];
    const torch::Tensor& weight = saved[1];
    const auto stride = ctx->saved_data["stride"].toIntVector();
    const auto padding = ctx->saved_data["padding"].toIntVector();
    const auto before = ctx->saved_data["before"].toIntVector();
    const auto size = ctx->saved_data["size"].toIntVector();
    const torch::Tensor grad_out = grads[0].contiguous(torch::MemoryFormat::ChannelsLast);
    const Geometry g{input.size(0), input.size(1), input.size(2), input.size(3), weight.size(-1), stride[0], stride[1],
                     padding[0], padding[1], grad_out.size(2), grad_out.size(3)};
    const DepthwiseKernelChoice choice = depthwise_kernel_choice(g.c, g.k, g.out_h, g.out_w);
    const bool need_input = ctx->needs_input_grad(0), need_weight = ctx->needs_input_grad(1);
    const std::array<bool, 3> libtorch_mask{need_input && !choice.input_by_effscale,
                                            need_weight && !choice.weight_by_effscale, false};
    torch::Tensor grad_input, grad_weight;
    if (libtorch_mask[0] || libtorch_mask[1]) {
      auto parts = at::convolution_backward(grad_out, input, weight, c10::nullopt, stride, padding, {1, 1},
                                            /*transposed=*/false, {0, 0}, g.c, libtorch_mask);
      // LibTorch's input gradient may come back in NCHW memory; what consumes it (swish, batch norm) takes a
      // gradient in either layout.
      grad_input = std::get<0>(parts);
      grad_weight = std::get<1>(parts);
    }
    const torch::Tensor taps = taps_of(weight);
    if (need_input && choice.input_by_effscale) {
      grad_input = torch::empty_like(input, input.options(), torch::MemoryFormat::ChannelsLast);
      input_grad(grad_out.data_ptr<float>(), taps.data_ptr<float>(), grad_input.data_ptr<float>(), g);
    }
    if (need_weight && choice.weight_by_effscale) {
      torch::Tensor grad_taps = torch::empty({g.k * g.k, g.c}, weight.options());
      weight_grad(grad_out.data_ptr<float>(), input.data_ptr<float>(), grad_taps.data_ptr<float>(), g);
      grad_weight = torch::empty_like(weight).copy_(grad_taps.t().reshape(weight.sizes()));
    }
    if (grad_input.defined() && (grad_input.size(2) != size[0] || grad_input.size(3) != size[1]))  // padded here
      grad_input = grad_input.narrow(2, before[0], size[0]).narrow(3, before[1], size[1]);
    return {grad_input, grad_weight, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

bool depthwise_training_applies(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                int64_t groups, const Stride2d& stride) {
  if (!torch::GradMode::is_enabled() || !(x.requires_grad() || weight.requires_grad())) return false;
  if (bias.defined() || !depthwise_shapes_fit(x, weight, bias, groups)) return false;
  const DepthwiseKernelChoice choice = choice_for(x, weight.size(-1), stride);
  return choice.forward_by_effscale || choice.weight_by_effscale || choice.input_by_effscale;
}

bool depthwise_inference_applies(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                 int64_t groups, const Stride2d& stride) {
  const bool grad_wanted =
      torch::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad() || (bias.defined() && bias.requires_grad()));
  if (grad_wanted || !depthwise_shapes_fit(x, weight, bias, groups)) return false;
  return choice_for(x, weight.size(-1), stride).forward_by_effscale;
}

torch::Tensor depthwise_conv2d_inference(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                         const Stride2d& stride, Padding padding) {
  return effscale_forward(nhwc_input(x, weight.size(-1), stride, padding), weight, bias, stride);
}

torch::Tensor depthwise_conv2d_training(const torch::Tensor& x, const torch::Tensor& weight, const Stride2d& stride,
                                        Padding padding) {
  return DepthwiseConvFunction::apply(x, weight, stride[0], stride[1], static_cast<int64_t>(padding));
}

DepthwiseKernelChoice depthwise_kernel_choice(int64_t channels, int64_t kernel, int64_t out_height,
                                              int64_t out_width) {
  constexpr int64_t kSmallOutput = 4;  // pixels
  DepthwiseKernelChoice choice;
  if (channels < kMinChannels) return choice;
  const bool small_output = out_height * out_width <= kSmallOutput;
  choice.forward_by_effscale = small_output;
  choice.weight_by_effscale = kernel >= 5 || small_output;
  choice.input_by_effscale = small_output;
  return choice;
}

}  // namespace effscale::models
