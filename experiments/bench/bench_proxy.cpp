// bench_proxy: one candidate of the search as a preset trains it (--config experiments/presets/quick.ini or
// evidence.ini): B0 shrunk to the preset's proxy (resolution, width, depth, input channels, channel divisor), with
// the preset's dropout and drop-connect rates, its batch, optimizer, learning-rate schedule, label smoothing and memory format, on in-memory grey images of
// Fashion-MNIST's size (28 x 28), through the trainers' own batch loader, transform and evaluation. Prints one number:
//   --case train: images/s of training steps (the batch from the loader, forward, loss, backward, optimizer step)
//   --case eval: images/s of the trainers' evaluation pass (trainers::evaluate: the folded inference form, top-1 and
//                top-5) over --val-images images
//   --case params: the proxy network's parameter count (the peer's network must have the same)
//   --case breakdown: where a training step's time goes, one line: data, forward (with the loss), backward, optimizer
//   --case eval_breakdown: where an evaluation pass's time goes: data, folding the weights, forward, metrics
//   --case eval_forward: one folded network's forward pass on a batch (its plans built), median ms, and its lanes
//   --case eval_work: the evaluation batch's multiply-adds, steps, and the threads the inference form takes for it
//   --case ops: the training steps' LibTorch ops with the most self time, by name and input shapes
//   --case eval_ops: the same for the evaluation passes' forward (the folded inference form)
// peer_torchvision.py runs the same candidate with torchvision's EfficientNet; `run` compares them.

#include <torch/torch.h>

#include <boost/program_options.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>

#include "bench_timing.h"
#include "op_profile.h"
#include "effscale/base/cpu_runtime.h"
#include "effscale/cli/app_main.h"
#include "effscale/cli/command_line.h"
#include "effscale/cli/training_flags.h"
#include "effscale/models/counts.h"
#include "effscale/models/efficientnet.h"
#include "effscale/models/inference_net.h"
#include "effscale/models/official.h"
#include "effscale/models/threads_by_work.h"
#include "effscale/trainers/batch_loader.h"
#include "effscale/trainers/losses.h"
#include "effscale/trainers/lr_schedule.h"
#include "effscale/trainers/mixed_precision.h"
#include "effscale/trainers/train_optimizer.h"
#include "effscale/trainers/trainer.h"
#include "effscale/trainers/training_run.h"

namespace po = boost::program_options;
namespace m = effscale::models;
namespace tr = effscale::trainers;
using effscale::bench::median_seconds;
using effscale::bench::seconds_since;

