#include "effscale/models/efficientnet.h"

#include <torch/torch.h>

#include <cmath>
#include <optional>
#include <vector>

#include "effscale/models/batch_norm_training.h"
#include "effscale/models/counts.h"
#include "effscale/models/random_streams.h"
#include "effscale/models/spec_error.h"

namespace effscale::models {

namespace {

// Keeps the mask stream apart from the weights' stream of the same seed.
constexpr uint64_t kNoiseStream = 0x6e6f697365ULL;

}  // namespace

EfficientNetImpl::EfficientNetImpl(ArchSpec spec_, std::optional<uint64_t> seed_) : spec(std::move(spec_)) {
  std::lock_guard<std::recursive_mutex> lock(global_generator_mutex());
  seed = seed_ ? *seed_ : draw_global_seed();
  reset();
}

void EfficientNetImpl::reset() {
  std::lock_guard<std::recursive_mutex> lock(global_generator_mutex());
  noise = make_cpu_generator(seed ^ kNoiseStream);
  const std::vector<LayerPlan> plans = plan_layers(spec);  // validates the spec
  check_buildable(spec);
  const int64_t stem = realized_stem_filters(spec);
  const int64_t head = realized_head_filters(spec);
  conv_stem = register_module(
      "conv_stem", Conv2dPad(Conv2dPadOptions(spec.in_channels, stem, 3).stride({2, 2}).padding(spec.padding)));
  bn1 = register_module("bn1", make_batch_norm(stem, spec.bn));

  blocks = register_module("blocks", torch::nn::ModuleList());
  torch::nn::ModuleList stage{nullptr};
  for (const LayerPlan& plan : plans) {
    if (plan.index_in_stage == 0) {
      stage = torch::nn::ModuleList();
      blocks->push_back(stage);
    }
    stage->push_back(MBConv(plan, spec.bn, spec.padding, noise));
  }

  conv_head = register_module(
      "conv_head", Conv2dPad(Conv2dPadOptions(plans.back().output_filters, head, 1).padding(spec.padding)));
  bn2 = register_module("bn2", make_batch_norm(head, spec.bn));
  classifier = register_module("classifier", torch::nn::Linear(head, spec.num_classes));
  init_weights();
}

void EfficientNetImpl::init_weights() {
  torch::NoGradGuard no_grad;
  at::Generator generator = make_cpu_generator(seed);
  for (const auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<Conv2dPadImpl>()) {
      const auto& o = conv->options;
      const double fan_out = double(o.kernel_size() * o.kernel_size() * o.out_channels()) / o.groups();
      conv->weight.normal_(0.0, std::sqrt(2.0 / fan_out), generator);
      if (conv->bias.defined()) conv->bias.zero_();
    } else if (auto* bn = module->as<torch::nn::BatchNorm2dImpl>()) {
      bn->weight.fill_(1.0);
      bn->bias.zero_();
    } else if (auto* linear = module->as<torch::nn::LinearImpl>()) {
      const double range = 1.0 / std::sqrt(double(linear->options.out_features()));
      linear->weight.uniform_(-range, range, generator);
      linear->bias.zero_();
    }
  }
}

int EfficientNetImpl::zero_init_residual_branches() {
  torch::NoGradGuard no_grad;
  int changed = 0;
  for (const MBConv& block : layers()) {
    if (!(block->plan.residual || block->plan.pool_shortcut) || !block->project_bn) continue;
    block->project_bn->weight.zero_();
    ++changed;
  }
  return changed;
}

torch::Tensor EfficientNetImpl::forward_features(const torch::Tensor& x) {
  torch::Tensor y = batch_norm_swish(*bn1, conv_stem->forward(x).contiguous(layout));  // set_layout says why
  for (const auto& stage : *blocks)
    for (const auto& layer : *stage->as<torch::nn::ModuleList>()) y = layer->as<MBConvImpl>()->forward(y);
  return batch_norm_swish(*bn2, conv_head->forward(y));
}

torch::Tensor EfficientNetImpl::forward(const torch::Tensor& x) {
  torch::Tensor pooled = forward_features(x).mean({2, 3});
  if (is_training() && spec.dropout > 0) pooled = apply_keep_mask(pooled, pooled.sizes(), 1.0 - spec.dropout, noise);
  return classifier->forward(pooled);
}

void EfficientNetImpl::set_layout(torch::MemoryFormat format) {
  torch::NoGradGuard no_grad;
  for (auto& p : parameters())
    if (p.dim() == 4) p.set_data(in_layout(p, format));
  for (auto& b : buffers())
    if (b.dim() == 4) b.set_data(in_layout(b, format));
  layout = format;
}

namespace {

// The strides `format` gives a fresh tensor of t's shape, computed without allocating one (the inference form calls
// in_layout on every batch); nullopt for formats other than contiguous and 4-D channels_last.
std::optional<std::vector<int64_t>> fresh_strides(const torch::Tensor& t, torch::MemoryFormat format) {
  if (format == torch::MemoryFormat::ChannelsLast && t.dim() == 4) return c10::get_channels_last_strides_2d(t.sizes());
  if (format != torch::MemoryFormat::Contiguous) return std::nullopt;
  std::vector<int64_t> strides(t.dim(), 1);
  for (int64_t d = t.dim() - 2; d >= 0; --d) strides[d] = strides[d + 1] * t.size(d + 1);
  return strides;
}

}  // namespace

torch::Tensor in_layout(const torch::Tensor& t, torch::MemoryFormat format) {
  if (const auto strides = fresh_strides(t, format)) {
    if (t.strides() == torch::IntArrayRef(*strides)) return t;
    return torch::empty_like(t, t.options(), format).copy_(t);
  }
  torch::Tensor out = torch::empty_like(t, t.options(), format);
  return out.strides() == t.strides() ? t : out.copy_(t);
}

std::vector<MBConv> EfficientNetImpl::layers() const {
  std::vector<MBConv> flat;
  for (const auto& stage : *blocks)
    for (const auto& layer : *stage->as<torch::nn::ModuleList>())
      flat.emplace_back(std::dynamic_pointer_cast<MBConvImpl>(layer));
  return flat;
}

int64_t count_module_params(const torch::nn::Module& module) {
  int64_t total = 0;
  for (const torch::Tensor& p : module.parameters())
    if (p.requires_grad()) total += p.numel();
  return total;
}

}  // namespace effscale::models
