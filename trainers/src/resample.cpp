#include "effscale/trainers/resample.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <memory>
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
  std::vector<double> w(static_cast<size_t>(taps.width));
  for (int64_t i = 0; i < out_size; ++i) {
    const double center = (double(i) + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(center - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(static_cast<int64_t>(center + support + 0.5), in_size);
    const int64_t count = std::min(std::max<int64_t>(hi - lo, 0), taps.width);
    double total = 0;
    for (int64_t j = 0; j < count; ++j) {
      const double x = (double(lo + j) - center + 0.5) / filter_scale;
      w[j] = filter == ResampleFilter::Bicubic ? bicubic(x) : triangle(x);
      total += w[j];
    }
    taps.first[i] = lo;
    taps.count[i] = count;
    for (int64_t j = 0; j < count; ++j) taps.weights[size_t(i * taps.width + j)] = float(total != 0 ? w[j] / total : 0);
  }
  return taps;
}

// Scratch floats without the zero-filling of std::vector (every element is written before it is read).
using Scratch = std::unique_ptr<float[]>;

// Side of the square tiles the transposes work in.
constexpr int64_t kTile = 16;

// The view's pixels as floats, transposed: columns[c][x][y], so that filtering along rows can run down
// whole columns at once (contiguous, vectorised) instead of one output pixel at a time.
Scratch transposed_floats(const PixelView& in) {
  Scratch columns(new float[size_t(in.channels * in.width * in.height)]);
  // In tiles, so that both the rows read and the columns written stay in the L1 cache.
  for (int64_t c = 0; c < in.channels; ++c)
    for (int64_t y0 = 0; y0 < in.height; y0 += kTile)
      for (int64_t x0 = 0; x0 < in.width; x0 += kTile) {
        const int64_t y1 = std::min(y0 + kTile, in.height), x1 = std::min(x0 + kTile, in.width);
        for (int64_t x = x0; x < x1; ++x) {
          const uint8_t* p = in.data + c * in.channel_stride + x * in.pixel_stride;
          float* column = columns.get() + (c * in.width + x) * in.height;
          for (int64_t y = y0; y < y1; ++y) column[y] = p[y * in.row_stride];
        }
      }
  return columns;
}

// Pass 1, along rows, on the transposed pixels: filtered[c][x'][y] = sum_t k[x][t] * columns[c][first + t][y],
// with x' = x, or out_w-1-x when mirrored; clamped to [0, 255] as Pillow, which stores this pass in 8 bits.
// Each sum adds its taps in the same order as a per-pixel loop would, so the values are identical.
Scratch filter_rows(const float* columns, int64_t channels, int64_t h, int64_t w, const Taps& across, int64_t out_w,
                    bool mirror) {
  Scratch filtered(new float[size_t(channels * out_w * h)]);
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t x = 0; x < out_w; ++x) {
      float* sum = filtered.get() + (c * out_w + (mirror ? out_w - 1 - x : x)) * h;
      std::fill(sum, sum + h, 0.0f);
      const float* k = across.weights.data() + x * across.width;
      for (int64_t t = 0; t < across.count[x]; ++t) {
        const float weight = k[t];
        const float* column = columns + (c * w + across.first[x] + t) * h;
        for (int64_t y = 0; y < h; ++y) sum[y] += weight * column[y];
      }
      for (int64_t y = 0; y < h; ++y) sum[y] = std::clamp(sum[y], 0.0f, 255.0f);
    }
  return filtered;
}

// [C, A, B] -> [C, B, A], in tiles as above.
Scratch transpose_planes(const float* in, int64_t channels, int64_t a, int64_t b) {
  Scratch out(new float[size_t(channels * a * b)]);
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t i0 = 0; i0 < a; i0 += kTile)
      for (int64_t j0 = 0; j0 < b; j0 += kTile) {
        const int64_t i1 = std::min(i0 + kTile, a), j1 = std::min(j0 + kTile, b);
        for (int64_t j = j0; j < j1; ++j)
          for (int64_t i = i0; i < i1; ++i) out[size_t((c * b + j) * a + i)] = in[(c * a + i) * b + j];
      }
  return out;
}

