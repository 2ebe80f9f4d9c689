#include "effscale/trainers/transforms.h"

#include <torch/torch.h>

#include "effscale/trainers/image_decoder.h"
#include "effscale/trainers/resample.h"

#include <array>
#include <cmath>
#include <random>
#include <utility>
#include <vector>

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

CropBox sample_crop_box(int64_t h, int64_t w, const TransformOptions& o, bool training, uint64_t sample_seed) {
  if (training) return random_resized_crop_box(h, w, o, sample_seed);
  const auto side = std::max<int64_t>(1, std::llround(o.eval_crop * double(std::min(h, w))));
  return {(h - side) / 2, (w - side) / 2, side, side};
}

namespace {

// The policy on the resized image (planar floats in [0, 1], rewritten in place), through uint8 as the
// reference applies it.
void augment_in_place(float* image, int64_t channels, int64_t resolution, const AugmentOptions& options, uint64_t seed) {
  const torch::Tensor x = torch::from_blob(image, {channels, resolution, resolution}, torch::kFloat);
  const torch::Tensor bytes = x.mul(255.0).round_().clamp_(0, 255).to(torch::kByte);
  x.copy_(augment_image(bytes, options, seed).to(torch::kFloat).div_(255.0));
}

// Mean and std of each model input channel: the options' per-channel values, or for one channel their means.
std::array<std::pair<float, float>, 3> channel_statistics(const TransformOptions& o) {
  std::array<std::pair<float, float>, 3> out;
  for (size_t c = 0; c < 3; ++c) out[c] = {float(o.mean[c]), float(o.std[c])};
  if (o.channels == 1)
    out[0] = {float((o.mean[0] + o.mean[1] + o.mean[2]) / 3), float((o.std[0] + o.std[1] + o.std[2]) / 3)};
  return out;
}

// Writes `in` (planar [in_channels, plane]) as the model's channels, normalised: grey is replicated to 3,
// RGB becomes ITU-R 601 luma for 1 (then normalised with the mean of the 3 channels' statistics).
void match_and_normalise(const float* in, int64_t in_channels, int64_t plane, const TransformOptions& o, float* out) {
  TORCH_CHECK(transforms_make_channels(o.channels) &&
                  (in_channels == o.channels || in_channels == 1 || (in_channels == 3 && o.channels == 1)),
              "transform: cannot turn ", in_channels, " image channels into ", o.channels, " (1 or 3)");
  const auto statistics = channel_statistics(o);
  if (o.channels == 1 && in_channels == 3) {
    const auto [mean, stdev] = statistics[0];
    const float r = 0.299f, g = 0.587f, b = 0.114f;
    for (int64_t i = 0; i < plane; ++i) out[i] = (in[i] * r + in[plane + i] * g + in[2 * plane + i] * b - mean) / stdev;
    return;
  }
  for (int64_t c = 0; c < o.channels; ++c) {
    const auto [mean, stdev] = statistics[size_t(c)];
    const float* from = in + (in_channels == 1 ? 0 : c * plane);
    float* to = out + c * plane;
    for (int64_t i = 0; i < plane; ++i) to[i] = (from[i] - mean) / stdev;
  }
}

}  // namespace

void transform_crop(const PixelView& crop, const TransformOptions& o, bool training, uint64_t sample_seed, float* out) {
  const int64_t resolution = o.resolution, plane = resolution * resolution;
  const bool mirror = training && o.horizontal_flip && (mix_seed(sample_seed, 1) & 1);
  // Resized pixels go straight to `out` when the channel count stays; otherwise through a scratch buffer.
  std::vector<float> scratch;
  float* resized = out;
  if (crop.channels != o.channels) {
    scratch.resize(size_t(crop.channels * plane));
    resized = scratch.data();
  }
  resample_into(crop, resolution, resolution, o.bicubic ? ResampleFilter::Bicubic : ResampleFilter::Bilinear, mirror,
                resized);
  if (training && o.augment.policy != AugmentPolicy::None)
    augment_in_place(resized, crop.channels, resolution, o.augment, mix_seed(sample_seed, 2));
  match_and_normalise(resized, crop.channels, plane, o, out);
}

void transform_image_into(const torch::Tensor& image, const TransformOptions& o, bool training, uint64_t sample_seed,
                          float* out) {
  const PixelView view = pixel_view(image);
  transform_crop(view.crop(sample_crop_box(view.height, view.width, o, training, sample_seed)), o, training, sample_seed,
                 out);
}

torch::Tensor transform_image(const torch::Tensor& image, const TransformOptions& o, bool training, uint64_t sample_seed) {
  torch::Tensor out = torch::empty({1, o.channels, o.resolution, o.resolution}, torch::kFloat);
  transform_image_into(image, o, training, sample_seed, out.data_ptr<float>());
  return out;
}

void transform_image_file(const std::string& path, const TransformOptions& o, bool training, uint64_t sample_seed,
                          float* out) {
  const DecodedImage image = decode_image_region(
      path, [&](int64_t h, int64_t w) { return sample_crop_box(h, w, o, training, sample_seed); });
  transform_crop(image.view(), o, training, sample_seed, out);
}

torch::Tensor transform_batch(const torch::Tensor& images, const TransformOptions& o, bool training, uint64_t seed) {
  TORCH_CHECK(images.dim() == 4 && images.scalar_type() == torch::kUInt8, "transform_batch needs uint8 [B, C, H, W]");
  torch::Tensor out = torch::empty({images.size(0), o.channels, o.resolution, o.resolution}, torch::kFloat);
  const int64_t slot = o.channels * o.resolution * o.resolution;
  for (int64_t i = 0; i < images.size(0); ++i)
    transform_image_into(images[i], o, training, mix_seed(seed, static_cast<uint64_t>(i)), out.data_ptr<float>() + i * slot);
  return out;
}

}  // namespace effscale::trainers
