// The folded inference form gives the training module's eval-mode logits: official models, searched blocks
// (regular convs, pooling shortcuts), both padding conventions, two resolutions, random specs.

#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <random>
#include <thread>

#include "effscale/base/cpu_runtime.h"
#include "effscale/models/block_args.h"
#include "effscale/models/counts.h"
#include "effscale/models/efficientnet.h"
#include "effscale/models/inference_net.h"
#include "effscale/models/official.h"
#include "effscale/models/threads_by_work.h"
#include "random_spec.h"
#include "tensor_compare.h"

using namespace effscale::models;

namespace {

// Gives every batch norm non-trivial running statistics and affine parameters, so folding them matters.
void randomise_batch_norms(EfficientNetImpl& model) {
  torch::NoGradGuard no_grad;
  for (const auto& module : model.modules(/*include_self=*/false)) {
    if (auto* bn = module->as<torch::nn::BatchNorm2dImpl>()) {
      bn->running_mean.normal_(0.0, 0.2);
      bn->running_var.uniform_(0.5, 2.0);
      bn->weight.uniform_(0.5, 1.5);
      bn->bias.normal_(0.0, 0.2);
    }
  }
}

// Largest difference between the folded and the module's logits, relative to the logits' scale.
double relative_error(const ArchSpec& spec, int64_t resolution, int64_t batch = 2) {
  EfficientNet model(spec, /*seed=*/7);
  randomise_batch_norms(*model);
  model->eval();
  const InferenceNet folded(*model);
  const torch::Tensor x = torch::randn({batch, spec.in_channels, resolution, resolution});
  torch::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    expected = model->forward(x);
  }
  const torch::Tensor got = folded.forward(x);
  REQUIRE(got.sizes() == expected.sizes());
  const double scale = std::max(1.0, expected.abs().max().item<double>());
  return (got - expected).abs().max().item<double>() / scale;
}

}  // namespace

TEST_CASE("the inference form of B0 and B4 equals the module in eval mode, both paddings, two resolutions",
          "[models][inference]") {
  for (const char* name : {"b0", "b4"}) {
    for (Padding padding : {Padding::Symmetric, Padding::TfSame}) {
      for (int64_t resolution : {64, 97}) {
        ArchSpec spec = official(name);
        spec.padding = padding;
        INFO(name << " padding " << int(padding) << " at " << resolution << " px");
        CHECK(relative_error(spec, resolution) < 1e-4);
      }
    }
  }
}

TEST_CASE("the inference form handles searched blocks: regular convs, pooling shortcuts, no SE",
          "[models][inference]") {
  ArchSpec spec = official("b0");
  spec.stages = {parse_block_string("r1_k3_s11_e1_i32_o16_c1"), parse_block_string("r2_k5_s22_e4_i16_o24_se0.25_c1_poolskip"),
                 parse_block_string("r1_k3_s22_e6_i24_o40_poolskip"), parse_block_string("r2_k7_s11_e3_i40_o40_noskip"),
                 parse_block_string("r2_k3_s21_e1_i40_o48_se0.25_c2_poolskip"), parse_block_string("r2_k5_s11_e1_i48_o48_c2")};
  spec.head_filters = 64;
  spec.num_classes = 10;
  for (Padding padding : {Padding::Symmetric, Padding::TfSame}) {
    spec.padding = padding;
    CHECK(relative_error(spec, 32) < 1e-4);
    CHECK(relative_error(spec, 45, 3) < 1e-4);
  }
}

TEST_CASE("the inference form equals the module on random specs, and does not change the model", "[models][inference]") {
  std::mt19937 rng(99);
  torch::manual_seed(3);
  for (int i = 0; i < 12; ++i) {
    const ArchSpec spec = effscale::testing::random_valid_spec(rng);
    INFO("spec " << i << ": first stage " << format_block_string(spec.stages[0]));
    CHECK(relative_error(spec, 24 + i) < 1e-4);
  }
  EfficientNet model(official("b0"), 1);
  const torch::Tensor before = model->conv_stem->weight.clone();
  const InferenceNet folded(*model);
  CHECK(torch::equal(model->conv_stem->weight, before));
  CHECK(model->is_training());
}

