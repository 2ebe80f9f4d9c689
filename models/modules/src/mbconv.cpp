#include "effscale/models/mbconv.h"

#include <torch/torch.h>

#include "effscale/models/batch_norm_training.h"
#include "effscale/models/random_streams.h"

namespace effscale::models {

torch::nn::BatchNorm2d make_batch_norm(int64_t channels, const BatchNormConfig& bn) {
  return torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels).eps(bn.eps).momentum(bn.momentum));
}

namespace {

// silu whose backward takes the incoming gradient in x's memory format. Autograd sums the two gradients of a
// squeeze-excite input (the product and the mean's expansion) into an NCHW tensor; LibTorch 1.13's silu_backward
// over an NCHW gradient and a channels_last input is 10-40x slower than over one layout (22.7 ms against 1.7 for
// [64, 48, 14, 14] on one thread), and one copy costs far less.
class SwishFunction : public torch::autograd::Function<SwishFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x) {
    ctx->save_for_backward({x});
    return torch::silu(x);
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const torch::Tensor x = ctx->get_saved_variables()[0];
    return {at::silu_backward(grads[0].contiguous(x.suggest_memory_format()), x)};
  }
};

}  // namespace

torch::Tensor swish(torch::Tensor x) {
  if (!torch::GradMode::is_enabled()) return torch::silu_(x);
  if (x.requires_grad() && x.dim() == 4 && !x.is_contiguous() && x.is_contiguous(torch::MemoryFormat::ChannelsLast))
    return SwishFunction::apply(x);
  return torch::silu(x);
}

torch::Tensor drop_connect(const torch::Tensor& x, double rate, bool training, at::Generator& generator) {
  if (!training || rate <= 0.0) return x;
  return apply_keep_mask(x, {x.size(0), 1, 1, 1}, 1.0 - rate, generator);
}

MBConvImpl::MBConvImpl(LayerPlan plan_, BatchNormConfig bn_, Padding padding_, at::Generator noise_)
    : plan(plan_), bn(bn_), padding(padding_), noise(noise_.defined() ? noise_ : make_cpu_generator(0)) {
  reset();
}

void MBConvImpl::reset() {
  const int64_t in = plan.input_filters, mid = plan.expanded_filters, out = plan.output_filters;
  const bool expands = plan.has_expand_conv(), regular = plan.has_regular_kxk();
  // timm's names: InvertedResidual (conv_pw, bn1, conv_dw, bn2, se, conv_pwl, bn3), DepthwiseSeparableConv
  // (conv_dw, bn1, se, conv_pw, bn2), for the fused block EdgeResidual (conv_exp, bn1, se, conv_pwl, bn2) and for
  // the plain conv ConvBnAct (conv, bn1; then se).
  const std::string kxk_name = plan.plain ? "conv" : plan.fused ? "conv_exp" : "conv_dw";
  const std::string kxk_bn = expands ? "bn2" : "bn1";
  const std::string pw_name = expands || plan.fused ? "conv_pwl" : "conv_pw";
  const std::string pw_bn = expands ? "bn3" : "bn2";
  if (expands) {
    expand_conv = register_module("conv_pw", Conv2dPad(Conv2dPadOptions(in, mid, 1).padding(padding)));
    expand_bn = register_module("bn1", make_batch_norm(mid, bn));
  }
  depthwise_conv = register_module(
      kxk_name, Conv2dPad(Conv2dPadOptions(regular ? in : mid, mid, plan.kernel_size)
                              .stride({plan.strides[0], plan.strides[1]})
                              .groups(regular ? 1 : mid)
                              .padding(padding)));
  depthwise_bn = register_module(kxk_bn, make_batch_norm(mid, bn));
  if (plan.se_filters > 0) se = register_module("se", SqueezeExcite(mid, plan.se_filters));
  if (!plan.has_projection()) return;  // plain: mid == out
  project_conv = register_module(pw_name, Conv2dPad(Conv2dPadOptions(mid, out, 1).padding(padding)));
  project_bn = register_module(pw_bn, make_batch_norm(out, bn));
}

torch::Tensor pool_shortcut(const torch::Tensor& x, const std::array<int, 2>& strides, int64_t channels) {
  torch::Tensor y = x;
  if (strides[0] != 1 || strides[1] != 1)
    y = torch::avg_pool2d(y, {strides[0], strides[1]}, {strides[0], strides[1]}, /*padding=*/{0, 0},
                          /*ceil_mode=*/true, /*count_include_pad=*/false);
  if (y.size(1) > channels) return y.narrow(1, 0, channels);
  if (y.size(1) < channels) return torch::constant_pad_nd(y, {0, 0, 0, 0, 0, channels - y.size(1)});
  return y;
}

torch::Tensor MBConvImpl::forward(const torch::Tensor& x) {
  torch::Tensor y = x;
  if (expand_conv) y = batch_norm_swish(*expand_bn, expand_conv->forward(y));
  y = batch_norm_swish(*depthwise_bn, depthwise_conv->forward(y));
  if (se) y = se->forward(y);
  if (project_conv) y = batch_norm_forward(*project_bn, project_conv->forward(y));
  // The add can be in place: neither batch norm's nor drop-connect's backward reads this tensor.
  if (plan.residual) y = drop_connect(y, plan.drop_connect_rate, is_training(), noise).add_(x);
  if (plan.pool_shortcut)
    y = drop_connect(y, plan.drop_connect_rate, is_training(), noise).add_(pool_shortcut(x, plan.strides, plan.output_filters));
  return y;
}

}  // namespace effscale::models
