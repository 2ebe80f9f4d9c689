// bench_models: times one EfficientNet workload with effscale's modules and prints one number.
//   gemm: a 2048 x 2048 fp32 matrix product -> GFLOP/s (the machine's roof as this process's BLAS reaches it)
//   infer: --model (b0) at --resolution (224) and --batch (1), 1000 classes, through the folded inference form
//          (InferenceNet; --unfused: the training module in eval and inference mode; --libtorch-ops: the inference
//          form through LibTorch's ops instead of oneDNN's plans) -> median latency in ms;
//          with --batch > 1 -> images/s. infer_b0 is infer with the defaults. --ops N: instead, the N LibTorch ops
//          with the most self time over the timed passes (op_profile.h)
//   train_b0: B0, 10 classes, 64x64, batch 32, SGD momentum 0.9, cross-entropy -> images/s (median step)
//   train_b0_recipe: train_b0 with the paper's recipe: RMSProp-TF, label smoothing 0.1, EMA -> images/s
//   train_b0_data_parallel: train_b0 with the batch of 32 split over torchrun's ranks, gradients averaged every
//                           step through effscale's FlatGradients (c10d Gloo) -> images/s of the whole group
//   load_folder: a folder of JPEGs (--data-dir) through the training transform at 224, batch 32 -> images/s
// peer_torchvision.py runs the same workloads with Python torchvision; `run` compares them.

#include <torch/torch.h>

#include <boost/program_options.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <optional>
#include <sstream>

#include <sys/resource.h>

#include "effscale/cli/app_main.h"
#include "effscale/cli/command_line.h"
#include "effscale/base/cpu_runtime.h"
#include "effscale/models/efficientnet.h"
#include "effscale/models/inference_net.h"
#include "effscale/models/official.h"
#include "effscale/trainers/batch_loader.h"
#include "effscale/trainers/data_parallel.h"
#include "effscale/trainers/dataset_readers.h"
#include "effscale/trainers/losses.h"
#include "effscale/trainers/mixed_precision.h"
#include "effscale/trainers/model_ema.h"
#include "effscale/trainers/train_optimizer.h"
#include "bench_timing.h"
#include "op_profile.h"

namespace po = boost::program_options;
namespace m = effscale::models;
namespace tr = effscale::trainers;

namespace {

using effscale::bench::median_seconds;
using effscale::bench::seconds_since;

double bench_gemm(int warmup, int iters) {
  const torch::Tensor a = torch::randn({2048, 2048}), b = torch::randn({2048, 2048});
  return 2.0 * 2048 * 2048 * 2048 / median_seconds(warmup, iters, [&] { torch::mm(a, b); }) / 1e9;
}

struct InferCase {
  std::string model = "b0";
  int resolution = 224;
  int batch = 1;
  bool unfused = false;
  bool libtorch_ops = false;  // the inference form without oneDNN's plans
  int ops = 0;  // > 0: print the op profile of `iters` passes instead of the latency
};

// Median latency in ms at batch 1, images/s above.
double bench_infer(const InferCase& c, int warmup, int iters) {
  m::EfficientNet model(m::official(c.model));
  model->eval();
  const m::InferenceNet folded(*model, std::nullopt, !c.libtorch_ops);
  torch::Tensor x = torch::randn({c.batch, 3, c.resolution, c.resolution});
  c10::InferenceMode guard;
  const auto pass = [&] { c.unfused ? model->forward(x) : folded.forward(x); };
  if (c.ops > 0) {
    for (int i = 0; i < warmup; ++i) pass();
    effscale::bench::print_op_profile([&] { for (int i = 0; i < iters; ++i) pass(); }, c.ops, std::cout);
    return 0;
  }
  const double seconds = median_seconds(warmup, iters, pass);
  return c.batch == 1 ? 1000.0 * seconds : c.batch / seconds;
}

// B0 with 10 classes in training mode and a batch of 32 random 64x64 images, in channels_last when asked.
struct TrainingSetup {
  m::EfficientNet model{nullptr};
  torch::Tensor x, y;
};

TrainingSetup training_setup(bool channels_last) {
  m::ArchSpec spec = m::official("b0");
  spec.num_classes = 10;
  TrainingSetup s{m::EfficientNet(spec), torch::randn({32, 3, 64, 64}), torch::randint(0, 10, {32}, torch::kLong)};
  s.model->train();
  if (channels_last) s.model->set_layout(torch::MemoryFormat::ChannelsLast);
  s.x = tr::to_memory_format(s.x, channels_last);
  return s;
}

// train_b0's step; with a group, on this rank's share of the batch and with the gradients averaged.
double bench_train(int warmup, int iters, bool channels_last, tr::ProcessGroup* group = nullptr) {
  auto [model, x, y] = training_setup(channels_last);
  if (group != nullptr) {
    const int64_t share = x.size(0) / group->size(), begin = share * group->rank();
    x = x.slice(0, begin, begin + share);
    y = y.slice(0, begin, begin + share);
    tr::broadcast_module(*group, *model);
  }
  const std::vector<torch::Tensor> parameters = model->parameters();
  std::optional<tr::FlatGradients> gradients;
  if (group != nullptr) gradients.emplace(parameters);
  torch::optim::SGD optimizer(parameters, torch::optim::SGDOptions(0.01).momentum(0.9));
  const double step = median_seconds(warmup, iters, [&] {
    effscale::base::follow_core_share();  // as the trainers do between steps (a no-op under --threads N)
    if (gradients) {
      for (const torch::Tensor& p : parameters) p.grad().zero_();  // in place: they are views of the buffer
    } else {
      optimizer.zero_grad();
    }
    torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), y);
    loss.backward();
    if (gradients) gradients->average(*group, loss.item<double>());
    optimizer.step();
  });
  return 32.0 / step;
}

