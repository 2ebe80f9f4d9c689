// Batch transforms and the batch loader: sizes, channels, normalisation, crops, determinism.

#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <set>

#include "effscale/trainers/batch_loader.h"
#include "effscale/trainers/transforms.h"

using namespace effscale::trainers;

namespace {

ImageDataset counting_dataset(int64_t n) {
  ImageDataset d;
  d.name = "counting";
  d.images = torch::arange(n, torch::kLong).remainder(256).to(torch::kUInt8).view({n, 1, 1, 1}).expand({n, 1, 6, 8}).contiguous();
  d.labels = torch::arange(n, torch::kLong);
  d.num_classes = n;
  return d;
}

}  // namespace

TEST_CASE("transforms resize to any resolution and match channels", "[trainers][transforms]") {
  const torch::Tensor grey = torch::randint(0, 256, {3, 1, 28, 28}).to(torch::kUInt8);
  for (int resolution : {16, 28, 64}) {
    for (bool training : {false, true}) {
      TransformOptions o;
      o.resolution = resolution;
      const torch::Tensor x = transform_batch(grey, o, training, 1);
      CHECK(x.sizes() == torch::IntArrayRef({3, 3, resolution, resolution}));
      CHECK(torch::isfinite(x).all().item<bool>());
    }
  }
  TransformOptions one;
  one.resolution = 20;
  one.channels = 1;
  const torch::Tensor rgb = torch::randint(0, 256, {2, 3, 32, 32}).to(torch::kUInt8);
  CHECK(transform_batch(rgb, one, false, 0).sizes() == torch::IntArrayRef({2, 1, 20, 20}));
}

TEST_CASE("grey images replicate to three channels and normalise per channel", "[trainers][transforms]") {
  TransformOptions o;
  o.resolution = 8;
  o.eval_crop = 1.0;
  const torch::Tensor white = torch::full({1, 1, 8, 8}, 255, torch::kUInt8);
  const torch::Tensor x = transform_batch(white, o, false, 0);
  for (int c = 0; c < 3; ++c) CHECK(x[0][c][3][3].item<double>() == Approx((1.0 - o.mean[c]) / o.std[c]).epsilon(1e-5));
}

TEST_CASE("evaluation center-crops the shorter side", "[trainers][transforms]") {
  // An 8x8 image whose border is 255 and centre 0: a 0.5 center crop sees only the centre.
  torch::Tensor img = torch::full({1, 1, 8, 8}, 255, torch::kUInt8);
  img.slice(2, 2, 6).slice(3, 2, 6).fill_(0);
  TransformOptions o;
  o.resolution = 4;
  o.eval_crop = 0.5;
  o.channels = 1;
  const torch::Tensor x = transform_batch(img, o, false, 0);
  const double zero = (0.0 - 0.449) / 0.226;  // the channel means of mean and std
  CHECK(x.max().item<double>() == Approx(zero).epsilon(1e-4));
}

TEST_CASE("training crops stay inside the image and repeat for a seed", "[trainers][transforms]") {
  TransformOptions o;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    const CropBox b = random_resized_crop_box(28, 40, o, seed);
    CHECK(b.top >= 0);
    CHECK(b.left >= 0);
    CHECK(b.top + b.height <= 28);
    CHECK(b.left + b.width <= 40);
    CHECK(b.height * b.width >= 1);
  }
  const torch::Tensor images = torch::randint(0, 256, {4, 3, 30, 30}).to(torch::kUInt8);
  o.resolution = 24;
  CHECK(torch::equal(transform_batch(images, o, true, 5), transform_batch(images, o, true, 5)));
  CHECK_FALSE(torch::equal(transform_batch(images, o, true, 5), transform_batch(images, o, true, 6)));
}

TEST_CASE("the loader covers the data in a seeded order per epoch", "[trainers][loader]") {
  const ImageDataset d = counting_dataset(50);
  TransformOptions o;
  o.resolution = 4;
  auto labels_of = [&](BatchLoaderOptions options) {
    BatchLoader loader(d, o, options);
    std::vector<int64_t> labels;
    int64_t batches = 0;
    while (auto b = loader.next()) {
      ++batches;
      CHECK(b->images.size(0) == b->labels.size(0));
      for (int64_t i = 0; i < b->labels.size(0); ++i) labels.push_back(b->labels[i].item<int64_t>());
    }
    CHECK(batches == loader.batches());
    return labels;
  };
  const auto epoch0 = labels_of({8, true, 3, 0, 2});
  CHECK(epoch0.size() == 48);  // the partial batch is dropped in training
  CHECK(labels_of({8, true, 3, 0, 2}) == epoch0);
  CHECK(labels_of({8, true, 3, 1, 2}) != epoch0);
  CHECK(labels_of({8, true, 4, 0, 2}) != epoch0);
  std::vector<int64_t> in_order(50);
  for (int64_t i = 0; i < 50; ++i) in_order[i] = i;
  CHECK(labels_of({8, false, 3, 0, 1}) == in_order);  // evaluation: every sample, in order
}

TEST_CASE("a loader destroyed mid-epoch stops cleanly", "[trainers][loader]") {
  const ImageDataset d = counting_dataset(64);
  BatchLoader loader(d, TransformOptions{}, {4, true, 0, 0, 2});
  CHECK(loader.next().has_value());
}

TEST_CASE("the loader reuses a batch's memory only once nothing holds it", "[trainers][loader]") {
  const ImageDataset d = counting_dataset(64);
  TransformOptions o;
  o.resolution = 6;
  o.horizontal_flip = false;
  BatchLoader loader(d, o, {4, false, 0, 0, 1});
  // Evaluation: sample i is constant (i % 256), so every batch is recognisable by its labels.
  auto matches_labels = [&](const Batch& b) {
    const torch::Tensor channel0 = b.images.select(1, 0).flatten(1).amax(1);
    const torch::Tensor expected = (b.labels.to(torch::kFloat) / 255.0f - float(o.mean[0])) / float(o.std[0]);
    return torch::allclose(channel0, expected, 1e-5, 1e-5);
  };
  const Batch held = *loader.next();
  const torch::Tensor view = loader.next()->images.slice(0, 1, 3);  // only a view of the second batch is kept
  std::set<const void*> earlier;
  int64_t reused = 0;
  while (auto b = loader.next()) {
    CHECK(matches_labels(*b));
    CHECK(b->images.data_ptr() != held.images.data_ptr());
    CHECK(b->images.storage().data() != view.storage().data());
    reused += !earlier.insert(b->images.data_ptr()).second;
  }
  CHECK(matches_labels(held));
  CHECK(reused > 0);
}
