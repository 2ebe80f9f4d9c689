#include "effscale/models/conv2d_pad.h"

#include <torch/torch.h>

#include "effscale/models/depthwise_conv.h"

namespace effscale::models {
namespace {

// TensorFlow 'same' total padding for one spatial dimension.
int64_t same_padding(int64_t size, int64_t kernel, int64_t stride) {
  const int64_t out = (size + stride - 1) / stride;
  return std::max<int64_t>((out - 1) * stride + kernel - size, 0);
}

}  // namespace

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
  ConvInput result{x, {(kernel - 1) / 2, (kernel - 1) / 2}, {0, 0}};
  if (padding != Padding::TfSame) return result;
  const int64_t ph = same_padding(x.size(2), kernel, stride[0]);
  const int64_t pw = same_padding(x.size(3), kernel, stride[1]);
  if (ph % 2 != 0 || pw % 2 != 0) {
    // Asymmetric: the extra row / column goes bottom / right, as in TensorFlow.
    result.input = torch::constant_pad_nd(x, {pw / 2, pw - pw / 2, ph / 2, ph - ph / 2}, 0.0);
    result.padding = {0, 0};
    result.padded_before = {ph / 2, pw / 2};
  } else {
    result.padding = {ph / 2, pw / 2};
  }
  return result;
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
