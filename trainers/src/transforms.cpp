#include "effscale/trainers/transforms.h"

#include <torch/torch.h>

#include "effscale/trainers/resample.h"

#include <cmath>
#include <random>

namespace effscale::trainers {

uint64_t mix_seed(uint64_t seed, uint64_t a, uint64_t b) {
  auto splitmix = [](uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
  };
  return splitmix(splitmix(splitmix(seed) ^ a) ^ b);
}

CropBox random_resized_crop_box(int64_t h, int64_t w, const TransformOptions& o, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> area_dist(o.crop_min_area, o.crop_max_area);
  std::uniform_real_distribution<double> log_aspect(std::log(o.crop_min_aspect), std::log(o.crop_max_aspect));
  const double area = double(h) * double(w);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target = area * area_dist(rng), aspect = std::exp(log_aspect(rng));
    const auto cw = static_cast<int64_t>(std::llround(std::sqrt(target * aspect)));
    const auto ch = static_cast<int64_t>(std::llround(std::sqrt(target / aspect)));
    if (cw > 0 && ch > 0 && cw <= w && ch <= h) {
      const int64_t top = std::uniform_int_distribution<int64_t>(0, h - ch)(rng);
      const int64_t left = std::uniform_int_distribution<int64_t>(0, w - cw)(rng);
      return {top, left, ch, cw};
    }
  }
  // Fallback: the largest central crop within the aspect range.
  const double ratio = double(w) / double(h);
  int64_t cw = w, ch = h;
  if (ratio < o.crop_min_aspect) ch = std::llround(w / o.crop_min_aspect);
  else if (ratio > o.crop_max_aspect) cw = std::llround(h * o.crop_max_aspect);
  return {(h - ch) / 2, (w - cw) / 2, ch, cw};
}

namespace {

torch::Tensor match_channels(const torch::Tensor& x, int channels) {
  if (x.size(1) == channels) return x;
  if (x.size(1) == 1) return x.expand({x.size(0), channels, x.size(2), x.size(3)});
  // RGB to one channel: ITU-R 601 luma.
  torch::Tensor weights = torch::tensor({0.299, 0.587, 0.114}, x.options()).view({1, 3, 1, 1});
  return (x * weights).sum(1, /*keepdim=*/true);
}

}  // namespace

torch::Tensor transform_image(const torch::Tensor& image, const TransformOptions& o, bool training, uint64_t sample_seed) {
  TORCH_CHECK(image.dim() == 3 && image.scalar_type() == torch::kUInt8, "transform_image needs uint8 [C, H, W]");
  const int64_t h = image.size(1), w = image.size(2);
  CropBox box;
  if (training) {
    box = random_resized_crop_box(h, w, o, sample_seed);
  } else {
    const auto side = std::max<int64_t>(1, std::llround(o.eval_crop * double(std::min(h, w))));
    box = {(h - side) / 2, (w - side) / 2, side, side};
  }
  const torch::Tensor crop = image.slice(1, box.top, box.top + box.height).slice(2, box.left, box.left + box.width);
  torch::Tensor x = resample(crop, o.resolution, o.resolution, o.bicubic ? ResampleFilter::Bicubic : ResampleFilter::Bilinear)
                        .unsqueeze(0);
  if (training && o.horizontal_flip && (mix_seed(sample_seed, 1) & 1)) x = x.flip({3});
  if (training && o.augment.policy != AugmentPolicy::None) {
    const torch::Tensor bytes = x[0].mul(255.0).round_().clamp_(0, 255).to(torch::kByte);
    x = augment_image(bytes, o.augment, mix_seed(sample_seed, 2)).to(torch::kFloat).div_(255.0).unsqueeze(0);
  }
  x = match_channels(x, o.channels);
  std::vector<double> mean(o.mean.begin(), o.mean.end()), stdev(o.std.begin(), o.std.end());
  if (o.channels == 1) {
    mean = {(o.mean[0] + o.mean[1] + o.mean[2]) / 3};
    stdev = {(o.std[0] + o.std[1] + o.std[2]) / 3};
  }
  const torch::Tensor m = torch::tensor(mean, torch::kFloat).view({1, -1, 1, 1});
  const torch::Tensor s = torch::tensor(stdev, torch::kFloat).view({1, -1, 1, 1});
  return ((x - m) / s).contiguous();
}

torch::Tensor transform_batch(const torch::Tensor& images, const TransformOptions& o, bool training, uint64_t seed) {
  TORCH_CHECK(images.dim() == 4 && images.scalar_type() == torch::kUInt8, "transform_batch needs uint8 [B, C, H, W]");
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < images.size(0); ++i)
    out.push_back(transform_image(images[i], o, training, mix_seed(seed, static_cast<uint64_t>(i))));
  return torch::cat(out);
}

}  // namespace effscale::trainers
