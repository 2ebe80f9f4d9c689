// Dataset readers on files the test writes: IDX (plain and gzip), CIFAR-10/100, splits, and every
// corrupt-file case named in the error.

#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <filesystem>

#include "dataset_files.h"
#include "effscale/trainers/dataset_readers.h"
#include "temp_dir.h"

using namespace effscale::trainers;
using namespace effscale::testing;

namespace {

// An IDX pair of n images 4x5 with labels i % 3.
void write_idx_pair(const TempDir& dir, const std::string& prefix, uint32_t n, bool gzip) {
  std::vector<uint8_t> labels(n);
  for (uint32_t i = 0; i < n; ++i) labels[i] = static_cast<uint8_t>(i % 3);
  const std::string ext = gzip ? ".gz" : "";
  write_idx(dir.file(prefix + "-images-idx3-ubyte" + ext), {n, 4, 5}, pattern_bytes(n * 20, n), gzip);
  write_idx(dir.file(prefix + "-labels-idx1-ubyte" + ext), {n}, labels, gzip);
}

}  // namespace

TEST_CASE("IDX files read the same plain and gzip-compressed", "[trainers][data]") {
  TempDir dir;
  for (bool gzip : {false, true}) {
    write_idx_pair(dir, gzip ? "gz" : "plain", 7, gzip);
    const std::string ext = gzip ? ".gz" : "";
    const std::string p = gzip ? "gz" : "plain";
    const ImageDataset d = read_idx_dataset(dir.file(p + "-images-idx3-ubyte" + ext), dir.file(p + "-labels-idx1-ubyte" + ext));
    CHECK(d.images.sizes() == torch::IntArrayRef({7, 1, 4, 5}));
    CHECK(d.labels.sizes() == torch::IntArrayRef({7}));
    CHECK(d.num_classes == 3);
    CHECK(d.labels[4].item<int64_t>() == 1);
    const auto bytes = pattern_bytes(140, 7);
    CHECK(d.images[1][0][0][0].item<int>() == bytes[20]);
  }
}

TEST_CASE("corrupt IDX files are errors that name the file", "[trainers][data]") {
  TempDir dir;
  write_idx(dir.file("labels"), {3}, {0, 1, 2}, false);
  struct Case {
    std::string name, message;
    std::vector<uint32_t> dims;
    size_t bytes;
    int64_t declared;
  };
  const Case cases[] = {
      {"lies", "the IDX header promises", {3, 4, 5}, 60, 5},     // header says 5 images, data has 3
      {"short", "the IDX header promises", {3, 4, 5}, 50, -1},  // truncated
      {"fewer", "3 labels for 2 images", {2, 4, 5}, 40, -1},
      // 2^31 * 2^31 * 4 wraps to 0 bytes in 64 bits, which a header-only file would match
      {"wraps", "multiply past 2^64", {uint32_t(1) << 31, uint32_t(1) << 31, 4}, 0, -1},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    write_idx(dir.file(c.name), c.dims, pattern_bytes(c.bytes, 1), false, c.declared);
    CHECK_THROWS_AS(read_idx_dataset(dir.file(c.name), dir.file("labels")), DataError);
    CHECK_THROWS_WITH(read_idx_dataset(dir.file(c.name), dir.file("labels")), Catch::Contains(c.message));
  }
  // A small gzip file that inflates far past what its header promises (2 images of 4 x 5: 56 bytes) is refused as
  // soon as the stream passes the promise, whatever it would inflate to.
  write_idx(dir.file("bomb.gz"), {3, 4, 5}, std::vector<uint8_t>(16 << 20, 0), true, 2);
  CHECK(std::filesystem::file_size(dir.file("bomb.gz")) < 100000);
  CHECK_THROWS_WITH(read_idx_dataset(dir.file("bomb.gz"), dir.file("labels")),
                    Catch::Contains("bomb.gz' holds more than 56 bytes once decompressed (its IDX header promises 56)"));
  CHECK_THROWS_WITH(read_idx_dataset(dir.file("labels"), dir.file("labels")), Catch::Contains("is not an IDX file of 3-D"));
  CHECK_THROWS_WITH(read_idx_dataset(dir.file("absent"), dir.file("labels")), Catch::Contains("absent': no such file"));
  const std::string broken = dir.write("broken.gz", std::string("\x1f\x8b\x08\x00garbage-not-deflate", 24));
  CHECK_THROWS_WITH(read_idx_dataset(broken, dir.file("labels")), Catch::Contains(broken));
  write_idx(dir.file("img3"), {3, 4, 5}, pattern_bytes(60, 1), false);
  write_idx(dir.file("bad-labels"), {3}, {0, 1, 12}, false);
  CHECK_THROWS_WITH(read_idx_dataset(dir.file("img3"), dir.file("bad-labels"), 10), Catch::Contains("label 12"));
}