// Pass 2, along columns: [C, h, out_w] -> [C, out_h, out_w], scaled to [0, 1].
void filter_columns(const float* rows, int64_t channels, int64_t h, const Taps& down, int64_t out_h, int64_t out_w,
                    float* out) {
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t y = 0; y < out_h; ++y) {
      const float* k = down.weights.data() + y * down.width;
      float* line_out = out + (c * out_h + y) * out_w;
      std::fill(line_out, line_out + out_w, 0.0f);
      for (int64_t t = 0; t < down.count[y]; ++t) {
        const float weight = k[t] / 255.0f;
        const float* line = rows + (c * h + down.first[y] + t) * out_w;
        for (int64_t x = 0; x < out_w; ++x) line_out[x] += weight * line[x];
      }
      for (int64_t x = 0; x < out_w; ++x) line_out[x] = std::clamp(line_out[x], 0.0f, 1.0f);
    }
}

// resample_into at scale 1 (the output the input's size), value for value: every filter's weights are then 1 at the
// pixel itself and exactly 0 beside it (triangle(1), bicubic(1) and bicubic(2) are 0), so the two passes reduce to
// the pixel times 1/255, the product the second pass forms; the 8-bit clamp between them changes nothing.
void identity_into(const PixelView& in, bool mirror, float* out) {
  const float weight = 1.0f / 255.0f;
  for (int64_t c = 0; c < in.channels; ++c)
    for (int64_t y = 0; y < in.height; ++y) {
      const uint8_t* row = in.data + c * in.channel_stride + y * in.row_stride;
      float* line_out = out + (c * in.height + y) * in.width;
      for (int64_t x = 0; x < in.width; ++x)
        line_out[mirror ? in.width - 1 - x : x] = weight * static_cast<float>(row[x * in.pixel_stride]);
    }
}

}  // namespace

void resample_into(const PixelView& image, int64_t out_h, int64_t out_w, ResampleFilter filter, bool mirror,
                   float* out) {
  TORCH_CHECK(image.height >= 1 && image.width >= 1 && image.channels >= 1, "resample needs a non-empty image");
  TORCH_CHECK(out_h >= 1 && out_w >= 1, "resample needs a positive output size");
  if (out_h == image.height && out_w == image.width) return identity_into(image, mirror, out);
  const Taps across = compute_taps(image.width, out_w, filter), down = compute_taps(image.height, out_h, filter);
  const Scratch columns = transposed_floats(image);
  const Scratch filtered = filter_rows(columns.get(), image.channels, image.height, image.width, across, out_w, mirror);
  const Scratch rows = transpose_planes(filtered.get(), image.channels, out_w, image.height);
  filter_columns(rows.get(), image.channels, image.height, down, out_h, out_w, out);
}

PixelView pixel_view(const torch::Tensor& image) {
  TORCH_CHECK(image.dim() == 3 && image.scalar_type() == torch::kUInt8, "a pixel view needs uint8 [C, H, W]");
  return {image.data_ptr<uint8_t>(), image.size(0),   image.size(1),  image.size(2),
          image.stride(0),           image.stride(1), image.stride(2)};
}

torch::Tensor pixels_to_tensor(const PixelView& v) {
  return torch::from_blob(const_cast<uint8_t*>(v.data), {v.channels, v.height, v.width},
                          {v.channel_stride, v.row_stride, v.pixel_stride}, torch::kUInt8)
      .contiguous();
}

torch::Tensor resample(const torch::Tensor& image, int64_t out_h, int64_t out_w, ResampleFilter filter) {
  const PixelView view = pixel_view(image);
  torch::Tensor result = torch::empty({view.channels, out_h, out_w}, torch::kFloat);
  resample_into(view, out_h, out_w, filter, /*mirror=*/false, result.data_ptr<float>());
  return result;
}

}  // namespace effscale::trainers
