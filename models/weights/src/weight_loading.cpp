// Strict state-dict loading with a report of every disagreement.

#include "effscale/models/weight_loading.h"

#include <algorithm>

#include <torch/torch.h>

#include <map>
#include <sstream>

#include "effscale/models/weights_error.h"

namespace effscale::models {
namespace {

// Our tensors by our name: parameters, then buffers.
std::vector<std::pair<std::string, torch::Tensor>> model_tensors(EfficientNet& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& item : model->named_parameters()) out.emplace_back(item.key(), item.value());
  for (const auto& item : model->named_buffers()) out.emplace_back(item.key(), item.value());
  return out;
}

bool optional_tensor(const std::string& name) {
  const std::string suffix = "num_batches_tracked";
  return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string shape_text(const torch::Tensor& t) {
  std::ostringstream out;
  out << t.sizes();
  return out.str();
}

// "what: a, b, c (+N more)".
void describe(std::string& report, const std::string& what, const std::vector<std::string>& names) {
  if (names.empty()) return;
  std::string text;
  for (size_t i = 0; i < names.size() && i < 3; ++i) text += (i ? ", " : "") + names[i];
  if (names.size() > 3) text += " (+" + std::to_string(names.size() - 3) + " more)";
  report += (report.empty() ? "" : "; ") + std::to_string(names.size()) + " " + what + ": " + text;
}

}  // namespace

void load_weights(EfficientNet& model, const StateDict& tensors, WeightFormat format, const std::string& source) {
  const WeightNaming naming(model->spec, format);
  std::map<std::string, const torch::Tensor*> file;
  for (const auto& [name, tensor] : tensors) file[name] = &tensor;
  std::vector<std::string> missing, mis_shaped;
  std::vector<std::pair<torch::Tensor, const torch::Tensor*>> copies;
  for (const auto& [ours, target] : model_tensors(model)) {
    const std::string theirs = naming.external(ours);
    const auto it = file.find(theirs);
    if (it == file.end()) {
      if (!optional_tensor(ours)) missing.push_back(theirs);
      continue;
    }
    if (it->second->sizes() != target.sizes())
      mis_shaped.push_back(theirs + " " + shape_text(*it->second) + " vs model " + shape_text(target));
    else
      copies.emplace_back(target, it->second);
    file.erase(it);
  }
  std::vector<std::string> unexpected;
  for (const auto& [name, tensor] : tensors)
    if (file.count(name)) unexpected.push_back(name);
  std::string report;
  describe(report, "missing", missing);
  describe(report, "unexpected", unexpected);
  describe(report, "mis-shaped", mis_shaped);
  if (!report.empty())
    throw WeightsError(source + ": weights do not fit " + model->spec.name + " (" + weight_format_name(format) +
                       " names): " + report);
  torch::NoGradGuard no_grad;
  for (auto& [target, value] : copies) target.copy_(*value);
}

StateDict export_weights(EfficientNet& model, WeightFormat format) {
  const WeightNaming naming(model->spec, format);
  StateDict out;
  for (const auto& [ours, tensor] : model_tensors(model))
    out.emplace_back(naming.external(ours), tensor.detach().to(torch::kCPU).clone());
  return out;
}

WeightFormat detect_weight_format(const StateDict& tensors, bool spec_file) {
  const bool torchvision = std::any_of(tensors.begin(), tensors.end(), [](const auto& entry) {
    return entry.first.rfind("features.", 0) == 0;
  });
  if (torchvision) return WeightFormat::Torchvision;
  return spec_file ? WeightFormat::Effscale : WeightFormat::Timm;
}

int classifier_classes(const StateDict& tensors, WeightFormat format, int fallback) {
  const std::string name = format == WeightFormat::Torchvision ? "classifier.1.weight" : "classifier.weight";
  for (const auto& [key, tensor] : tensors)
    if (key == name && tensor.dim() == 2) return int(tensor.size(0));
  return fallback;
}

}  // namespace effscale::models
