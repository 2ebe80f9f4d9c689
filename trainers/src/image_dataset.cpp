#include "effscale/trainers/image_dataset.h"

#include <torch/torch.h>

#include "effscale/trainers/image_decoder.h"

#include <cmath>
#include <random>
#include <sstream>
#include <stdexcept>

namespace effscale::trainers {

torch::Tensor ImageDataset::image(int64_t i) const {
  return files.empty() ? images[i] : decode_image_file(files.at(static_cast<size_t>(i)));
}

ImageDataset ImageDataset::select(const torch::Tensor& indices) const {
  ImageDataset out;
  out.name = name;
  out.class_names = class_names;
  if (files.empty()) {
    out.images = images.index_select(0, indices).contiguous();
  } else {
    const torch::Tensor idx = indices.contiguous();
    for (int64_t k = 0; k < idx.numel(); ++k) out.files.push_back(files.at(static_cast<size_t>(idx.data_ptr<int64_t>()[k])));
  }
  out.labels = labels.index_select(0, indices).contiguous();
  out.num_classes = num_classes;
  return out;
}

torch::Tensor seeded_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(seed);
  // Fisher-Yates with our own index draw: std::shuffle's algorithm is not specified by the standard.
  for (int64_t i = n - 1; i > 0; --i) {
    const int64_t j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return torch::tensor(order, torch::kLong);
}

TrainValidationSplit split_validation(const ImageDataset& data, double fraction, uint64_t seed) {
  if (!(fraction >= 0.0 && fraction < 1.0))
    throw std::invalid_argument("validation fraction must be in [0, 1), got " + std::to_string(fraction));
  const int64_t n = data.size();
  const auto held = static_cast<int64_t>(std::llround(fraction * n));
  if (n - held < 1) throw std::invalid_argument("validation split of " + data.name + " leaves no training sample");
  if (held < 1) {  // a run reports and is ranked by its validation accuracy: an empty set has none
    std::ostringstream text;
    text << "validation split of " << data.name << " holds no sample (fraction " << fraction << " of " << n << ")";
    throw std::invalid_argument(text.str());
  }
  const torch::Tensor order = seeded_permutation(n, seed);
  // Sorted indices keep the original order inside each part.
  return {data.select(std::get<0>(order.slice(0, held).sort())),
          data.select(std::get<0>(order.slice(0, 0, held).sort()))};
}

ImageDataset take_subset(const ImageDataset& data, int64_t limit, uint64_t seed) {
  if (limit <= 0 || limit >= data.size()) return data;
  return data.select(std::get<0>(seeded_permutation(data.size(), seed ^ 0x5eed5eedULL).slice(0, 0, limit).sort()));
}

}  // namespace effscale::trainers
