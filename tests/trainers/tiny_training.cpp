#include "tiny_training.h"

#include <torch/torch.h>

#include <catch2/catch.hpp>

#include "effscale/models/official.h"

namespace effscale::testing {

models::ArchSpec tiny_spec(int classes) {
  models::ArchSpec spec = models::official("b0");
  spec.name = "tiny";
  spec.width_mult = 0.25;
  spec.depth_mult = 0.25;
  spec.resolution = 16;
  spec.in_channels = 1;
  spec.num_classes = classes;
  spec.bn.momentum = 0.1;
  return spec;
}

trainers::ImageDataset synthetic(int64_t n, uint64_t seed) {
  torch::manual_seed(seed);
  trainers::ImageDataset d;
  d.name = "synthetic";
  d.labels = torch::randint(0, 4, {n}, torch::kLong);
  torch::Tensor images = torch::randint(0, 120, {n, 1, 12, 12}).to(torch::kFloat);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = d.labels[i].item<int64_t>();
    images[i].slice(1, (k / 2) * 6, (k / 2) * 6 + 6).slice(2, (k % 2) * 6, (k % 2) * 6 + 6).add_(120);
  }
  d.images = images.to(torch::kUInt8);
  d.num_classes = 4;
  return d;
}

trainers::TrainerOptions tiny_options(const std::string& checkpoint) {
  trainers::TrainerOptions o;
  o.epochs = 2;
  o.batch_size = 16;
  o.lr_per_256 = 0.256;
  o.schedule.warmup_epochs = 1;
  o.ema_decay = 0.99;
  o.transform.resolution = 16;
  o.transform.channels = 1;
  o.seed = 11;
  o.checkpoint_path = checkpoint;
  return o;
}

void check_same_state(const torch::nn::Module& a, const torch::nn::Module& b) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  for (const auto& p : pa) {
    INFO(p.key());
    CHECK(torch::equal(p.value(), pb[p.key()]));
  }
  const auto ba = a.named_buffers(), bb = b.named_buffers();
  for (const auto& buffer : ba) {
    INFO(buffer.key());
    CHECK(torch::equal(buffer.value(), bb[buffer.key()]));
  }
}

}  // namespace effscale::testing
