// train_model: trains one EfficientNet spec on a dataset with the paper's recipe, resumably, and records
// the run as a trial in the study database when --study is given.

#include <boost/program_options.hpp>

#include <filesystem>
#include <iostream>

#include "effscale/cli/app_main.h"
#include "effscale/cli/command_line.h"
#include "effscale/cli/output_table.h"
#include "effscale/cli/training_flags.h"
#include "effscale/base/cpu_runtime.h"
#include "effscale/models/counts.h"
#include "effscale/models/spec_json.h"
#include "effscale/trainers/data_parallel_run.h"
#include "effscale/trainers/recorded_training.h"
#include "effscale/store/study_owner.h"

namespace po = boost::program_options;
namespace m = effscale::models;
namespace st = effscale::store;
namespace tr = effscale::trainers;
namespace cli = effscale::cli;

namespace {

const char* const kUsage =
    "usage: train_model --model b0..b7|SPEC.json [--width-mult W --depth-mult D --resolution R] [--in-channels 1]\n"
    "                   [--proxy-resolution R --proxy-width W --proxy-depth D --proxy-divisor Q] [--split-seed N]\n"
    "                   --dataset fashion-mnist|mnist|cifar10|cifar100|folder [--data-dir DIR] [--epochs E]\n"
    "                   [--batch-size B] [--lr LR] [--train-limit N] [--val-fraction F] [--output-dir DIR] [--resume]\n"
    "                   [--study S --storage URL] [--seed N] [--threads N] [--device D] [--config FILE.ini]\n"
    "Trains with RMSProp (TF form), warmup + staircase decay, label smoothing and EMA; checkpoints every epoch.\n"
    "Data-parallel: start it with torchrun --no_python (or set RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT);\n"
    "--batch-size is then the global batch, and rank 0 writes, records and prints.";

int run(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("model", po::value<std::string>()->required(), "official name (b0..b7) or a spec JSON file")
      ("width-mult", po::value<double>(), "replace the spec's width multiplier (--proxy-width multiplies it)")
      ("depth-mult", po::value<double>(), "replace the spec's depth multiplier (--proxy-depth multiplies it)")
      ("resolution", po::value<int>(), "train and evaluate at this resolution (default: the spec's)")
      ("output-dir", po::value<std::string>(), "checkpoint, spec and result go here (default: runs/MODEL-DATASET)")
      ("resume", po::bool_switch(), "continue from the checkpoint in --output-dir")
      ("study", po::value<std::string>()->notifier(cli::not_empty("--study")), "record the run as a trial of this study")
      ("storage", po::value<std::string>()->default_value(st::default_storage_url()), "study database URL")
      ("format", po::value<std::string>()->default_value("table"), "summary format: table, csv or json");
  options.add(cli::proxy_options()).add(cli::training_options());
  auto parsed = effscale::cli::parse_command_line(argc, argv, options, kUsage);
  if (parsed.help_requested) return 0;
  const po::variables_map& vm = parsed.values;
  const auto format = effscale::cli::parse_output_format(vm["format"].as<std::string>());
  const std::optional<tr::Rendezvous> rendezvous = tr::rendezvous_from_environment();
  effscale::base::configure_cpu_runtime(tr::threads_for_process(vm["threads"].as<int>(), rendezvous));
  tr::ProxyTraining training = cli::proxy_training_from(vm);
  const std::unique_ptr<st::Pruner> pruner = st::make_pruner(cli::pruner_from(vm));

  const tr::ProxyData data = cli::load_data_from(vm);
  cli::adapt_recipe_to_run(vm, data, training);  // its note prints as training starts
  m::ArchSpec spec = m::spec_from_name_or_file(vm["model"].as<std::string>());
  if (vm.count("width-mult")) spec.width_mult = vm["width-mult"].as<double>();
  if (vm.count("depth-mult")) spec.depth_mult = vm["depth-mult"].as<double>();
  if (vm.count("resolution")) spec.resolution = vm["resolution"].as<int>();
  const m::ArchSpec nominal = spec;
  spec = tr::shrink_to_proxy(spec, training.proxy);  // --in-channels, --proxy-*
  // A proxy run also records the nominal network's size, as the search records its candidates': reports compare
  // networks by what they cost at full size.
  nlohmann::json attrs = nlohmann::json::object();
  if (m::spec_to_json_value(spec) != m::spec_to_json_value(nominal))
    attrs = {{"target_macs", m::count_macs(nominal)}, {"target_params", m::count_params(nominal)}};
  spec = tr::adapt_spec(spec, training.bn_momentum, data.num_classes);
  const std::string out_dir =
      vm.count("output-dir") ? vm["output-dir"].as<std::string>() : "runs/" + spec.name + "-" + data.dataset;
  tr::TrainerOptions trainer = tr::options_for_run(training.recipe, spec, out_dir);
  trainer.resume = vm["resume"].as<bool>();
  if (!trainer.resume && std::filesystem::exists(std::filesystem::path(out_dir) / "result.json"))
    throw cli::UsageError("--output-dir '" + out_dir + "' holds a finished run; give --resume to report it again (nothing is "
                     "retrained) or choose another --output-dir");
  tr::use_data_parallel(tr::join_data_parallel(rendezvous), trainer);
  const bool leader = !trainer.group || trainer.group->leader();

  std::unique_ptr<st::Storage> storage;
  std::optional<st::Trial> trial;
  if (vm.count("study") && leader) {
    storage = st::open_storage(vm["storage"].as<std::string>(), true, cli::schema_from(vm));
    const int64_t study =
        st::open_study_for(*storage, vm["study"].as<std::string>(), {st::StudyDirection::Maximize}, "train_model").study_id;
    trial = tr::open_run_trial(*storage, study, out_dir, trainer.resume);
  }
  const nlohmann::json row =
      tr::run_recorded_training(storage.get(), trial, spec, data, trainer, out_dir, attrs, std::cerr,
                                 nullptr, pruner.get());
  if (!leader) return 0;  // rank 0 prints the summary
  effscale::cli::OutputTable table({"model", "dataset", "epochs", "val_top1", "val_top5", "test_top1", "test_top5",
                                    "params", "macs", "resolution", "wall_s"});
  std::vector<nlohmann::json> cells;
  for (const char* key : {"model", "dataset", "epochs", "val_top1", "val_top5", "test_top1", "test_top5", "params",
                          "macs", "resolution", "wall_s"})
    cells.push_back(row[key]);
  table.add_row(cells);
  std::cout << (format == effscale::cli::OutputFormat::Json ? row.dump(2) + "\n" : table.render(format));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return effscale::cli::run_app("train_model", [&] { return run(argc, argv); });
}
