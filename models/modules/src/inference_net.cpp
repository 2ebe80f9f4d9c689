#include "effscale/models/inference_net.h"

#include <torch/torch.h>

#include "effscale/base/cpu_runtime.h"
#include "effscale/models/onednn_plan.h"
#include "effscale/models/threads_by_work.h"

namespace effscale::models {

torch::Tensor FoldedConv::forward(const torch::Tensor& x) const {
  torch::Tensor y = padded_conv2d(x, weight, bias, stride, groups, padding);
  return swish ? torch::silu_(y) : y;
}

FoldedConv fold_batch_norm(const Conv2dPadImpl& conv, const torch::nn::BatchNorm2dImpl& bn, bool swish,
                           torch::MemoryFormat layout) {
  torch::NoGradGuard no_grad;
  const auto dtype = conv.weight.scalar_type();
  const torch::Tensor gamma = bn.weight.to(torch::kDouble), beta = bn.bias.to(torch::kDouble);
  const torch::Tensor scale = gamma / (bn.running_var.to(torch::kDouble) + bn.options.eps()).sqrt();
  torch::Tensor bias = conv.bias.defined() ? conv.bias.to(torch::kDouble) : torch::zeros_like(beta);
  FoldedConv folded;
  folded.weight = in_layout((conv.weight.to(torch::kDouble) * scale.view({-1, 1, 1, 1})).to(dtype), layout);
  folded.bias = ((bias - bn.running_mean.to(torch::kDouble)) * scale + beta).to(dtype);
  folded.stride = conv.options.stride();
  folded.groups = conv.options.groups();
  folded.padding = conv.options.padding();
  folded.swish = swish;
  return folded;
}

torch::Tensor Dense::forward(const torch::Tensor& x) const { return torch::addmm(bias, x, weight.t()); }

namespace {

// A 1x1 convolution with bias as a Dense layer.
Dense dense_of(const Conv2dPadImpl& conv) {
  torch::NoGradGuard no_grad;
  return {conv.weight.detach().flatten(1).clone(), conv.bias.detach().clone()};
}

}  // namespace

torch::MemoryFormat fastest_inference_layout(const torch::Device& device) {
  return device.is_cpu() ? torch::MemoryFormat::ChannelsLast : torch::MemoryFormat::Contiguous;
}

InferenceNet::InferenceNet(const EfficientNetImpl& model, std::optional<torch::MemoryFormat> chosen,
                           bool allow_onednn)
    : layout_(chosen.value_or(fastest_inference_layout(model.conv_stem->weight.device()))) {
  torch::NoGradGuard no_grad;
  const torch::MemoryFormat layout = layout_;
  net_.stem = fold_batch_norm(*model.conv_stem, *model.bn1, true, layout);
  net_.head = fold_batch_norm(*model.conv_head, *model.bn2, true, layout);
  for (const MBConv& layer : model.layers()) {
    FoldedBlock b;
    b.expands = static_cast<bool>(layer->expand_conv);
    if (b.expands) b.expand = fold_batch_norm(*layer->expand_conv, *layer->expand_bn, true, layout);
    b.kxk = fold_batch_norm(*layer->depthwise_conv, *layer->depthwise_bn, true, layout);
    b.has_se = static_cast<bool>(layer->se);
    if (b.has_se) {
      b.se_reduce = dense_of(*layer->se->conv_reduce);
      b.se_expand = dense_of(*layer->se->conv_expand);
    }
    b.projects = static_cast<bool>(layer->project_conv);
    if (b.projects) b.project = fold_batch_norm(*layer->project_conv, *layer->project_bn, false, layout);
    b.residual = layer->plan.residual;
    b.pool_shortcut = layer->plan.pool_shortcut;
    b.strides = layer->plan.strides;
    b.output_filters = layer->plan.output_filters;
    net_.blocks.push_back(std::move(b));
  }
  net_.classifier = {model.classifier->weight.detach().clone(), model.classifier->bias.detach().clone()};
#ifdef EFFSCALE_HAVE_ONEDNN
  if (allow_onednn && layout_ == torch::MemoryFormat::ChannelsLast) plans_ = std::make_shared<OnednnPlans>();
#else
  (void)allow_onednn;
#endif
}

torch::Tensor FoldedBlock::forward(const torch::Tensor& x) const {
  torch::Tensor y = kxk.forward(expands ? expand.forward(x) : x);
  if (has_se) {
    torch::Tensor s = se_reduce.forward(y.mean({2, 3}));
    torch::silu_(s);
    s = se_expand.forward(s).sigmoid_();
    y.mul_(s.view({s.size(0), s.size(1), 1, 1}));
  }
  if (projects) y = project.forward(y);
  if (residual) y.add_(x);
  if (pool_shortcut) y.add_(models::pool_shortcut(x, strides, output_filters));
  return y;
}

bool InferenceNet::runs_onednn(const torch::Tensor& x) const {
#ifdef EFFSCALE_HAVE_ONEDNN
  return plans_ != nullptr && onednn_plan_fits(net_, x);
#else
  (void)x;
  return false;
#endif
}

torch::Tensor InferenceNet::forward(const torch::Tensor& x) const {
  c10::InferenceMode guard;
  const int available = at::get_num_threads();
  const PassWork work = x.device().is_cpu() ? inference_work(net_, x.sizes()) : PassWork{};
#ifdef EFFSCALE_HAVE_ONEDNN
  if (runs_onednn(x)) {
    const int lanes = inference_lanes(work, x.size(0), available);
    if (std::optional<torch::Tensor> logits = plans_->forward(net_, x, lanes)) return *logits;
  }
#endif
  const base::ScopedThreadLimit small_work(x.device().is_cpu() ? threads_for_work(work, available) : available);
  // A grey input is in both layouts at once, and so may be the stem's output (in_layout says why that matters).
  torch::Tensor y = in_layout(net_.stem.forward(in_layout(x, layout_)), layout_);
  for (const FoldedBlock& block : net_.blocks) y = block.forward(y);
  return net_.classifier.forward(net_.head.forward(y).mean({2, 3}));
}

}  // namespace effscale::models
