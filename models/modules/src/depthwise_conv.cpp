#include "effscale/models/depthwise_conv.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "effscale/models/parallel_grain.h"
#include "effscale/models/rounding.h"

namespace effscale::models {
namespace {

constexpr int64_t kMinChannels = 16;
constexpr int64_t kChannelBlock = 32;  // channels one gather keeps in registers

// Sizes of one depthwise convolution over an NHWC input that is already padded explicitly where needed; pad_h /
// pad_w are the symmetric zero padding the convolution adds itself.
struct Geometry {
  int64_t n, c, h, w, k, stride_h, stride_w, pad_h, pad_w, out_h, out_w;
};

// Calls visit(tap, pixel) for each tap of output pixel (n, oh, ow) that falls inside the input, in tap order: `tap`
// the tap's index (i * k + j), `pixel` the input pixel's index in [N, H, W] order.
template <class Visit>
inline void for_each_tap_inside(const Geometry& g, int64_t n, int64_t oh, int64_t ow, Visit visit) {
  for (int64_t i = 0; i < g.k; ++i) {
    const int64_t ih = oh * g.stride_h - g.pad_h + i;
    if (ih < 0 || ih >= g.h) continue;
    for (int64_t j = 0; j < g.k; ++j) {
      const int64_t iw = ow * g.stride_w - g.pad_w + j;
      if (iw >= 0 && iw < g.w) visit(i * g.k + j, (n * g.h + ih) * g.w + iw);
    }
  }
}

// One output pixel, channels [c0, c0 + m): bias (or zero), then the taps that fall inside the input, in tap order.
// M as in gather_input_grad.
template <int64_t M>
inline void gather_output(const float* input, const float* taps, const float* bias, float* out, const Geometry& g,
                          int64_t n, int64_t oh, int64_t ow, int64_t c0, int64_t m) {
  float acc[kChannelBlock];
  const int64_t len = M == 0 ? m : M;
  for (int64_t c = 0; c < len; ++c) acc[c] = bias == nullptr ? 0.f : bias[c0 + c];
  for_each_tap_inside(g, n, oh, ow, [&](int64_t tap, int64_t pixel) {
    const float* in = input + pixel * g.c + c0;
    const float* t = taps + tap * g.c + c0;
    for (int64_t c = 0; c < len; ++c) acc[c] += in[c] * t[c];
  });
  for (int64_t c = 0; c < len; ++c) out[c] = acc[c];
}

// For each pixel of an [images, height, width] grid whose values `out` holds in NHWC memory (rows split among
// threads in tasks of about kGrainWork multiply-adds, a value costing `taps` of them), and each block of
// kChannelBlock channels and the tail: gather(block, o, n, h, w, c0, m) with `block` an integral constant, M of the
// gather_* functions (kChannelBlock for a full block, 0 for the tail), o the block's values in `out`, m its channels.
template <class Gather>
void over_pixels_in_blocks(int64_t images, int64_t height, int64_t width, int64_t channels, int64_t taps, float* out,
                           Gather gather) {
  at::parallel_for(0, images * height, grain_for(width * channels * taps), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t n = r / height, h = r % height;
      for (int64_t w = 0; w < width; ++w) {
        float* o = out + ((n * height + h) * width + w) * channels;
        int64_t c0 = 0;
        for (; c0 + kChannelBlock <= channels; c0 += kChannelBlock)
          gather(std::integral_constant<int64_t, kChannelBlock>{}, o + c0, n, h, w, c0, kChannelBlock);
        if (c0 < channels) gather(std::integral_constant<int64_t, 0>{}, o + c0, n, h, w, c0, channels - c0);
      }
    }
  });
}

// output [N, OH, OW, C] from the input [N, H, W, C], taps [k * k, C] and bias [C] (or nullptr).
void output_values(const float* input, const float* taps, const float* bias, float* output, const Geometry& g) {
  over_pixels_in_blocks(g.n, g.out_h, g.out_w, g.c, g.k * g.k, output,
                        [&](auto block, float* o, int64_t n, int64_t oh, int64_t ow, int64_t c0, int64_t m) {
                          gather_output<decltype(block)::value>(input, taps, bias, o, g, n, oh, ow, c0, m);
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

// Input gradient of one input pixel, channels [c0, c0 + m): the sum over the output pixels whose taps read it, in
// tap order. M is m when it is the full block (so the accumulator stays in registers), 0 for the tail.
template <int64_t M>
inline void gather_input_grad(const float* grad_out, const float* taps, float* out, const Geometry& g, int64_t n,
                              int64_t ih, int64_t iw, int64_t c0, int64_t m) {
  float acc[kChannelBlock];
  const int64_t len = M == 0 ? m : M;
  for (int64_t c = 0; c < len; ++c) acc[c] = 0.f;
  for (int64_t i = 0; i < g.k; ++i) {
    const int64_t th = ih + g.pad_h - i;
    if (th < 0 || th % g.stride_h != 0 || th / g.stride_h >= g.out_h) continue;
    for (int64_t j = 0; j < g.k; ++j) {
      const int64_t tw = iw + g.pad_w - j;
      if (tw < 0 || tw % g.stride_w != 0 || tw / g.stride_w >= g.out_w) continue;
      const float* o = grad_out + ((n * g.out_h + th / g.stride_h) * g.out_w + tw / g.stride_w) * g.c + c0;
      const float* t = taps + (i * g.k + j) * g.c + c0;
      for (int64_t c = 0; c < len; ++c) acc[c] += o[c] * t[c];
    }
  }
  for (int64_t c = 0; c < len; ++c) out[c] = acc[c];
}

// grad_input [N, H, W, C] from grad_out [N, OH, OW, C] and taps [k * k, C].
void input_grad(const float* grad_out, const float* taps, float* grad_in, const Geometry& g) {
  over_pixels_in_blocks(g.n, g.h, g.w, g.c, g.k * g.k, grad_in,
                        [&](auto block, float* o, int64_t n, int64_t ih, int64_t iw, int64_t c0, int64_t m) {
                          gather_input_grad<decltype(block)::value>(grad_out, taps, o, g, n, ih, iw, c0, m);
                        });
}

// grad_taps [k * k, C] from grad_out and the input: per channel block, the sum over every output pixel and tap in
// a fixed order, so a channel's sum is the same whatever the blocks are.
void weight_grad(const float* grad_out, const float* input, float* grad_taps, const Geometry& g) {
  const int64_t taps = g.k * g.k;
  at::parallel_for(0, g.c, kMinChannels, [&](int64_t begin, int64_t end) {
    const int64_t m = end - begin;
    std::vector<float> acc(taps * m, 0.f);
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const float* o = grad_out + ((n * g.out_h + oh) * g.out_w + ow) * g.c + begin;
          for_each_tap_inside(g, n, oh, ow, [&](int64_t tap, int64_t pixel) {
            const float* in = input + pixel * g.c + begin;
            float* a = acc.data() + tap * m;
            for (int64_t c = 0; c < m; ++c) a[c] += o[c] * in[c];
          });
        }
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