TEST_CASE("CIFAR-10 and CIFAR-100 batches read, short batches are errors", "[trainers][data]") {
  TempDir dir;
  write_cifar(dir.file("c10.bin"), {0, 9, 3}, 1);
  const ImageDataset c10 = read_cifar_batches({dir.file("c10.bin"), dir.file("c10.bin")}, 10);
  CHECK(c10.images.sizes() == torch::IntArrayRef({6, 3, 32, 32}));
  CHECK(c10.labels[4].item<int64_t>() == 9);
  CHECK(c10.images[1][2][31][31].item<int>() == pattern_bytes(3072, 1)[3071]);
  write_cifar(dir.file("c100.bin"), {42, 99}, 2);
  const ImageDataset c100 = read_cifar_batches({dir.file("c100.bin")}, 100);
  CHECK(c100.labels[0].item<int64_t>() == 42);  // the fine label
  CHECK(c100.num_classes == 100);
  write_cifar(dir.file("short.bin"), {1, 2}, 1, 100);
  CHECK_THROWS_WITH(read_cifar_batches({dir.file("short.bin")}, 10),
                    Catch::Contains("short.bin") && Catch::Contains("not a whole number of 3073-byte records"));
  write_cifar(dir.file("bad.bin"), {12}, 1);
  CHECK_THROWS_WITH(read_cifar_batches({dir.file("bad.bin")}, 10), Catch::Contains("label outside 0..9"));
}

TEST_CASE("named datasets load from a folder and say what is missing", "[trainers][data]") {
  TempDir dir;
  write_idx_pair(dir, "train", 12, true);
  write_idx_pair(dir, "t10k", 5, false);
  const DatasetFiles files = load_named_dataset("mnist", dir.path().string());
  CHECK(files.train.size() == 12);
  CHECK(files.test.size() == 5);
  CHECK(files.train.num_classes == 10);
  CHECK_THROWS_WITH(load_named_dataset("cifar10", dir.path().string()), Catch::Contains("has no data_batch_1.bin"));
  CHECK_THROWS_WITH(load_named_dataset("imagenet", ""), Catch::Contains("unknown dataset 'imagenet'"));
  CHECK_THROWS_WITH(load_named_dataset("mnist", ""), Catch::Contains("needs a data folder"));
  CHECK_THROWS_WITH(load_named_dataset("mnist", dir.file("nope")), Catch::Contains("does not exist"));
}

TEST_CASE("validation splits are seeded, disjoint and complete", "[trainers][data]") {
  ImageDataset d;
  d.name = "synthetic";
  d.images = torch::arange(100, torch::kUInt8).view({100, 1, 1, 1});
  d.labels = torch::arange(100, torch::kLong);
  d.num_classes = 100;
  const auto a = split_validation(d, 0.2, 7), b = split_validation(d, 0.2, 7), c = split_validation(d, 0.2, 8);
  CHECK(a.validation.size() == 20);
  CHECK(a.train.size() == 80);
  CHECK(torch::equal(a.validation.labels, b.validation.labels));
  CHECK_FALSE(torch::equal(a.validation.labels, c.validation.labels));
  const torch::Tensor all = std::get<0>(torch::cat({a.train.labels, a.validation.labels}).sort());
  CHECK(torch::equal(all, d.labels));
  CHECK(torch::equal(a.train.images.view({-1}).to(torch::kLong), a.train.labels));  // pairs stay together
  CHECK(take_subset(d, 30, 1).size() == 30);
  CHECK(take_subset(d, 0, 1).size() == 100);
  CHECK_THROWS_AS(split_validation(d, 1.0, 0), std::invalid_argument);
  CHECK_THROWS_WITH(split_validation(d, 0.0, 0), Catch::Contains("holds no sample"));  // nothing to validate on
}
