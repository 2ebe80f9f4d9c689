// predict: loads weights (torchvision, timm or ours; torch.save or safetensors) into an EfficientNet and
// classifies images or a saved N x C x H x W tensor; prints the top-k and optionally saves the logits.

#include <boost/program_options.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>

#include "effscale/cli/app_main.h"
#include "effscale/cli/command_line.h"
#include "effscale/cli/output_table.h"
#include "effscale/base/cpu_runtime.h"
#include "effscale/models/efficientnet.h"
#include "effscale/models/inference_net.h"
#include "effscale/models/spec_json.h"
#include "effscale/models/state_dict_file.h"
#include "effscale/models/torch_archive.h"
#include "effscale/models/weight_loading.h"
#include "effscale/models/weights_error.h"
#include "effscale/trainers/class_names.h"
#include "effscale/trainers/transforms.h"

namespace po = boost::program_options;
namespace cli = effscale::cli;
using effscale::cli::UsageError;
namespace m = effscale::models;
namespace t = effscale::trainers;

namespace {

const char* const kUsage =
    "usage: predict --model NAME|SPEC.json --weights FILE [--weights-format torchvision|timm|effscale]\n"
    "               --input IMAGE|TENSOR.pt [--input ...] [--output LOGITS.pt] [--topk 5] [--threads N]\n"
    "Loads weights into an EfficientNet and classifies images (JPEG/PNG, evaluated with the reference\n"
    "preprocessing: 0.875 center crop, bicubic resize to the model's resolution, ImageNet mean/std) or an\n"
    "N x C x H x W tensor saved with torch.save. NAME is b0..b7, efficientnet_b0.. or timm's\n"
    "tf_efficientnet_b0.. (TF 'same' padding, BN eps 1e-3). Without --weights-format, names starting with\n"
    "'features.' mean torchvision, others timm for a NAME and effscale for a SPEC.json. The class count comes\n"
    "from the classifier in the weights; class names from --class-map or classes.json beside the weights.";

// What --model names: the spec and whether it is timm's TF-ported variant.
struct ModelChoice {
  m::ArchSpec spec;
  bool tf_variant = false;
  bool from_file = false;  // a spec JSON rather than a model name
};

ModelChoice resolve_model(const std::string& text) {
  if (text.size() > 5 && text.substr(text.size() - 5) == ".json") return {m::read_spec_file(text), false, true};
  std::string name = text;
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  ModelChoice choice;
  if (name.rfind("tf_", 0) == 0) {
    choice.tf_variant = true;
    name.erase(0, 3);
  }
  if (name.rfind("efficientnet_", 0) == 0) name.erase(0, 13);
  choice.spec = m::spec_from_name_or_file(name);
  return choice;
}

// One input file as a float batch: a saved tensor as it is (checked), an image through the eval transform.
torch::Tensor load_input(const std::string& path, const m::ArchSpec& spec) {
  if (m::is_torch_archive(path)) {
    const m::PickleRef value = m::read_torch_file(path);
    if (value->kind != m::PickleValue::Kind::Tensor)
      throw UsageError(path + ": holds a " + value->describe() + ", expected an N x C x H x W tensor");
    const torch::Tensor x = value->tensor;
    if (x.dim() != 4)
      throw UsageError(path + ": tensor of rank " + std::to_string(x.dim()) + ", expected N x C x H x W");
    if (x.numel() == 0)
      throw UsageError(path + ": tensor of " + std::to_string(x.size(0)) + " x " + std::to_string(x.size(1)) + " x " +
                       std::to_string(x.size(2)) + " x " + std::to_string(x.size(3)) + " holds no pixel");
    if (x.size(1) != spec.in_channels)
      throw UsageError(path + ": tensor has " + std::to_string(x.size(1)) + " channels, the model takes " +
                       std::to_string(spec.in_channels));
    if (!x.is_floating_point()) throw UsageError(path + ": tensor is not floating point");
    return x.to(torch::kFloat);
  }
  if (!t::transforms_make_channels(spec.in_channels))
    throw UsageError(path + ": an image is grey or RGB and the model takes " + std::to_string(spec.in_channels) +
                     " channels; give it as an N x C x H x W tensor");
  t::TransformOptions transform;
  transform.resolution = spec.resolution;
  transform.channels = spec.in_channels;
  torch::Tensor x = torch::empty({1, transform.channels, transform.resolution, transform.resolution});
  t::transform_image_file(path, transform, /*training=*/false, 0, x.data_ptr<float>());  // decodes the crop only
  return x;
}

// The class names for `classes` outputs: --class-map, else classes.json beside the weights, else none. Throws
// UsageError when the map names fewer classes than the model has.
std::vector<std::string> class_names_for(const po::variables_map& vm, const std::string& weights_path, int classes) {
  const std::filesystem::path beside = std::filesystem::path(weights_path).parent_path() / "classes.json";
  std::string path;
  if (vm.count("class-map")) path = vm["class-map"].as<std::string>();
  else if (std::filesystem::is_regular_file(beside)) path = beside.string();
  if (path.empty()) return {};
  const std::vector<std::string> names = t::read_class_names(path);
  if (int(names.size()) < classes)
    throw UsageError(path + ": names " + std::to_string(names.size()) + " classes, the model has " + std::to_string(classes));
  return names;
}

// The `topk` most probable classes of each input, with their names when `names` has them.
effscale::cli::OutputTable top_classes(const torch::Tensor& logits, const std::vector<std::string>& sources, int topk,
                                       const std::vector<std::string>& names) {
  const auto [probs, classes] = torch::softmax(logits, 1).topk(std::min<int64_t>(topk, logits.size(1)), 1);
  std::vector<std::string> columns = {"input", "rank", "class", "probability", "logit"};
  if (!names.empty()) columns.push_back("name");
  effscale::cli::OutputTable table(columns);
  for (int64_t i = 0; i < logits.size(0); ++i)
    for (int64_t r = 0; r < probs.size(1); ++r) {
      const int64_t cls = classes[i][r].item<int64_t>();
      std::vector<nlohmann::json> row = {sources[size_t(i)], r + 1, cls, probs[i][r].item<double>(), logits[i][cls].item<double>()};
      if (!names.empty()) row.push_back(names[size_t(cls)]);
      table.add_row(row);
    }
  return table;
}

int run(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("model", po::value<std::string>(), "b0..b7, efficientnet_bN, tf_efficientnet_bN, or a spec JSON file")
      ("weights", po::value<std::string>(), "weights: torch.save state dict or checkpoint, or safetensors")
      ("weights-format", po::value<std::string>(), "torchvision, timm or effscale (default: from the names)")
      ("weights-key", po::value<std::string>()->default_value(""), "checkpoint key holding the state dict")
      ("input", po::value<std::vector<std::string>>(), "image (JPEG/PNG) or tensor file; repeatable")
      ("output", po::value<std::string>(), "write the logits [N, classes] here, readable by torch.load")
      ("topk", po::value<int>()->default_value(5), "classes to print per input")
      ("resolution", po::value<int>(), "image input resolution (default: the model's)")
      ("class-map", po::value<std::string>(),
       "class names: a JSON array or one name per line (default: classes.json beside the weights, when there)")
      ("threads", po::value<int>()->default_value(0)->notifier(cli::at_least("--threads", 0)), "CPU threads (0: the cores divided among the effscale processes running, following them as they come and go)")
      ("format", po::value<std::string>()->default_value("table"), "table, csv or json");
  po::positional_options_description positional;
  positional.add("input", -1);
  auto parsed = effscale::cli::parse_command_line(argc, argv, options, kUsage, &positional);
  if (parsed.help_requested) return 0;
  const po::variables_map& vm = parsed.values;
  for (const char* required : {"model", "weights", "input"})
    if (!vm.count(required)) throw UsageError(std::string("--") + required + " is required");
  const auto format_out = effscale::cli::parse_output_format(vm["format"].as<std::string>());
  const int topk = vm["topk"].as<int>();
  if (topk < 1) throw UsageError("--topk must be at least 1");
  effscale::base::configure_cpu_runtime(vm["threads"].as<int>());

  const ModelChoice choice = resolve_model(vm["model"].as<std::string>());
  const std::string weights_path = vm["weights"].as<std::string>();
  m::StateDict tensors;
  try {
    tensors = m::read_state_dict(weights_path, vm["weights-key"].as<std::string>());
  } catch (const m::StateDictKeyError& e) {  // the library names the file and the keys; the flag that picks one is ours
    throw UsageError(std::string(e.what()) + " with --weights-key");
  }
  const m::WeightFormat format = vm.count("weights-format")
                                     ? m::parse_weight_format(vm["weights-format"].as<std::string>())
                                     : m::detect_weight_format(tensors, choice.from_file);
  m::ArchSpec spec = m::with_weight_conventions(choice.spec, format, choice.tf_variant);
  spec.num_classes = m::classifier_classes(tensors, format, spec.num_classes);
  if (vm.count("resolution")) spec.resolution = vm["resolution"].as<int>();
  m::validate(spec);
  m::EfficientNet model(spec);
  m::load_weights(model, tensors, format, weights_path);
  model->eval();

  std::vector<torch::Tensor> batches;
  std::vector<std::string> sources;
  for (const std::string& path : vm["input"].as<std::vector<std::string>>()) {
    batches.push_back(load_input(path, spec));
    for (int64_t i = 0; i < batches.back().size(0); ++i)
      sources.push_back(batches.back().size(0) == 1 ? path : path + "[" + std::to_string(i) + "]");
  }
  const m::InferenceNet folded(*model);
  std::vector<torch::Tensor> outputs;
  for (const torch::Tensor& batch : batches) outputs.push_back(folded.forward(batch));
  const torch::Tensor logits = torch::cat(outputs);
  if (vm.count("output")) m::write_torch_file(vm["output"].as<std::string>(), logits);

  std::cout << top_classes(logits, sources, topk, class_names_for(vm, weights_path, spec.num_classes)).render(format_out);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return effscale::cli::run_app("predict", [&] { return run(argc, argv); });
}
