#include "effscale/models/conv2d_pad.h"

#include <torch/torch.h>

#include "effscale/models/depthwise_conv.h"
#include "effscale/models/rounding.h"

namespace effscale::models {

PaddingExtent padding_extent(int64_t size, int64_t kernel, int64_t stride, Padding padding) {
  if (padding != Padding::TfSame) return {(kernel - 1) / 2, (kernel - 1) / 2};
  const int64_t out = conv_output_size(size, stride);
  const int64_t total = std::max<int64_t>((out - 1) * stride + kernel - size, 0);
  return {total / 2, total - total / 2};
}

Conv2dPadImpl::Conv2dPadImpl(Conv2dPadOptions options_) : options(std::move(options_)) { reset(); }

void Conv2dPadImpl::reset() {
  TORCH_CHECK(options.kernel_size() % 2 == 1, "Conv2dPad needs an odd kernel size");
  TORCH_CHECK(options.groups() >= 1 && options.in_channels() % options.groups() == 0 &&
                  options.out_channels() % options.groups() == 0,
              "Conv2dPad: groups must divide in and out channels");
  const int64_t k = options.kernel_size();
  weight = register_parameter(
      "weight", torch::empty({options.out_channels(), options.in_channels() / options.groups(), k, k}));
  torch::nn::init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (options.bias()) {
    bias = register_parameter("bias", torch::zeros({options.out_channels()}));
  } else {
    bias = torch::Tensor();
  }
}

ConvInput conv_input(const torch::Tensor& x, int64_t kernel, const Stride2d& stride, Padding padding) {
  const PaddingExtent h = padding_extent(x.size(2), kernel, stride[0], padding);
  const PaddingExtent w = padding_extent(x.size(3), kernel, stride[1], padding);
  if (h.before == h.after && w.before == w.after) return {x, {h.before, w.before}, {0, 0}};
  // Asymmetric: the extra row / column goes bottom / right, as in TensorFlow.
  return {torch::constant_pad_nd(x, {w.before, w.after, h.before, h.after}, 0.0), {0, 0}, {h.before, w.before}};
}

torch::Tensor conv2d_on(const ConvInput& in, const torch::Tensor& weight, const torch::Tensor& bias,
                        const Stride2d& stride, int64_t groups) {
  static constexpr std::array<int64_t, 2> kDilation{1, 1};
  return torch::conv2d(in.input, weight, bias, torch::IntArrayRef(stride), torch::IntArrayRef(in.padding),
                       torch::IntArrayRef(kDilation), groups);
}

torch::Tensor libtorch_padded_conv2d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                     const Stride2d& stride, int64_t groups, Padding padding) {
  return conv2d_on(conv_input(x, weight.size(-1), stride, padding), weight, bias, stride, groups);
}

torch::Tensor padded_conv2d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                            const Stride2d& stride, int64_t groups, Padding padding) {
  if (depthwise_training_applies(x, weight, bias, groups, stride))
    return depthwise_conv2d_training(x, weight, stride, padding);
  if (depthwise_inference_applies(x, weight, bias, groups, stride))
    return depthwise_conv2d_inference(x, weight, bias, stride, padding);
  return libtorch_padded_conv2d(x, weight, bias, stride, groups, padding);
}

torch::Tensor Conv2dPadImpl::forward(const torch::Tensor& x) {
  return padded_conv2d(x, weight, bias, options.stride(), options.groups(), options.padding());
}

}  // namespace effscale::models
