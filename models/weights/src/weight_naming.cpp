// Name translation between our (timm) names and torchvision's, driven by the layer plan.

#include "effscale/models/weight_naming.h"

#include "effscale/models/spec_error.h"
#include "effscale/models/weights_error.h"

namespace effscale::models {
namespace {

// Splits "a.b.c" into its parts.
std::vector<std::string> split_dots(const std::string& name) {
  std::vector<std::string> parts;
  size_t begin = 0;
  for (;;) {
    const size_t dot = name.find('.', begin);
    parts.push_back(name.substr(begin, dot - begin));
    if (dot == std::string::npos) return parts;
    begin = dot + 1;
  }
}

std::string join_from(const std::vector<std::string>& parts, size_t first) {
  std::string out;
  for (size_t i = first; i < parts.size(); ++i) out += (out.empty() ? "" : ".") + parts[i];
  return out;
}

bool is_index(const std::string& text) {
  return !text.empty() && text.size() < 6 && text.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

WeightFormat parse_weight_format(const std::string& text) {
  if (text == "effscale") return WeightFormat::Effscale;
  if (text == "timm") return WeightFormat::Timm;
  if (text == "torchvision") return WeightFormat::Torchvision;
  throw SpecError("unknown weights format '" + text + "' (expected torchvision, timm or effscale)");
}

std::string weight_format_name(WeightFormat format) {
  switch (format) {
    case WeightFormat::Effscale: return "effscale";
    case WeightFormat::Timm: return "timm";
    case WeightFormat::Torchvision: return "torchvision";
  }
  return "effscale";
}

WeightNaming::WeightNaming(const ArchSpec& spec, WeightFormat format)
    : format_(format), plan_(plan_layers(spec)), stages_(int(spec.stages.size())) {}

std::string WeightNaming::external(const std::string& name) const {
  if (format_ != WeightFormat::Torchvision) return name;
  const std::string out = torchvision(name);
  if (out.empty()) throw WeightsError("no torchvision name for tensor " + name);
  return out;
}

// Stem features.0.{0,1}, stage s features.(s+1).j.block.k, head features.(S+1).{0,1}, classifier.1.
// Inside a block, torchvision numbers the submodules in order: [expand conv+BN], depthwise conv+BN,
// [SE fc1/fc2], project conv+BN.
std::string WeightNaming::torchvision(const std::string& name) const {
  const auto p = split_dots(name);
  if (p.size() < 2) return "";
  const std::string leaf = join_from(p, 1);
  if (p[0] == "conv_stem") return "features.0.0." + leaf;
  if (p[0] == "bn1") return "features.0.1." + leaf;
  if (p[0] == "conv_head") return "features." + std::to_string(stages_ + 1) + ".0." + leaf;
  if (p[0] == "bn2") return "features." + std::to_string(stages_ + 1) + ".1." + leaf;
  if (p[0] == "classifier") return "classifier.1." + leaf;
  if (p[0] != "blocks" || p.size() < 5 || !is_index(p[1]) || !is_index(p[2])) return "";
  const int stage = std::stoi(p[1]), index = std::stoi(p[2]);
  const LayerPlan* layer = nullptr;
  for (const LayerPlan& l : plan_)
    if (l.stage == stage && l.index_in_stage == index) layer = &l;
  if (!layer || layer->has_regular_kxk()) return "";  // torchvision's EfficientNet (v1) has no fused or plain block
  const bool expand = layer->has_expand_conv();
  const int dw = expand ? 1 : 0;
  const int se = dw + 1;
  const int project = layer->se_filters > 0 ? se + 1 : se;
  const std::string prefix = "features." + std::to_string(stage + 1) + "." + p[2] + ".block.";
  const std::string& module = p[3];
  const std::string rest = join_from(p, 4);
  auto conv = [&](int k) { return prefix + std::to_string(k) + ".0." + rest; };
  auto bn = [&](int k) { return prefix + std::to_string(k) + ".1." + rest; };
  if (module == "se" && p.size() >= 6) {
    const std::string tail = join_from(p, 5);
    if (p[4] == "conv_reduce") return prefix + std::to_string(se) + ".fc1." + tail;
    if (p[4] == "conv_expand") return prefix + std::to_string(se) + ".fc2." + tail;
    return "";
  }
  if (module == "conv_dw") return conv(dw);
  if (expand) {
    if (module == "conv_pw") return conv(0);
    if (module == "bn1") return bn(0);
    if (module == "bn2") return bn(dw);
    if (module == "conv_pwl") return conv(project);
    if (module == "bn3") return bn(project);
  } else {
    if (module == "bn1") return bn(dw);
    if (module == "conv_pw") return conv(project);
    if (module == "bn2") return bn(project);
  }
  return "";
}

ArchSpec with_weight_conventions(ArchSpec spec, WeightFormat format, bool tf_variant) {
  switch (format) {
    case WeightFormat::Effscale:
      return spec;
    case WeightFormat::Torchvision: {
      const bool large = spec.name == "b5" || spec.name == "b6" || spec.name == "b7";
      spec.padding = Padding::Symmetric;
      spec.bn = large ? BatchNormConfig{1e-3, 0.01} : BatchNormConfig{1e-5, 0.1};
      return spec;
    }
    case WeightFormat::Timm:
      spec.padding = tf_variant ? Padding::TfSame : Padding::Symmetric;
      spec.bn = tf_variant ? BatchNormConfig{1e-3, 0.1} : BatchNormConfig{1e-5, 0.1};
      return spec;
  }
  return spec;
}

}  // namespace effscale::models