namespace {

constexpr int64_t kClasses = 10;  // Fashion-MNIST's
constexpr int kSourceSize = 28;

// `n` grey 28 x 28 images with random pixels and labels, as a dataset the trainers read.
tr::ImageDataset random_images(int64_t n) {
  tr::ImageDataset data;
  data.name = "random";
  data.images = torch::randint(0, 256, {n, 1, kSourceSize, kSourceSize}, torch::kUInt8);
  data.labels = torch::randint(0, kClasses, {n}, torch::kLong);
  data.num_classes = kClasses;
  return data;
}

// The proxy candidate: the network in training mode, its options as the trainers would run it, its optimizer.
struct Candidate {
  m::ArchSpec spec;
  tr::TrainerOptions options;
  m::EfficientNet model{nullptr};
  std::unique_ptr<tr::TrainOptimizer> optimizer;
  tr::LrScheduleOptions schedule;
};

Candidate make_candidate(const tr::ProxyTraining& training) {
  Candidate c;
  c.spec = tr::trained_spec(m::official("b0"), training, kClasses);
  c.options = tr::options_for_run(training.recipe, c.spec, "");
  c.spec = tr::spec_as_trained(c.spec, c.options);  // the preset's dropout and drop-connect, as run_training does
  c.model = m::EfficientNet(c.spec, c.options.seed);
  c.model->train();
  if (c.options.channels_last) c.model->set_layout(torch::MemoryFormat::ChannelsLast);
  c.optimizer = std::make_unique<tr::TrainOptimizer>(tr::split_for_weight_decay(*c.model), c.options.optimizer);
  c.schedule = c.options.schedule;
  c.schedule.base_lr = tr::scaled_learning_rate(c.options.lr_per_256, c.options.batch_size);
  c.schedule.steps_per_epoch = 1000;
  return c;
}

// Seconds spent in each part of the training steps.
struct StepParts {
  double data = 0, forward = 0, backward = 0, optimizer = 0;
};

// Trains `c` on `data` for `steps` steps of its batch size (the loader's epochs repeat as needed); returns the
// median step's seconds, and adds the time of each part to `parts` when given.
double train_steps(Candidate& c, const tr::ImageDataset& data, int warmup, int iters, StepParts* parts = nullptr) {
  const tr::TrainerOptions& o = c.options;
  const effscale::base::ScopedThreadLimit small_work(tr::training_step_threads(c.model, o));  // as the trainer does
  int64_t epoch = 0, step = 0;
  auto loader = std::make_unique<tr::BatchLoader>(data, o.transform, tr::BatchLoaderOptions{o.batch_size, true, o.seed, epoch});
  return median_seconds(warmup, iters, [&] {
    auto start = std::chrono::steady_clock::now();
    auto batch = loader->next();
    if (!batch) {
      loader = std::make_unique<tr::BatchLoader>(data, o.transform, tr::BatchLoaderOptions{o.batch_size, true, o.seed, ++epoch});
      batch = loader->next();
    }
    const torch::Tensor x = tr::to_memory_format(batch->images, o.channels_last);
    double data_s = seconds_since(start);
    start = std::chrono::steady_clock::now();
    c.optimizer->zero_grad();
    torch::Tensor loss = tr::label_smoothing_cross_entropy(c.model->forward(x), batch->labels, o.label_smoothing);
    loss.item<double>();  // the trainer reads the loss every step (divergence check)
    const double forward_s = seconds_since(start);
    start = std::chrono::steady_clock::now();
    loss.backward();
    const double backward_s = seconds_since(start);
    start = std::chrono::steady_clock::now();
    c.optimizer->step(tr::learning_rate(c.schedule, step++));
    if (parts != nullptr) *parts = {parts->data + data_s, parts->forward + forward_s, parts->backward + backward_s,
                                    parts->optimizer + seconds_since(start)};
  });
}

// The --case values, as help and errors list them.
constexpr const char* kCases = "train, eval, params, breakdown, eval_breakdown, eval_forward, eval_work, ops or eval_ops";

int run(int argc, char** argv) {
  po::options_description options("bench_proxy");
  options.add(effscale::cli::training_options()).add(effscale::cli::proxy_options());
  options.add_options()
      ("case", po::value<std::string>()->required(), kCases)
      ("warmup", effscale::cli::with_default(3), "untimed steps or passes")
      ("iters", effscale::cli::with_default(20), "timed steps or passes")
      ("val-images", effscale::cli::with_default(2048), "eval: images in the evaluated set");
  auto parsed = effscale::cli::parse_command_line(
      argc, argv, options, "usage: bench_proxy --config experiments/presets/quick.ini --case CASE (" + std::string(kCases) + ")");
  if (parsed.help_requested) return 0;
  const po::variables_map& vm = parsed.values;
  effscale::base::configure_cpu_runtime(vm["threads"].as<int>());
  torch::manual_seed(0);
  const int warmup = vm["warmup"].as<int>(), iters = vm["iters"].as<int>();
  if (iters < 1 || warmup < 0) throw effscale::cli::UsageError("--iters must be >= 1 and --warmup >= 0");
  const std::string which = vm["case"].as<std::string>();
  Candidate c = make_candidate(effscale::cli::proxy_training_from(vm));
  const int64_t batch = c.options.batch_size;
  if (which == "params") {
    std::cout << m::count_params(c.spec) << "\n";
  } else if (which == "train") {
    const tr::ImageDataset data = random_images(batch * (warmup + iters + 1));
    std::cout << batch / train_steps(c, data, warmup, iters) << "\n";
  } else if (which == "breakdown") {
    const tr::ImageDataset data = random_images(batch * (warmup + iters + 1));
    train_steps(c, data, warmup, 1);  // warmed up, untimed
    StepParts parts;
    const auto start = std::chrono::steady_clock::now();
    train_steps(c, data, 0, iters, &parts);
    const double total = seconds_since(start);
    std::printf("step %.1f ms: data %.0f%%, forward %.0f%%, backward %.0f%%, optimizer %.0f%%, other %.0f%%\n",
                1000 * total / iters, 100 * parts.data / total, 100 * parts.forward / total, 100 * parts.backward / total,
                100 * parts.optimizer / total,
                100 * (total - parts.data - parts.forward - parts.backward - parts.optimizer) / total);
  } else if (which == "ops") {
    const tr::ImageDataset data = random_images(batch * (warmup + iters + 1));
    train_steps(c, data, warmup, 1);  // warmed up, unprofiled
    effscale::bench::print_op_profile([&] { train_steps(c, data, 0, iters); }, 25, std::cout);
  } else if (which == "eval_ops") {
    const tr::ImageDataset data = random_images(vm["val-images"].as<int>());
    const auto evaluate = [&] { tr::evaluate(c.model, data, c.options.transform, batch, c.options.device); };
    evaluate();  // warmed up, unprofiled
    effscale::bench::print_op_profile([&] { for (int i = 0; i < iters; ++i) evaluate(); }, 25, std::cout);
  } else if (which == "eval_breakdown") {
    const tr::ImageDataset data = random_images(vm["val-images"].as<int>());
    c.model->eval();
    double fold = 0, load = 0, forward = 0, metrics = 0;
    const auto start = std::chrono::steady_clock::now();
    for (int pass = 0; pass < iters; ++pass) {
      auto t = std::chrono::steady_clock::now();
      const m::InferenceNet folded(*c.model);
      fold += seconds_since(t);
      tr::BatchLoader loader(data, c.options.transform, tr::BatchLoaderOptions{batch, false});
      for (t = std::chrono::steady_clock::now(); auto b = loader.next(); t = std::chrono::steady_clock::now()) {
        load += seconds_since(t);
        t = std::chrono::steady_clock::now();
        const torch::Tensor logits = folded.forward(b->images);
        forward += seconds_since(t);
        t = std::chrono::steady_clock::now();
        tr::count_topk_correct(logits, b->labels, 1);
        tr::count_topk_correct(logits, b->labels, 5);
        metrics += seconds_since(t);
      }
    }
    const double total = seconds_since(start);
    std::printf("pass %.1f ms: data %.0f%%, folding %.0f%%, forward %.0f%%, metrics %.0f%%\n", 1000 * total / iters,
                100 * load / total, 100 * fold / total, 100 * forward / total, 100 * metrics / total);
  } else if (which == "eval_work") {
    c.model->eval();
    const m::InferenceNet folded(*c.model);
    const int64_t size = c.options.transform.resolution;
    const m::PassWork work = m::inference_work(folded.network(), {batch, c.spec.in_channels, size, size});
    std::printf("batch %lld: %lld multiply-adds in %lld steps, %.0f per step: %d thread(s) of %d\n",
                static_cast<long long>(batch), static_cast<long long>(work.macs), static_cast<long long>(work.steps),
                double(work.macs) / double(work.steps), m::threads_for_work(work, at::get_num_threads()),
                at::get_num_threads());
  } else if (which == "eval_forward") {
    c.model->eval();
    const m::InferenceNet folded(*c.model);
    const int64_t size = c.options.transform.resolution;
    const torch::Tensor x = torch::randn({batch, c.spec.in_channels, size, size});
    const double seconds = median_seconds(warmup, iters, [&] { folded.forward(x); });
    std::printf("batch %lld: %.3f ms a forward pass, %d lane(s)\n", static_cast<long long>(batch), 1000 * seconds,
                m::inference_lanes(m::inference_work(folded.network(), x.sizes()), batch, at::get_num_threads()));
  } else if (which == "eval") {
    const tr::ImageDataset data = random_images(vm["val-images"].as<int>());
    const double seconds = median_seconds(warmup, iters, [&] {
      tr::evaluate(c.model, data, c.options.transform, batch, c.options.device);
    });
    std::cout << data.size() / seconds << "\n";
  } else {
    throw effscale::cli::UsageError("--case '" + which + "': expected " + kCases);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return effscale::cli::run_app("bench_proxy", [&] { return run(argc, argv); });
}