double bench_train_recipe(int warmup, int iters, bool channels_last) {
  auto [model, x, y] = training_setup(channels_last);
  tr::TrainOptimizer optimizer(tr::split_for_weight_decay(*model), tr::OptimizerOptions{});
  tr::ModelEma ema(model, 0.9999);
  int64_t step = 0;
  const double seconds = median_seconds(warmup, iters, [&] {
    optimizer.zero_grad();
    tr::label_smoothing_cross_entropy(model->forward(x), y, 0.1).backward();
    optimizer.step(0.01);
    ema.update(model, step++);
  });
  return 32.0 / seconds;
}

// Images per second through the training transform of a folder dataset (decode, crop, resize, normalise).
double bench_load_folder(const std::string& dir, int warmup, int iters) {
  const tr::ImageDataset data = tr::read_image_folder(dir);
  tr::TransformOptions transform;
  transform.resolution = 224;
  int64_t epoch = 0, images = 0;
  auto start = std::chrono::steady_clock::now();
  for (int pass = 0; pass < warmup + iters; ++pass) {
    if (pass == warmup) {
      start = std::chrono::steady_clock::now();
      images = 0;
    }
    tr::BatchLoader loader(data, transform, {32, true, 0, epoch++, 4});
    while (auto batch = loader.next()) images += batch->images.size(0);
  }
  return images / seconds_since(start);
}

void run_case(const std::string& which, const po::variables_map& vm);

int run(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("case", po::value<std::string>()->required(), "gemm, infer, infer_b0, train_b0, train_b0_recipe, train_b0_data_parallel or load_folder")
      ("model", po::value<std::string>()->default_value("b0"), "infer: official model b0-b7")
      ("resolution", po::value<int>()->default_value(224), "infer: image size")
      ("batch", po::value<int>()->default_value(1), "infer: batch size")
      ("unfused", po::bool_switch(), "infer: the training module in eval mode instead of the inference form")
      ("libtorch-ops", po::bool_switch(), "infer: the inference form through LibTorch's ops, not oneDNN's plans")
      ("ops", po::value<int>()->default_value(0), "infer: print the N ops with the most self time instead of the latency")
      ("threads", po::value<int>()->default_value(0), "intra-op threads (0: the share of the cores among effscale processes)")
      ("warmup", po::value<int>()->default_value(5), "untimed iterations")
      ("iters", po::value<int>()->default_value(20), "timed iterations (load_folder: timed passes)")
      ("data-dir", po::value<std::string>()->default_value(""), "load_folder: a folder of class folders of JPEGs")
      ("channels-last", po::bool_switch(), "training cases: channels_last model and batch")
      ("peak-rss", po::bool_switch(), "print the process's peak resident memory in MB instead of the case's figure");
  auto parsed = effscale::cli::parse_command_line(argc, argv, options, "usage: bench_models --case C [--threads N]");
  if (parsed.help_requested) return 0;
  const auto& vm = parsed.values;
  effscale::base::configure_cpu_runtime(vm["threads"].as<int>());
  torch::manual_seed(0);
  const std::string which = vm["case"].as<std::string>();
  if (vm["peak-rss"].as<bool>()) {
    std::ostringstream discarded;
    std::streambuf* const out = std::cout.rdbuf(discarded.rdbuf());
    run_case(which, vm);
    std::cout.rdbuf(out);
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::cout << usage.ru_maxrss / 1024.0 << "\n";  // Linux reports KiB
    return 0;
  }
  run_case(which, vm);
  return 0;
}

// Runs one case and prints its figure.
void run_case(const std::string& which, const po::variables_map& vm) {
  const int warmup = vm["warmup"].as<int>(), iters = vm["iters"].as<int>();
  if (iters < 1 || warmup < 0) throw effscale::cli::UsageError("--iters must be >= 1 and --warmup >= 0");
  if (which == "gemm") {
    std::cout << bench_gemm(warmup, iters) << "\n";
  } else if (which == "infer" || which == "infer_b0") {
    InferCase c;
    if (which == "infer") c = {vm["model"].as<std::string>(), vm["resolution"].as<int>(), vm["batch"].as<int>()};
    c.unfused = vm["unfused"].as<bool>();
    c.ops = vm["ops"].as<int>();
    c.libtorch_ops = vm["libtorch-ops"].as<bool>();
    if (c.resolution < 1 || c.batch < 1) throw effscale::cli::UsageError("--resolution and --batch must be >= 1");
    std::cout << bench_infer(c, warmup, iters) << "\n";
  } else if (which == "train_b0") {
    std::cout << bench_train(warmup, iters, vm["channels-last"].as<bool>()) << "\n";
  } else if (which == "train_b0_recipe") {
    std::cout << bench_train_recipe(warmup, iters, vm["channels-last"].as<bool>()) << "\n";
  } else if (which == "train_b0_data_parallel") {
    const auto rendezvous = tr::rendezvous_from_environment();
    if (!rendezvous) throw effscale::cli::UsageError("--case train_b0_data_parallel: start it with torchrun (WORLD_SIZE > 1)");
    tr::ProcessGroup group(*rendezvous);
    const double rate = bench_train(warmup, iters, vm["channels-last"].as<bool>(), &group);
    if (group.leader()) std::cout << rate << "\n";
  } else if (which == "load_folder") {
    std::cout << bench_load_folder(vm["data-dir"].as<std::string>(), warmup, iters) << "\n";
  } else {
    throw effscale::cli::UsageError("--case '" + which + "': expected gemm, infer, infer_b0, train_b0, train_b0_recipe, train_b0_data_parallel or load_folder");
  }
}

}  // namespace

int main(int argc, char** argv) {
  return effscale::cli::run_app("bench_models", [&] { return run(argc, argv); });
}
