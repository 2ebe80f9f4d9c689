// train_model: trains one EfficientNet spec on a dataset with the paper's recipe, resumably, and records
// the run as a trial in the study database when --study is given.

#include <torch/torch.h>

#include <boost/program_options.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <optional>

#include "effscale/cli/app_main.h"
#include "effscale/cli/command_line.h"
#include "effscale/cli/output_table.h"
#include "effscale/models/atomic_file.h"
#include "effscale/models/counts.h"
#include "effscale/models/cpu_runtime.h"
#include "effscale/models/spec_json.h"
#include "effscale/store/storage.h"
#include "effscale/store/trial_heartbeat.h"
#include "effscale/trainers/dataset_readers.h"
#include "effscale/trainers/trainer.h"

namespace po = boost::program_options;
namespace m = effscale::models;
namespace st = effscale::store;
namespace tr = effscale::trainers;
using effscale::cli::UsageError;
using nlohmann::json;

namespace {

const char* const kUsage =
    "usage: train_model --model b0..b7|SPEC.json --dataset fashion-mnist|mnist|cifar10|cifar100 [--data-dir DIR]\n"
    "                   [--epochs E] [--batch-size B] [--lr LR] [--train-limit N] [--val-fraction F]\n"
    "                   [--output-dir DIR] [--resume] [--study S --storage URL] [--seed N] [--threads N] [--device D]\n"
    "Trains with RMSProp (TF form), warmup + staircase decay, label smoothing and EMA; checkpoints every epoch.";

po::options_description make_options() {
  po::options_description o("options");
  o.add_options()
      ("model", po::value<std::string>()->required(), "official name (b0..b7) or a spec JSON file")
      ("width-mult", po::value<double>(), "override the width multiplier")
      ("depth-mult", po::value<double>(), "override the depth multiplier")
      ("resolution", po::value<int>(), "train and evaluate at this resolution (default: the spec's)")
      ("in-channels", po::value<int>(), "1 for a grey stem; default: the spec's (grey images are replicated)")
      ("dataset", po::value<std::string>()->default_value("fashion-mnist"), "fashion-mnist, mnist, cifar10, cifar100")
      ("data-dir", po::value<std::string>()->default_value(""), "dataset folder (default for fashion-mnist: Debian's)")
      ("epochs", po::value<int64_t>()->default_value(5), "epochs")
      ("batch-size", po::value<int64_t>()->default_value(64), "batch size")
      ("lr", po::value<double>()->default_value(0.016), "peak learning rate per 256 images")
      ("optimizer", po::value<std::string>()->default_value("rmsprop_tf"), "rmsprop_tf, sgd or adamw")
      ("schedule", po::value<std::string>()->default_value("exponential"), "exponential (staircase) or cosine")
      ("warmup-epochs", po::value<double>()->default_value(5), "linear warmup epochs (capped below --epochs)")
      ("weight-decay", po::value<double>()->default_value(1e-5), "weight decay on non-BN weights")
      ("label-smoothing", po::value<double>()->default_value(0.1), "label smoothing")
      ("ema-decay", po::value<double>()->default_value(0.9999), "EMA decay (0: no EMA)")
      ("bn-recalibrate", po::value<int64_t>()->default_value(0), "re-estimate BN statistics from N training batches before each evaluation")
      ("bn-momentum", po::value<double>(), "override the spec's BN momentum (PyTorch sense; the paper's is 0.01)")
      ("crop-min-area", po::value<double>()->default_value(0.08), "random-resized crop minimum area fraction")
      ("eval-crop", po::value<double>()->default_value(0.875), "evaluation center-crop fraction")
      ("train-limit", po::value<int64_t>()->default_value(0), "train on this many samples (0: all)")
      ("val-fraction", po::value<double>()->default_value(0.1), "held-out validation fraction of the training set")
      ("output-dir", po::value<std::string>(), "checkpoint, spec and result go here (default: runs/MODEL-DATASET)")
      ("resume", po::bool_switch(), "continue from the checkpoint in --output-dir")
      ("study", po::value<std::string>(), "record the run as a trial of this study")
      ("storage", po::value<std::string>()->default_value(st::default_storage_url()), "study database URL")
      ("seed", po::value<uint64_t>()->default_value(0), "seed for weights, data order and augmentation")
      ("threads", po::value<int>()->default_value(0), "CPU threads (0: all cores)")
      ("device", po::value<std::string>()->default_value("auto"), "auto, cpu, cuda or cuda:N")
      ("format", po::value<std::string>()->default_value("table"), "summary format: table, csv or json");
  return o;
}

m::ArchSpec spec_for(const po::variables_map& vm, int64_t num_classes) {
  m::ArchSpec spec = m::spec_from_name_or_file(vm["model"].as<std::string>());
  if (vm.count("width-mult")) spec.width_mult = vm["width-mult"].as<double>();
  if (vm.count("depth-mult")) spec.depth_mult = vm["depth-mult"].as<double>();
  if (vm.count("resolution")) spec.resolution = vm["resolution"].as<int>();
  if (vm.count("in-channels")) spec.in_channels = vm["in-channels"].as<int>();
  if (vm.count("bn-momentum")) spec.bn.momentum = vm["bn-momentum"].as<double>();
  spec.num_classes = static_cast<int>(num_classes);
  m::validate(spec);
  return spec;
}

tr::TrainerOptions trainer_options(const po::variables_map& vm, const m::ArchSpec& spec, const std::string& out_dir) {
  tr::TrainerOptions o;
  o.epochs = vm["epochs"].as<int64_t>();
  o.batch_size = vm["batch-size"].as<int64_t>();
  o.lr_per_256 = vm["lr"].as<double>();
  o.optimizer.kind = tr::parse_optimizer_kind(vm["optimizer"].as<std::string>());
  if (o.optimizer.kind == tr::OptimizerKind::AdamW) o.optimizer.eps = 1e-8;
  o.optimizer.weight_decay = vm["weight-decay"].as<double>();
  o.schedule.kind = vm["schedule"].as<std::string>();
  o.schedule.warmup_epochs = std::min(vm["warmup-epochs"].as<double>(), 0.5 * double(o.epochs));
  o.schedule.total_epochs = double(o.epochs);
  o.label_smoothing = vm["label-smoothing"].as<double>();
  o.ema_decay = vm["ema-decay"].as<double>();
  o.bn_recalibration_batches = vm["bn-recalibrate"].as<int64_t>();
  o.transform.resolution = spec.resolution;
  o.transform.channels = spec.in_channels;
  o.transform.crop_min_area = vm["crop-min-area"].as<double>();
  o.transform.eval_crop = vm["eval-crop"].as<double>();
  o.seed = vm["seed"].as<uint64_t>();
  o.checkpoint_path = (std::filesystem::path(out_dir) / "checkpoint.pt").string();
  o.resume = vm["resume"].as<bool>();
  o.device = tr::parse_device(vm["device"].as<std::string>());
  if (!(o.transform.crop_min_area > 0 && o.transform.crop_min_area <= 1)) throw UsageError("--crop-min-area must be in (0, 1]");
  if (!(o.transform.eval_crop > 0 && o.transform.eval_crop <= 1)) throw UsageError("--eval-crop must be in (0, 1]");
  tr::learning_rate(o.schedule, 0);  // rejects an unknown schedule now, not after loading data
  return o;
}

// The trial this run reports to: when resuming, the one recorded in out_dir if it is still running (a
// killed run) or complete (a finished run run again: nothing is recorded twice); otherwise a new one.
st::Trial open_trial(st::Storage& storage, int64_t study_id, const std::string& out_dir, bool resume) {
  const std::string marker = (std::filesystem::path(out_dir) / "trial_id").string();
  if (resume && std::filesystem::exists(marker)) {
    try {
      const st::Trial t = storage.get_trial(std::stoll(m::read_whole_file(marker)));
      if (t.study_id == study_id && (t.state == st::TrialState::Running || t.state == st::TrialState::Complete)) return t;
    } catch (const std::exception&) {
      // An unreadable marker or a trial from another database: start a new trial.
    }
  }
  const st::TrialRef ref = storage.create_trial(study_id);
  m::write_file_atomically(marker, std::to_string(ref.trial_id));
  return storage.get_trial(ref.trial_id);
}

int run(int argc, char** argv) {
  auto parsed = effscale::cli::parse_command_line(argc, argv, make_options(), kUsage);
  if (parsed.help_requested) return 0;
  const po::variables_map& vm = parsed.values;
  const auto format = effscale::cli::parse_output_format(vm["format"].as<std::string>());
  const int threads = m::configure_cpu_runtime(vm["threads"].as<int>());
  const auto wall_start = std::chrono::steady_clock::now();

  const std::string dataset = vm["dataset"].as<std::string>();
  tr::DatasetFiles files = tr::load_named_dataset(dataset, vm["data-dir"].as<std::string>());
  const uint64_t seed = vm["seed"].as<uint64_t>();
  const tr::TrainValidationSplit split =
      tr::split_validation(tr::take_subset(files.train, vm["train-limit"].as<int64_t>(), seed), vm["val-fraction"].as<double>(), seed);
  const m::ArchSpec spec = spec_for(vm, files.train.num_classes);
  const std::string out_dir = vm.count("output-dir") ? vm["output-dir"].as<std::string>() : "runs/" + spec.name + "-" + dataset;
  const tr::TrainerOptions options = trainer_options(vm, spec, out_dir);
  std::filesystem::create_directories(out_dir);
  m::write_spec_file((std::filesystem::path(out_dir) / "spec.json").string(), spec);

  std::unique_ptr<st::Storage> storage;
  std::optional<st::Trial> trial;
  std::unique_ptr<st::TrialHeartbeat> heartbeat;
  if (vm.count("study")) {
    storage = st::open_storage(vm["storage"].as<std::string>());
    const int64_t study = storage->create_or_load_study(vm["study"].as<std::string>(), {st::StudyDirection::Maximize}).study_id;
    trial = open_trial(*storage, study, out_dir, options.resume);
    if (trial->state == st::TrialState::Running)
      heartbeat = std::make_unique<st::TrialHeartbeat>(*storage, trial->trial_id, std::chrono::seconds(10));
    const json attrs = {{"model", spec.name}, {"stages", json::parse(m::spec_to_json(spec))["stages"]},
                        {"params", m::count_params(spec)}, {"macs", m::count_macs(spec)},
                        {"resolution", spec.resolution}, {"dataset", dataset}, {"epochs", options.epochs},
                        {"batch_size", options.batch_size}, {"seed", seed}, {"threads", threads},
                        {"checkpoint", options.checkpoint_path}};
    if (trial->state == st::TrialState::Running)
      for (const auto& [key, value] : attrs.items()) storage->set_trial_attr(trial->trial_id, key, value, false);
  }

  torch::manual_seed(seed);
  m::EfficientNet model(spec);
  tr::TrainerCallbacks callbacks;
  callbacks.on_progress = [](const tr::StepProgress& p) {
    std::cerr << "epoch " << p.epoch << "/" << p.epochs << "  step " << p.step << "/" << p.steps << "  loss "
              << p.loss << "  lr " << p.lr << "  " << static_cast<int>(p.images_per_second) << " img/s  eta "
              << static_cast<int>(p.eta_seconds) << "s\n";
  };
  callbacks.on_epoch = [&](const tr::EpochReport& r) {
    std::cerr << "epoch " << r.epoch << "/" << r.epochs << " done: train loss " << r.train_loss << ", val top-1 "
              << r.validation.top1 << ", top-5 " << r.validation.top5 << " (" << static_cast<int>(r.seconds) << "s)\n";
    if (trial && trial->state == st::TrialState::Running) storage->report_intermediate(trial->trial_id, r.epoch, r.validation.top1);
    return true;
  };
  tr::TrainResult result;
  try {
    result = tr::train(model, split.train, split.validation, options, callbacks);
  } catch (const tr::TrainingDiverged& e) {
    if (trial && trial->state == st::TrialState::Running) {
      heartbeat.reset();
      storage->set_trial_attr(trial->trial_id, "fail_reason", e.what(), false);
      storage->finish_trial(trial->trial_id, st::TrialState::Fail, {});
    }
    throw;
  }
  const tr::EvalResult test = tr::evaluate(result.eval_model, files.test, options.transform, options.batch_size, options.device);
  const tr::EvalResult& val = result.history.back().validation;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();

  effscale::cli::OutputTable table({"model", "dataset", "epochs", "val_top1", "val_top5", "test_top1", "test_top5",
                                    "params", "macs", "resolution", "wall_s"});
  table.add_row({spec.name, dataset, static_cast<int64_t>(result.history.size()), val.top1, val.top5, test.top1,
                 test.top5, m::count_params(spec), m::count_macs(spec), spec.resolution, std::round(wall * 10) / 10});
  m::write_file_atomically((std::filesystem::path(out_dir) / "result.json").string(), table.row_object(0).dump(2) + "\n");
  if (trial && trial->state == st::TrialState::Running) {
    heartbeat.reset();
    for (const char* key : {"test_top1", "test_top5", "val_top5", "wall_s"})
      storage->set_trial_attr(trial->trial_id, key, table.row_object(0)[key], false);
    storage->finish_trial(trial->trial_id, st::TrialState::Complete, {val.top1});
  }
  std::cout << (format == effscale::cli::OutputFormat::Json ? table.row_object(0).dump(2) + "\n" : table.render(format));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return effscale::cli::run_app("train_model", [&] { return run(argc, argv); });
}
