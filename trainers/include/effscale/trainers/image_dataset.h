#pragma once
// ImageDataset: a labelled image set held in memory as uint8 tensors, and the splits carved from it.

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace effscale::trainers {

// Samples held in memory (images: uint8 [N, C, H, W], C = 1 for grey, 3 for RGB) or as image files decoded
// when a batch needs them (files; images undefined). labels: int64 [N] in [0, num_classes).
struct ImageDataset {
  std::string name;                      // where it came from (file or folder), for messages
  torch::Tensor images;
  std::vector<std::string> files;        // folder datasets: one JPEG/PNG path per sample
  std::vector<std::string> class_names;  // folder datasets: class index -> folder name
  torch::Tensor labels;
  int64_t num_classes = 0;

  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
  // Sample i as uint8 [C, H, W] (decoded from its file for folder datasets; throws DataError when broken).
  torch::Tensor image(int64_t i) const;
  // The samples at `indices` (int64 [K]), sharing nothing with this dataset.
  ImageDataset select(const torch::Tensor& indices) const;
};

// A training set split in two: `train` keeps the rest, `validation` the held-out part.
struct TrainValidationSplit {
  ImageDataset train;
  ImageDataset validation;
};

// Carves round(fraction * N) samples out as a validation set (the paper's minival), chosen by a
// permutation seeded with `seed`: the same seed always holds out the same samples. fraction in [0, 1).
// Throws std::invalid_argument when fraction is out of range or leaves no training sample or no validation sample.
TrainValidationSplit split_validation(const ImageDataset& data, double fraction, uint64_t seed);

// The first `limit` samples of a seeded permutation (a proxy subset); the whole set when limit <= 0 or
// limit >= size().
ImageDataset take_subset(const ImageDataset& data, int64_t limit, uint64_t seed);

// A permutation of 0..n-1 from a seed, identical on every machine (std::mt19937_64 + Fisher-Yates).
torch::Tensor seeded_permutation(int64_t n, uint64_t seed);

}  // namespace effscale::trainers
