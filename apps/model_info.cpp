// model_info: parameters, multiply-adds, repeats and channels of an EfficientNet spec, from the spec
// alone (no weights, no forward pass).

#include <boost/program_options.hpp>

#include <iostream>

#include "effscale/cli/app_main.h"
#include "effscale/cli/command_line.h"
#include "effscale/cli/output_table.h"
#include "effscale/models/counts.h"
#include "effscale/models/official.h"
#include "effscale/models/spec_json.h"

namespace po = boost::program_options;
using effscale::cli::OutputTable;
using effscale::cli::UsageError;
namespace m = effscale::models;

namespace {

const char* const kUsage =
    "usage: model_info --model b0..b7|b8|l2|SPEC.json [--resolution R] [--num-classes K] [--width W]\n"
    "                  [--depth D] [--format table|csv|json]\n"
    "       model_info --all [--num-classes K] [--format table|csv|json]\n"
    "Prints a model's parameters and multiply-adds (MACs) computed from its spec.";

OutputTable make_table() {
  return OutputTable({"model", "resolution", "width_mult", "depth_mult", "params", "macs", "repeats", "channels"});
}

// Adds one spec's row: channels are stem, each stage's output, head (all after width rounding).
void add_spec_row(OutputTable& table, const m::ArchSpec& spec) {
  nlohmann::json repeats = nlohmann::json::array(), channels = nlohmann::json::array();
  channels.push_back(m::realized_stem_filters(spec));
  for (const m::BlockArgs& stage : m::realized_stages(spec)) {
    repeats.push_back(stage.num_repeat);
    channels.push_back(stage.output_filters);
  }
  channels.push_back(m::realized_head_filters(spec));
  table.add_row({spec.name, spec.resolution, spec.width_mult, spec.depth_mult, m::count_params(spec),
                 m::count_macs(spec), repeats, channels});
}

int run(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("model", po::value<std::string>(), "official name (b0..b7, b8, l2) or a spec JSON file")
      ("all", po::bool_switch(), "print every official model")
      ("resolution", po::value<int>(), "input resolution for the MACs (default: the model's)")
      ("num-classes", po::value<int>(), "classifier outputs (default: the spec's, 1000 for official models)")
      ("width", po::value<double>(), "override the width multiplier")
      ("depth", po::value<double>(), "override the depth multiplier")
      ("format", po::value<std::string>()->default_value("table"), "table, csv or json");
  auto parsed = effscale::cli::parse_command_line(argc, argv, options, kUsage);
  if (parsed.help_requested) return 0;
  const po::variables_map& vm = parsed.values;
  const auto format = effscale::cli::parse_output_format(vm["format"].as<std::string>());
  const bool all = vm["all"].as<bool>();
  if (all == (vm.count("model") > 0)) throw UsageError("give exactly one of --model or --all");
  if (all && (vm.count("resolution") || vm.count("width") || vm.count("depth")))
    throw UsageError("--resolution, --width and --depth apply to --model, not --all");

  std::vector<m::ArchSpec> specs;
  if (all) {
    for (const std::string& name : m::official_names()) specs.push_back(m::official(name));
  } else {
    specs.push_back(m::spec_from_name_or_file(vm["model"].as<std::string>()));
  }
  OutputTable table = make_table();
  for (m::ArchSpec& spec : specs) {
    if (vm.count("resolution")) spec.resolution = vm["resolution"].as<int>();
    if (vm.count("num-classes")) spec.num_classes = vm["num-classes"].as<int>();
    if (vm.count("width")) spec.width_mult = vm["width"].as<double>();
    if (vm.count("depth")) spec.depth_mult = vm["depth"].as<double>();
    m::validate(spec);
    add_spec_row(table, spec);
  }
  if (format == effscale::cli::OutputFormat::Json && !all) {
    std::cout << table.row_object(0).dump(2) << "\n";
  } else {
    std::cout << table.render(format);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return effscale::cli::run_app("model_info", [&] { return run(argc, argv); });
}
