#pragma once
// Conv2dPad: a 2-D convolution whose parameters are named like torch.nn.Conv2d's (`weight`, `bias`)
// and whose padding follows an ArchSpec's convention (symmetric or TensorFlow 'same').

#include <torch/nn/cloneable.h>
#include <torch/nn/pimpl.h>

#include <array>

#include "effscale/models/arch_spec.h"

namespace effscale::models {

// Stride of a Conv2dPad: height, width.
using Stride2d = std::array<int64_t, 2>;

// Options of Conv2dPad; kernel is square and odd.
struct Conv2dPadOptions {
  Conv2dPadOptions(int64_t in_channels, int64_t out_channels, int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(int64_t, in_channels);
  TORCH_ARG(int64_t, out_channels);
  TORCH_ARG(int64_t, kernel_size);
  TORCH_ARG(Stride2d, stride) = {1, 1};
  TORCH_ARG(int64_t, groups) = 1;                           // in_channels for a depthwise conv
  TORCH_ARG(bool, bias) = false;                            // registers `bias` when true
  TORCH_ARG(Padding, padding) = Padding::Symmetric;
};

// Symmetric padding pads (k - 1) / 2 on each side; TfSame pads total max((ceil(n / s) - 1) * s + k - n, 0)
// per dimension, the smaller half first, computed from the input size at each call. Both give output
// size ceil(n / s). Parameters: weight [out, in / groups, k, k], bias [out] when enabled; uninitialised
// values follow torch's default (callers apply their own init).
class Conv2dPadImpl : public torch::nn::Cloneable<Conv2dPadImpl> {
 public:
  explicit Conv2dPadImpl(Conv2dPadOptions options);
  // (Re)creates the parameters; called by the constructor and by clone().
  void reset() override;
  // x: [N, in_channels, H, W] -> [N, out_channels, ceil(H / s_h), ceil(W / s_w)].
  torch::Tensor forward(const torch::Tensor& x);

  Conv2dPadOptions options;
  torch::Tensor weight;
  torch::Tensor bias;
};
TORCH_MODULE(Conv2dPad);

// The convolution Conv2dPad runs, as a function: x convolved with `weight` (and `bias` when defined) at
// `stride` with `groups`, padded by `padding`'s convention (see Conv2dPadImpl). The weight is
// [out, in / groups, k, k] with k odd. Shared by the module and the inference form (InferenceNet). A depthwise
// convolution on the CPU in channels_last memory may take effscale's kernels (depthwise_conv.h: in training
// depthwise_conv2d_training, otherwise depthwise_conv2d_inference); outputs equal LibTorch's up to float rounding.
torch::Tensor padded_conv2d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                            const Stride2d& stride, int64_t groups, Padding padding);

// padded_conv2d through LibTorch's kernels alone, forward and backward.
torch::Tensor libtorch_padded_conv2d(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                     const Stride2d& stride, int64_t groups, Padding padding);

// The zero padding a convolution of `kernel` (odd) at `stride` adds before and after one spatial dimension of
// `size` under `padding`'s convention: (k - 1) / 2 on both sides when Symmetric; TensorFlow's 'same' total when
// TfSame, the smaller half before. The output size is (size + before + after - kernel) / stride + 1.
struct PaddingExtent {
  int64_t before, after;
};
PaddingExtent padding_extent(int64_t size, int64_t kernel, int64_t stride, Padding padding);

// What padded_conv2d hands torch::conv2d for a kernel of size `kernel`: `input` is x itself, or (TfSame with an odd
// total padding in a dimension) x padded explicitly with zeros, the smaller half before; `padding` is the symmetric
// padding conv2d then applies per dimension (height, width); `padded_before` the rows / columns added explicitly
// before x (zero when input is x).
struct ConvInput {
  torch::Tensor input;
  std::array<int64_t, 2> padding;
  std::array<int64_t, 2> padded_before;
};
ConvInput conv_input(const torch::Tensor& x, int64_t kernel, const Stride2d& stride, Padding padding);

// torch::conv2d of in.input with in.padding (dilation 1): the convolution padded_conv2d runs once its input is
// padded.
torch::Tensor conv2d_on(const ConvInput& in, const torch::Tensor& weight, const torch::Tensor& bias,
                        const Stride2d& stride, int64_t groups);

}  // namespace effscale::models
