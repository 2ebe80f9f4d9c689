#include "effscale/app_training/training_flags.h"

#include <algorithm>

#include "effscale/cli/app_main.h"

namespace po = boost::program_options;

namespace effscale::app_training {

po::options_description training_options() {
  po::options_description o("proxy task and training recipe");
  o.add_options()
      ("dataset", po::value<std::string>()->default_value("fashion-mnist"), "fashion-mnist, mnist, cifar10, cifar100 or folder")
      ("data-dir", po::value<std::string>()->default_value(""), "dataset folder (default for fashion-mnist: Debian's)")
      ("train-limit", po::value<int64_t>()->default_value(0), "train on this many samples (0: all)")
      ("val-fraction", po::value<double>()->default_value(0.1), "held-out validation fraction of the training set")
      ("epochs", po::value<int64_t>()->default_value(5), "epochs")
      ("batch-size", po::value<int64_t>()->default_value(64), "batch size")
      ("lr", po::value<double>()->default_value(0.016), "peak learning rate per 256 images")
      ("optimizer", po::value<std::string>()->default_value("rmsprop_tf"), "rmsprop_tf, sgd or adamw")
      ("schedule", po::value<std::string>()->default_value("exponential"), "exponential (staircase) or cosine")
      ("warmup-epochs", po::value<double>()->default_value(5), "linear warmup epochs (capped at half of --epochs)")
      ("weight-decay", po::value<double>()->default_value(1e-5), "weight decay on non-BN weights")
      ("label-smoothing", po::value<double>()->default_value(0.1), "label smoothing")
      ("ema-decay", po::value<double>()->default_value(0.9999), "EMA decay (0: no EMA)")
      ("bn-recalibrate", po::value<int64_t>()->default_value(0), "re-estimate BN statistics from N training batches before each evaluation")
      ("bn-momentum", po::value<double>(), "override the spec's BN momentum (PyTorch sense; the paper's is 0.01)")
      ("crop-min-area", po::value<double>()->default_value(0.08), "random-resized crop minimum area fraction")
      ("eval-crop", po::value<double>()->default_value(0.875), "evaluation center-crop fraction")
      ("amp", po::value<std::string>()->default_value("none"), "mixed precision: none, bf16 (CPU or CUDA) or fp16 (CUDA, with loss scaling)")
      ("channels-last", po::value<std::string>()->default_value("auto")->implicit_value("on"),
       "channels_last memory format: auto (on for the CPU, where it trains faster), on or off")
      ("augment", po::value<std::string>()->default_value("none"), "training augmentation: none, autoaugment (ImageNet policy v0) or randaugment")
      ("randaugment-layers", po::value<int>()->default_value(2), "RandAugment: ops per image (N)")
      ("randaugment-magnitude", po::value<double>()->default_value(10), "RandAugment: level of every op (M, 0..10)")
      ("checkpoint-every", po::value<int64_t>()->default_value(0),
       "also checkpoint every N steps inside an epoch, for long epochs (0: at epoch ends only)")
      ("pruner", po::value<std::string>()->default_value("none"), "stop trials behind the study: none, median or halving")
      ("seed", po::value<uint64_t>()->default_value(0), "seed for weights, data order and augmentation")
      ("threads", po::value<int>()->default_value(0), "CPU threads (0: all cores)")
      ("device", po::value<std::string>()->default_value("auto"), "auto, cpu, cuda or cuda:N");
  return o;
}

po::options_description proxy_options() {
  po::options_description o("proxy architecture");
  o.add_options()
      ("proxy-resolution", po::value<int>(), "train at this resolution (default: the spec's)")
      ("proxy-width", po::value<double>()->default_value(1.0), "multiply the width for the proxy")
      ("proxy-depth", po::value<double>()->default_value(1.0), "multiply the depth for the proxy")
      ("in-channels", po::value<int>(), "1 for a grey stem on grey datasets");
  return o;
}

models::ArchSpec proxy_spec(models::ArchSpec spec, const po::variables_map& vm) {
  if (vm.count("proxy-resolution")) spec.resolution = vm["proxy-resolution"].as<int>();
  spec.width_mult *= vm["proxy-width"].as<double>();
  spec.depth_mult *= vm["proxy-depth"].as<double>();
  if (vm.count("in-channels")) spec.in_channels = vm["in-channels"].as<int>();
  return spec;
}

ProxyData load_proxy_data(const po::variables_map& vm) {
  ProxyData data;
  data.dataset = vm["dataset"].as<std::string>();
  trainers::DatasetFiles files = trainers::load_named_dataset(data.dataset, vm["data-dir"].as<std::string>());
  const uint64_t seed = vm["seed"].as<uint64_t>();
  data.split = trainers::split_validation(trainers::take_subset(files.train, vm["train-limit"].as<int64_t>(), seed),
                                          vm["val-fraction"].as<double>(), seed);
  data.test = std::move(files.test);
  data.num_classes = files.train.num_classes;
  return data;
}

models::ArchSpec adapt_spec(models::ArchSpec spec, const po::variables_map& vm, int64_t num_classes) {
  if (vm.count("bn-momentum")) spec.bn.momentum = vm["bn-momentum"].as<double>();
  spec.num_classes = static_cast<int>(num_classes);
  models::validate(spec);
  return spec;
}

trainers::TrainerOptions trainer_options_from(const po::variables_map& vm, const models::ArchSpec& spec,
                                              const std::string& checkpoint_path) {
  trainers::TrainerOptions o;
  o.epochs = vm["epochs"].as<int64_t>();
  o.batch_size = vm["batch-size"].as<int64_t>();
  o.lr_per_256 = vm["lr"].as<double>();
  o.optimizer.kind = trainers::parse_optimizer_kind(vm["optimizer"].as<std::string>());
  if (o.optimizer.kind == trainers::OptimizerKind::AdamW) o.optimizer.eps = 1e-8;
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
  try {
    o.transform.augment.policy = trainers::parse_augment_policy(vm["augment"].as<std::string>());
    o.precision = trainers::parse_precision(vm["amp"].as<std::string>());
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(e.what());
  }
  o.transform.augment.layers = vm["randaugment-layers"].as<int>();
  o.transform.augment.magnitude = vm["randaugment-magnitude"].as<double>();
  if (o.transform.augment.layers < 1 || o.transform.augment.layers > 10) throw cli::UsageError("--randaugment-layers must be in 1..10");
  if (!(o.transform.augment.magnitude >= 0 && o.transform.augment.magnitude <= 10))
    throw cli::UsageError("--randaugment-magnitude must be in [0, 10]");
  o.seed = vm["seed"].as<uint64_t>();
  o.checkpoint_path = checkpoint_path;
  o.checkpoint_every_steps = vm["checkpoint-every"].as<int64_t>();
  if (o.checkpoint_every_steps < 0) throw cli::UsageError("--checkpoint-every must be 0 (epoch ends only) or a number of steps");
  o.device = trainers::parse_device(vm["device"].as<std::string>());
  try {
    o.channels_last = trainers::resolve_channels_last(vm["channels-last"].as<std::string>(), o.device);
  } catch (const std::invalid_argument& e) {
    throw cli::UsageError(e.what());
  }
  if (!(o.transform.crop_min_area > 0 && o.transform.crop_min_area <= 1))
    throw cli::UsageError("--crop-min-area must be in (0, 1]");
  if (!(o.transform.eval_crop > 0 && o.transform.eval_crop <= 1)) throw cli::UsageError("--eval-crop must be in (0, 1]");
  trainers::learning_rate(o.schedule, 0);  // rejects an unknown schedule before any data is loaded
  return o;
}

}  // namespace effscale::app_training
