#include "effscale/trainers/resample.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace effscale::trainers {
namespace {

double bicubic(double x) {
  constexpr double a = -0.5;
  x = std::abs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

double triangle(double x) {
  x = std::abs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// For every output position: the first input index and the normalised weights of the inputs it reads.
struct Taps {
  std::vector<int64_t> first;
  std::vector<int64_t> count;
  std::vector<float> weights;  // out_size x width
  int64_t width = 0;
};

Taps compute_taps(int64_t in_size, int64_t out_size, ResampleFilter filter) {
  const double scale = double(in_size) / double(out_size);
  const double filter_scale = std::max(scale, 1.0);
  const double support = (filter == ResampleFilter::Bicubic ? 2.0 : 1.0) * filter_scale;
  Taps taps;
  taps.width = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.weights.assign(static_cast<size_t>(out_size * taps.width), 0.0f);
  for (int64_t i = 0; i < out_size; ++i) {
    const double center = (double(i) + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in_size);
    std::vector<double> w;
    double total = 0;
    for (int64_t j = lo; j < hi && int64_t(w.size()) < taps.width; ++j) {
      const double x = (double(j) - center + 0.5) / filter_scale;
      w.push_back(filter == ResampleFilter::Bicubic ? bicubic(x) : triangle(x));
      total += w.back();
    }
    taps.first[i] = lo;
    taps.count[i] = static_cast<int64_t>(w.size());
    for (size_t k = 0; k < w.size(); ++k) taps.weights[size_t(i * taps.width) + k] = float(total != 0 ? w[k] / total : 0);
  }
  return taps;
}

}  // namespace

torch::Tensor resample(const torch::Tensor& image, int64_t out_h, int64_t out_w, ResampleFilter filter) {
  TORCH_CHECK(image.dim() == 3 && image.scalar_type() == torch::kUInt8, "resample needs uint8 [C, H, W]");
  TORCH_CHECK(out_h >= 1 && out_w >= 1, "resample needs a positive output size");
  const torch::Tensor in = image.contiguous();
  const int64_t channels = in.size(0), h = in.size(1), w = in.size(2);
  const Taps across = compute_taps(w, out_w, filter), down = compute_taps(h, out_h, filter);
  // Pass 1, along rows: [C, h, w] uint8 -> [C, h, out_w] float.
  std::vector<float> rows(static_cast<size_t>(channels * h * out_w));
  const uint8_t* src = in.data_ptr<uint8_t>();
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t y = 0; y < h; ++y) {
      const uint8_t* line = src + (c * h + y) * w;
      float* out = rows.data() + (c * h + y) * out_w;
      for (int64_t x = 0; x < out_w; ++x) {
        const float* k = across.weights.data() + x * across.width;
        const uint8_t* p = line + across.first[x];
        float sum = 0;
        for (int64_t t = 0; t < across.count[x]; ++t) sum += k[t] * float(p[t]);
        out[x] = std::clamp(sum, 0.0f, 255.0f);  // as Pillow, which stores this pass in 8 bits
      }
    }
  // Pass 2, along columns: [C, h, out_w] -> [C, out_h, out_w], scaled to [0, 1].
  torch::Tensor result = torch::empty({channels, out_h, out_w}, torch::kFloat);
  float* dst = result.data_ptr<float>();
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t y = 0; y < out_h; ++y) {
      const float* k = down.weights.data() + y * down.width;
      float* out = dst + (c * out_h + y) * out_w;
      std::fill(out, out + out_w, 0.0f);
      for (int64_t t = 0; t < down.count[y]; ++t) {
        const float weight = k[t] / 255.0f;
        const float* line = rows.data() + (c * h + down.first[y] + t) * out_w;
        for (int64_t x = 0; x < out_w; ++x) out[x] += weight * line[x];
      }
    }
  return result.clamp_(0.0f, 1.0f);
}

}  // namespace effscale::trainers