TEST_CASE("the inference form equals the module at a proxy's size, where the last maps are 1x1",
          "[models][inference]") {
  // B0 at width 0.25, 28 px grey, as the proxies train it: 1x1 and 2x2 maps in the last stages (effscale's depthwise
  // forward on small outputs), in both layouts.
  const ArchSpec spec = effscale::testing::grey_proxy_b0(0.25, 1.0);
  CHECK(relative_error(spec, 28, 8) < 1e-4);
  EfficientNet model(spec, 3);
  randomise_batch_norms(*model);
  model->eval();
  const torch::Tensor x = torch::randn({4, 1, 28, 28});
  const torch::Tensor channels_last = InferenceNet(*model, torch::MemoryFormat::ChannelsLast).forward(x);
  const torch::Tensor contiguous = InferenceNet(*model, torch::MemoryFormat::Contiguous).forward(x);
  CHECK(effscale::testing::relative_error(channels_last, contiguous) < 1e-4);
}

TEST_CASE("the inference form's oneDNN plans serve several input shapes, copies and threads alike",
          "[models][inference]") {
  // Four shapes cycle through a cache of three plans (each rebuilt in turn); a copy outlives the original; two
  // threads call one network at once. Every result equals LibTorch's ops (the contiguous form) and the first call's.
  ArchSpec spec = official("b0");
  spec.num_classes = 10;
  EfficientNet model(spec, 5);
  randomise_batch_norms(*model);
  model->eval();
  std::optional<InferenceNet> original(std::in_place, *model);
  const InferenceNet copy = *original;
  const InferenceNet reference(*model, torch::MemoryFormat::Contiguous);
  std::vector<torch::Tensor> inputs;
  for (int64_t size : {32, 40, 33, 48}) inputs.push_back(torch::randn({size % 3 + 1, 3, size, size}));
  std::vector<torch::Tensor> first;
  for (const torch::Tensor& x : inputs) {
#ifdef EFFSCALE_HAVE_ONEDNN
    CHECK(original->runs_onednn(x));
#endif
    CHECK_FALSE(reference.runs_onednn(x));
    first.push_back(original->forward(x));
    CHECK(effscale::testing::relative_error(first.back(), reference.forward(x)) < 1e-4);
  }
  original.reset();
  for (int round = 0; round < 2; ++round)
    for (size_t i = 0; i < inputs.size(); ++i)
      CHECK(effscale::testing::relative_error(copy.forward(inputs[i]), first[i]) < 1e-6);
  std::vector<torch::Tensor> results(inputs.size());
  std::thread other([&] {
    for (size_t i = 0; i < inputs.size(); i += 2) results[i] = copy.forward(inputs[i]);
  });
  for (size_t i = 1; i < inputs.size(); i += 2) results[i] = copy.forward(inputs[i]);
  other.join();
  for (size_t i = 0; i < inputs.size(); ++i) CHECK(effscale::testing::relative_error(results[i], first[i]) < 1e-6);
}

TEST_CASE("the work of a folded forward pass is the spec's multiply-adds for the batch, in its steps",
          "[models][inference]") {
  // Official models, a searched spec (regular convs, pooling shortcuts, blocks without SE), both paddings, odd sizes.
  ArchSpec searched = official("b0");
  searched.stages = {parse_block_string("r1_k3_s11_e1_i32_o16_c1"), parse_block_string("r2_k5_s22_e4_i16_o24_se0.25_c1_poolskip"),
                     parse_block_string("r1_k3_s22_e6_i24_o40_poolskip")};
  searched.head_filters = 64;
  const std::vector<std::pair<ArchSpec, int64_t>> cases{
      {official("b0"), 224}, {official("b0"), 97}, {official("b4"), 65}, {searched, 45},
      {effscale::testing::grey_proxy_b0(0.25, 1.0), 28}};
  for (const auto& [base_spec, resolution] : cases) {
    for (Padding padding : {Padding::Symmetric, Padding::TfSame}) {
      ArchSpec spec = base_spec;
      spec.padding = padding;
      INFO(format_block_string(spec.stages[0]) << " at " << resolution << " px, padding " << int(padding));
      EfficientNet model(spec, 1);
      const InferenceNet folded(*model);
      const PassWork work = inference_work(folded.network(), {3, spec.in_channels, resolution, resolution});
      CHECK(work.macs == 3 * count_macs(spec, int(resolution)));
      int64_t steps = 3;  // stem, head, classifier
      for (const FoldedBlock& block : folded.network().blocks)
        steps += int64_t(block.expands) + 1 + (block.has_se ? 4 : 0) + int64_t(block.projects);
      CHECK(work.steps == steps);
      // The spec alone counts the same work (what training's thread choice reads, with no folded network).
      const PassWork from_spec = forward_work(spec, 3, int(resolution));
      CHECK(from_spec.macs == work.macs);
      CHECK(from_spec.steps == work.steps);
    }
  }
}

