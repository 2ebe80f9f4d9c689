#include "effscale/cli/training_flags.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "effscale/cli/app_main.h"
#include "effscale/cli/command_line.h"
#include "effscale/trainers/augment.h"
#include "effscale/trainers/mixed_precision.h"
#include "effscale/trainers/transforms.h"
#include "effscale/trainers/worker_threads.h"

namespace po = boost::program_options;

namespace effscale::cli {

namespace {

// A notifier that refuses a value the library parser `parse` refuses, naming the flag (parse_flag): the value's
// spelling is checked when the flags are read, so every command refuses it, one that trains nothing
// (nas_search --space-info) included. recipe_from converts the value with the same parser.
template <class Parse>
std::function<void(const std::string&)> spelled_as(const std::string& flag, Parse parse) {
  return [flag, parse](const std::string& value) { parse_flag(flag, [&] { return parse(value); }); };
}

}  // namespace

po::options_description training_options() {
  const trainers::TrainerOptions t;
  const trainers::ProxyDataOptions d;
  po::options_description o("proxy task and training recipe");
  o.add_options()
      ("dataset", with_default(d.dataset), "fashion-mnist, mnist, cifar10, cifar100 or folder")
      ("data-dir", with_default(d.data_dir), "dataset folder (default for fashion-mnist: Debian's)")
      ("train-limit", with_default(d.train_limit)->notifier(at_least<int64_t>("--train-limit", 0)), "train on this many samples (0: all)")
      ("val-fraction", with_default(d.val_fraction), "held-out validation fraction of the training set")
      ("split-seed", po::value<uint64_t>(), "seed of the training subset and validation split (default: --seed); fix it to "
       "compare seeds on the same split")
      ("epochs", with_default(t.epochs)->notifier(at_least<int64_t>("--epochs", 1)), "epochs")
      ("batch-size", with_default(t.batch_size)->notifier(at_least<int64_t>("--batch-size", 1)), "batch size")
      ("lr", with_default(t.lr_per_256)->notifier(positive("--lr")), "peak learning rate per 256 images")
      ("optimizer", with_default(std::string("rmsprop_tf"))->notifier(spelled_as("--optimizer", trainers::parse_optimizer_kind)),
       "rmsprop_tf, sgd or adamw")
      ("schedule", with_default(std::string("exponential"))->notifier(spelled_as("--schedule", trainers::parse_schedule_kind)),
       "exponential (staircase) or cosine")
      ("warmup-epochs", with_default(t.schedule.warmup_epochs)->notifier(at_least("--warmup-epochs", 0.0)), "linear warmup epochs (capped at half of --epochs)")
      ("weight-decay", with_default(t.optimizer.weight_decay)->notifier(at_least("--weight-decay", 0.0)), "weight decay on non-BN weights")
      ("label-smoothing", with_default(t.label_smoothing), "label smoothing")
      ("ema-decay", with_default(t.ema_decay), "EMA decay (0: no EMA)")
      ("dropout", po::value<double>(), "train with this dropout rate before the classifier instead of the spec's, in [0, 1)")
      ("drop-connect", po::value<double>(), "train with this drop-connect (stochastic depth) rate of the last block "
       "instead of the spec's, in [0, 1)")
      ("zero-init-residual",
       with_default(std::string("off"))->implicit_value("on")->notifier(spelled_as("--zero-init-residual", parse_on_off)),
       "on: start every block with a shortcut as that shortcut (its last BN weight zero; Goyal et al. 2017)")
      ("recipe", with_default(std::string("auto"))->notifier([](const std::string& mode) {
         if (mode != "auto" && mode != "paper" && mode != "short")
           throw UsageError("--recipe: '" + mode + "': expected auto, paper or short");
       }), "auto: a run of fewer than 10,000 steps takes the short-run recipe "
       "for every recipe setting not given (the defaults are the paper's 350-epoch recipe); paper: never; short: always")
      ("bn-recalibrate", with_default(t.bn_recalibration_batches)->notifier(at_least<int64_t>("--bn-recalibrate", 0)), "re-estimate BN statistics from N training batches before each evaluation")
      ("bn-momentum", po::value<double>(), "override the spec's BN momentum (PyTorch sense; the paper's is 0.01)")
      ("crop-min-area", with_default(t.transform.crop_min_area), "random-resized crop minimum area fraction")
      ("eval-crop", with_default(t.transform.eval_crop), "evaluation center-crop fraction")
      ("amp", with_default(std::string("none"))->notifier(spelled_as("--amp", trainers::parse_precision)),
       "mixed precision: none, bf16 (CPU or CUDA) or fp16 (CUDA, with loss scaling)")
      ("channels-last", with_default(std::string("auto"))->implicit_value("on"),
       "channels_last memory format: auto (on for the CPU, where it trains faster), on or off")
      ("augment", with_default(std::string("none"))->notifier(spelled_as("--augment", trainers::parse_augment_policy)),
       "training augmentation: none, autoaugment (ImageNet policy v0) or randaugment")
      ("randaugment-layers", with_default(t.transform.augment.layers), "RandAugment: ops per image (N)")
      ("randaugment-magnitude", with_default(t.transform.augment.magnitude), "RandAugment: level of every op (M, 0..10)")
      ("checkpoint-every", with_default(t.checkpoint_every_steps),
       "also checkpoint every N steps inside an epoch, for long epochs (0: at epoch ends only)")
      ("pruner", with_default(std::string("none")), "stop trials behind the study: none, median or halving")
      ("schema", with_default(std::string("3.0"))->notifier([](const std::string& text) {
         parse_flag("--schema", [&] { return store::parse_schema_revision(text); });
       }), "Optuna revision of a study database this command creates: 3.0 "
       "(v3.0.0.d, Optuna 3.0-3.1) or latest (v3.2.0.a, Optuna 3.2 on); an existing database keeps its own")
      ("seed", with_default(t.seed), "seed for weights, data order and augmentation")
      ("threads", with_default(0)->notifier(at_least("--threads", 0)), "CPU threads (0: the cores divided among the effscale processes running, following them as they come and go)")
      ("device", with_default(std::string("auto")), "auto, cpu, cuda or cuda:N");
  return o;
}

po::options_description proxy_options() {
  const trainers::ProxyArchitecture p;
  po::options_description o("proxy architecture");
  o.add_options()
      ("proxy-resolution", po::value<int>()->notifier(from_to("--proxy-resolution", 8, 8192)),
       "train at this resolution (default: the spec's)")
      ("proxy-width", with_default(p.width)->notifier(positive("--proxy-width")), "multiply the width for the proxy")
      ("proxy-depth", with_default(p.depth)->notifier(positive("--proxy-depth")), "multiply the depth for the proxy")
      ("in-channels", po::value<int>()->notifier([](int c) {
         if (!trainers::transforms_make_channels(c)) throw UsageError("--in-channels: " + std::to_string(c) + ": must be 1 (grey) or 3 (RGB)");
       }),
       "input channels of the stem: 1 for a grey stem on grey datasets (default: the spec's, 3)")
      ("proxy-divisor", po::value<int>()->notifier(at_least("--proxy-divisor", 1)),
       "round the proxy's channels to multiples of this (default: the spec's, 8); 8 x --proxy-width keeps the "
       "search's filter choices apart");
  return o;
}

trainers::ProxyDataOptions data_options_from(const po::variables_map& vm) {
  trainers::ProxyDataOptions d;
  d.dataset = vm["dataset"].as<std::string>();
  d.data_dir = vm["data-dir"].as<std::string>();
  d.train_limit = vm["train-limit"].as<int64_t>();
  d.val_fraction = vm["val-fraction"].as<double>();
  d.seed = vm.count("split-seed") ? vm["split-seed"].as<uint64_t>() : vm["seed"].as<uint64_t>();
  return d;
}

trainers::ProxyData load_data_from(const po::variables_map& vm) {
  const trainers::ProxyDataOptions d = data_options_from(vm);
  const std::vector<std::string> known = trainers::named_datasets();
  if (d.data_dir.empty() && trainers::default_data_dir(d.dataset).empty() &&
      std::find(known.begin(), known.end(), d.dataset) != known.end())  // an unknown name is the library's to refuse
    throw UsageError("dataset '" + d.dataset + "' has no default location: give --data-dir DIR");
  return trainers::load_proxy_data(d);
}

trainers::ProxyArchitecture proxy_architecture_from(const po::variables_map& vm) {
  trainers::ProxyArchitecture p;
  if (vm.count("proxy-resolution")) p.resolution = vm["proxy-resolution"].as<int>();
  p.width = vm["proxy-width"].as<double>();
  p.depth = vm["proxy-depth"].as<double>();
  if (vm.count("in-channels")) p.in_channels = vm["in-channels"].as<int>();
  if (vm.count("proxy-divisor")) p.divisor = vm["proxy-divisor"].as<int>();
  return p;
}

std::optional<double> bn_momentum_from(const po::variables_map& vm) {
  if (!vm.count("bn-momentum")) return std::nullopt;
  return vm["bn-momentum"].as<double>();
}

namespace {

// --workers as a count, nothing for auto. Throws UsageError naming the flag for anything else.
std::optional<int> parse_workers(const std::string& text) {
  if (text == "auto") return std::nullopt;
  size_t used = 0;
  int workers = 0;
  try {
    workers = std::stoi(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text.size() || used == 0 || workers < 1 || workers > 64)
    throw UsageError("--workers '" + text + "': expected auto or a whole number from 1 to 64");
  return workers;
}

}  // namespace

po::options_description workers_option(const std::string& what, const std::string& default_value) {
  po::options_description o("workers");
  o.add_options()("workers", with_default(default_value)->notifier([](const std::string& t) { parse_workers(t); }),
                  (what + " at once in this process, each on its share of the threads; auto: on the CPU one per "
                          "thread (as many as half the free memory holds), on CUDA one")
                      .c_str());
  return o;
}

std::optional<int> requested_workers(const po::variables_map& vm) { return parse_workers(vm["workers"].as<std::string>()); }

int workers_from(const po::variables_map& vm, int threads, const trainers::TrainerOptions& recipe, int64_t bytes_each,
                 int most_useful) {
  if (const std::optional<int> workers = requested_workers(vm)) return *workers;
  return trainers::auto_worker_count(threads, recipe.device.is_cuda(), bytes_each, most_useful);
}

std::string workers_line(int workers, int threads) {
  const int each = trainers::threads_each(workers, threads);
  return std::to_string(workers) + (workers == 1 ? " worker" : " workers") + " of " + std::to_string(each) +
         (each == 1 ? " thread" : " threads") + (workers == 1 ? "" : " each");
}

store::SchemaRevision schema_from(const po::variables_map& vm) {
  return parse_flag("--schema", [&] { return store::parse_schema_revision(vm["schema"].as<std::string>()); });
}

store::PrunerKind pruner_from(const po::variables_map& vm) {
  return parse_flag("--pruner", [&] { return store::parse_pruner_kind(vm["pruner"].as<std::string>()); });
}

namespace {

// The ranges the recipe's flags must lie in (the rest is checked by train()).
void check_recipe(const trainers::TrainerOptions& o) {
  if (o.transform.augment.layers < 1 || o.transform.augment.layers > 10) throw UsageError("--randaugment-layers must be in 1..10");
  if (!(o.transform.augment.magnitude >= 0 && o.transform.augment.magnitude <= 10))
    throw UsageError("--randaugment-magnitude must be in [0, 10]");
  if (o.checkpoint_every_steps < 0) throw UsageError("--checkpoint-every must be 0 (epoch ends only) or a number of steps");
  if (!(o.transform.crop_min_area > 0 && o.transform.crop_min_area <= 1))
    throw UsageError("--crop-min-area must be in (0, 1]");
  if (!(o.transform.eval_crop > 0 && o.transform.eval_crop <= 1)) throw UsageError("--eval-crop must be in (0, 1]");
  if (o.dropout && !(*o.dropout >= 0 && *o.dropout < 1)) throw UsageError("--dropout must be in [0, 1)");
  if (o.drop_connect && !(*o.drop_connect >= 0 && *o.drop_connect < 1))
    throw UsageError("--drop-connect must be in [0, 1)");
}

}  // namespace

trainers::TrainerOptions recipe_from(const po::variables_map& vm) {
  trainers::TrainerOptions o;
  o.epochs = vm["epochs"].as<int64_t>();
  o.batch_size = vm["batch-size"].as<int64_t>();
  o.lr_per_256 = vm["lr"].as<double>();
  o.optimizer.kind = parse_flag("--optimizer", [&] { return trainers::parse_optimizer_kind(vm["optimizer"].as<std::string>()); });
  if (o.optimizer.kind == trainers::OptimizerKind::AdamW) o.optimizer.eps = 1e-8;
  o.optimizer.weight_decay = vm["weight-decay"].as<double>();
  o.schedule.kind = parse_flag("--schedule", [&] { return trainers::parse_schedule_kind(vm["schedule"].as<std::string>()); });
  o.schedule.warmup_epochs = std::min(vm["warmup-epochs"].as<double>(), 0.5 * double(o.epochs));
  o.schedule.total_epochs = double(o.epochs);
  o.label_smoothing = vm["label-smoothing"].as<double>();
  o.ema_decay = vm["ema-decay"].as<double>();
  if (vm.count("dropout")) o.dropout = vm["dropout"].as<double>();
  if (vm.count("drop-connect")) o.drop_connect = vm["drop-connect"].as<double>();
  o.zero_init_residual = parse_flag("--zero-init-residual", [&] { return parse_on_off(vm["zero-init-residual"].as<std::string>()); });
  o.bn_recalibration_batches = vm["bn-recalibrate"].as<int64_t>();
  o.transform.crop_min_area = vm["crop-min-area"].as<double>();
  o.transform.eval_crop = vm["eval-crop"].as<double>();
  o.transform.augment.policy = parse_flag("--augment", [&] { return trainers::parse_augment_policy(vm["augment"].as<std::string>()); });
  o.precision = parse_flag("--amp", [&] { return trainers::parse_precision(vm["amp"].as<std::string>()); });
  o.transform.augment.layers = vm["randaugment-layers"].as<int>();
  o.transform.augment.magnitude = vm["randaugment-magnitude"].as<double>();
  o.seed = vm["seed"].as<uint64_t>();
  o.checkpoint_every_steps = vm["checkpoint-every"].as<int64_t>();
  o.device = parse_flag("--device", [&] { return trainers::parse_device(vm["device"].as<std::string>()); });
  o.channels_last = parse_flag("--channels-last", [&] { return trainers::resolve_channels_last(vm["channels-last"].as<std::string>(), o.device); });
  check_recipe(o);
  return o;
}

trainers::ProxyTraining proxy_training_from(const po::variables_map& vm) {
  return {proxy_architecture_from(vm), bn_momentum_from(vm), recipe_from(vm)};
}

namespace {

// One setting of the short-run recipe: its flag, its value as written, and how it applies.
struct ShortRunSetting {
  const char* flag;
  const char* value;
  std::function<void(trainers::ProxyTraining&)> apply;
};

// The short-run recipe (experiments/presets/quick.ini's): what a run of minutes needs to learn and to evaluate.
const std::vector<ShortRunSetting>& short_run_recipe() {
  static const std::vector<ShortRunSetting> settings = {
      {"optimizer", "sgd", [](auto& t) { t.recipe.optimizer.kind = trainers::OptimizerKind::SgdNesterov; }},
      {"lr", "0.4", [](auto& t) { t.recipe.lr_per_256 = 0.4; }},
      {"warmup-epochs", "1", [](auto& t) { t.recipe.schedule.warmup_epochs = std::min(1.0, 0.5 * double(t.recipe.epochs)); }},
      {"label-smoothing", "0", [](auto& t) { t.recipe.label_smoothing = 0; }},
      {"ema-decay", "0", [](auto& t) { t.recipe.ema_decay = 0; }},
      {"bn-momentum", "0.1", [](auto& t) { t.bn_momentum = 0.1; }},
      {"bn-recalibrate", "10", [](auto& t) { t.recipe.bn_recalibration_batches = 10; }},
      {"crop-min-area", "1", [](auto& t) { t.recipe.transform.crop_min_area = 1.0; }},
      {"eval-crop", "1", [](auto& t) { t.recipe.transform.eval_crop = 1.0; }},
  };
  return settings;
}

}  // namespace

void adapt_recipe_to_run(const po::variables_map& vm, const trainers::ProxyData& data,
                         trainers::ProxyTraining& training) {
  const std::string mode = vm["recipe"].as<std::string>();
  const int64_t batches = data.split.train.size() / std::max<int64_t>(1, training.recipe.batch_size);
  const int64_t steps = training.recipe.epochs * batches;
  const bool short_run = steps < kShortRunSteps;
  std::string defaulted;
  for (const ShortRunSetting& s : short_run_recipe()) {
    const bool given = vm.count(s.flag) && !vm[s.flag].defaulted();
    if (given) continue;
    if (mode == "short" || (mode == "auto" && short_run)) s.apply(training);
    defaulted += std::string(defaulted.empty() ? "" : " ") + "--" + s.flag + " " + s.value;
  }
  if (defaulted.empty() || (mode != "short" && !short_run)) return;
  const std::string length = std::to_string(steps) + " steps";
  const std::string why = mode == "short" ? "--recipe short"
                                          : "a short run (" + length + " < " + std::to_string(kShortRunSteps) + ")";
  training.recipe.start_note =
      mode == "paper" ? "warning: a run of " + length + " is too short for the paper's recipe, which is tuned for 350 "
                        "epochs (its BN statistics, warmup, crops and optimizer leave a short run's evaluation near "
                        "chance); --recipe auto or --config experiments/presets/quick.ini adapts it"
                      : why + ": the settings not given take the short-run recipe: " + defaulted +
                            " (--recipe paper keeps the paper's)";
}

}  // namespace effscale::cli