TEST_CASE("a forward pass of little work per step runs on one thread, and the thread count comes back after it",
          "[models][inference]") {
  CHECK(threads_for_work({kMinMacsPerStepForThreads * 10 - 1, 10}, 2) == 1);
  CHECK(threads_for_work({kMinMacsPerStepForThreads * 10, 10}, 2) == 2);
  CHECK(threads_for_work({kMinMacsPerStepForThreads * 10, 10}, 0) == 1);
  CHECK(threads_for_work({0, 0}, 4) == 1);
  // B0 at batch 1 and 224 px is above the line (about 3.4M multiply-adds per step); the grey proxy at 28 px below.
  EfficientNet b0(official("b0"), 1);
  const InferenceNet big(*b0);
  CHECK(threads_for_work(inference_work(big.network(), {1, 3, 224, 224}), 2) == 2);
  EfficientNet proxy(effscale::testing::grey_proxy_b0(0.25, 1.0), 1);
  proxy->eval();
  const InferenceNet small(*proxy);
  CHECK(threads_for_work(inference_work(small.network(), {64, 1, 28, 28}), 2) == 1);
  // Training reads the same line from the spec: the proxy's steps at batch 64 on one thread, B0's at 64 px and
  // batch 32 (about 12M multiply-adds per forward step) on all.
  CHECK(training_threads(effscale::testing::grey_proxy_b0(0.25, 1.0), 64, 28, 2) == 1);
  CHECK(training_threads(official("b0"), 32, 64, 2) == 2);
  // The limit holds only for the pass: the caller's count is the same after it, and the logits equal LibTorch's.
  at::set_num_threads(2);
  effscale::base::limit_thread_intra_op(2);
  const torch::Tensor x = torch::randn({64, 1, 28, 28});
  const torch::Tensor logits = small.forward(x);
  CHECK(at::get_num_threads() == 2);
  torch::NoGradGuard no_grad;
  CHECK(effscale::testing::relative_error(logits, proxy->forward(x)) < 1e-4);
}

TEST_CASE("a pass splits its batch into lanes, one per thread, with the one-lane logits",
          "[models][inference]") {
  EfficientNet proxy(effscale::testing::grey_proxy_b0(0.25, 1.0), 1);
  randomise_batch_norms(*proxy);
  proxy->eval();
  const InferenceNet small(*proxy);
  EfficientNet b0(official("b0"), 1);
  const InferenceNet big(*b0);
  CHECK(inference_lanes(inference_work(small.network(), {64, 1, 28, 28}), 64, 2) == 2);
  CHECK(inference_lanes(inference_work(small.network(), {64, 1, 28, 28}), 64, 1) == 1);
  CHECK(inference_lanes(inference_work(small.network(), {64, 1, 28, 28}), 64, 0) == 1);
  // Much work per step: lanes only where every thread gets an image (B0 at batch 1 shares its layers instead).
  CHECK(inference_lanes(inference_work(big.network(), {1, 3, 224, 224}), 1, 2) == 1);
  CHECK(inference_lanes(inference_work(big.network(), {2, 3, 224, 224}), 2, 2) == 2);
  CHECK(inference_lanes(inference_work(big.network(), {3, 3, 224, 224}), 3, 4) == 1);
  // An odd batch splits unevenly (33 + 32); a batch of one runs in one lane. Each image's logits equal those of the
  // pass on one thread, in one lane, and LibTorch's ops; the caller's thread count is the same after.
  at::set_num_threads(2);
  effscale::base::limit_thread_intra_op(2);
  for (int64_t images : {65, 2, 1}) {
    INFO(images << " images");
    const torch::Tensor x = torch::randn({images, 1, 28, 28});
    const torch::Tensor in_lanes = small.forward(x);
    CHECK(at::get_num_threads() == 2);
    torch::Tensor one_lane;
    {
      const effscale::base::ScopedThreadLimit one_thread(1);
      one_lane = small.forward(x);
    }
    CHECK(effscale::testing::relative_error(in_lanes, one_lane) < 1e-5);
    torch::NoGradGuard no_grad;
    CHECK(effscale::testing::relative_error(in_lanes, proxy->forward(x)) < 1e-4);
  }
  // B0 (much work per step), three images in two lanes (2 + 1), against one thread.
  const torch::Tensor x = torch::randn({3, 3, 64, 64});
  const torch::Tensor in_lanes = big.forward(x);
  const effscale::base::ScopedThreadLimit one_thread(1);
  CHECK(effscale::testing::relative_error(in_lanes, big.forward(x)) < 1e-5);
}
