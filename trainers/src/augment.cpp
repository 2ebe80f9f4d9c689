// The augmentation ops on raw uint8 planes, PIL-exact where PIL defines them.

#include "effscale/trainers/augment.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <map>
#include <stdexcept>

namespace effscale::trainers {
namespace {

constexpr uint8_t kFill = 128;

// A contiguous uint8 image we can index: plane c, row y, column x.
struct Planes {
  int64_t c, h, w;
  std::vector<uint8_t> data;
  explicit Planes(const at::Tensor& image)
      : c(image.size(0)), h(image.size(1)), w(image.size(2)), data(size_t(c * h * w)) {
    const at::Tensor src = image.contiguous();
    std::copy_n(src.data_ptr<uint8_t>(), data.size(), data.begin());
  }
  uint8_t& at(int64_t ch, int64_t y, int64_t x) { return data[size_t((ch * h + y) * w + x)]; }
  at::Tensor tensor() const {
    at::Tensor out = at::empty({c, h, w}, at::kByte);
    std::copy(data.begin(), data.end(), out.data_ptr<uint8_t>());
    return out;
  }
};

uint8_t clip8(double v) { return v <= 0 ? 0 : v >= 255 ? 255 : uint8_t(v); }

// PIL's "L" conversion (ITU-R 601-2 luma, rounded as PIL does); grey images are their own luma.
std::vector<uint8_t> luma(Planes& p) {
  std::vector<uint8_t> out(size_t(p.h * p.w));
  for (int64_t i = 0; i < p.h * p.w; ++i) {
    if (p.c == 1) {
      out[size_t(i)] = p.data[size_t(i)];
      continue;
    }
    const uint32_t r = p.data[size_t(i)], g = p.data[size_t(p.h * p.w + i)], b = p.data[size_t(2 * p.h * p.w + i)];
    out[size_t(i)] = uint8_t((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16);
  }
  return out;
}

// PIL's Image.blend(degenerate, image, factor): degenerate + factor * (image - degenerate), clipped, truncated.
void blend_from(Planes& p, const std::function<uint8_t(int64_t c, int64_t i)>& degenerate, double factor) {
  const auto f = float(factor);
  for (int64_t c = 0; c < p.c; ++c)
    for (int64_t i = 0; i < p.h * p.w; ++i) {
      uint8_t& v = p.data[size_t(c * p.h * p.w + i)];
      const int d = degenerate(c, i);
      v = clip8(float(d) + f * float(int(v) - d));
    }
}

void point(Planes& p, const std::function<uint8_t(int64_t c, uint8_t v)>& lut) {
  for (int64_t c = 0; c < p.c; ++c)
    for (int64_t i = 0; i < p.h * p.w; ++i) {
      uint8_t& v = p.data[size_t(c * p.h * p.w + i)];
      v = lut(c, v);
    }
}

void autocontrast(Planes& p) {
  for (int64_t c = 0; c < p.c; ++c) {
    const auto begin = p.data.begin() + c * p.h * p.w, end = begin + p.h * p.w;
    const int lo = *std::min_element(begin, end), hi = *std::max_element(begin, end);
    if (hi <= lo) continue;
    const double scale = 255.0 / (hi - lo), offset = -lo * scale;
    for (auto it = begin; it != end; ++it) *it = clip8(int(*it * scale + offset));
  }
}

void equalize(Planes& p) {
  for (int64_t c = 0; c < p.c; ++c) {
    std::array<int64_t, 256> histo{};
    const auto begin = p.data.begin() + c * p.h * p.w, end = begin + p.h * p.w;
    for (auto it = begin; it != end; ++it) ++histo[*it];
    int64_t total = 0, last = 0, nonzero = 0;
    for (int64_t v : histo)
      if (v) total += v, last = v, ++nonzero;
    const int64_t step = (total - last) / 255;
    if (nonzero <= 1 || step == 0) continue;
    std::array<uint8_t, 256> lut{};
    int64_t n = step / 2;
    for (int i = 0; i < 256; ++i) {
      lut[size_t(i)] = uint8_t(std::min<int64_t>(255, n / step));
      n += histo[size_t(i)];
    }
    for (auto it = begin; it != end; ++it) *it = lut[*it];
  }
}

// PIL's SMOOTH filter (1 1 1 / 1 5 1 / 1 1 1, / 13, rounded), border pixels unchanged.
std::vector<uint8_t> smoothed(Planes& p) {
  std::vector<uint8_t> out = p.data;
  for (int64_t c = 0; c < p.c; ++c)
    for (int64_t y = 1; y + 1 < p.h; ++y)
      for (int64_t x = 1; x + 1 < p.w; ++x) {
        int sum = 4 * p.at(c, y, x);
        for (int dy = -1; dy <= 1; ++dy)
          for (int dx = -1; dx <= 1; ++dx) sum += p.at(c, y + dy, x + dx);
        out[size_t((c * p.h + y) * p.w + x)] = clip8(float(sum) / 13.0f + 0.5f);
      }
  return out;
}

// Nearest-neighbour affine warp like PIL's Image.transform(AFFINE): the output pixel (x, y) reads the input at
// (a x' + b y' + c, d x' + e y' + f) with x' = x + 0.5, y' = y + 0.5, truncated; outside reads the fill.
void affine(Planes& p, const std::array<double, 6>& m) {
  const std::vector<uint8_t> src = p.data;
  for (int64_t y = 0; y < p.h; ++y)
    for (int64_t x = 0; x < p.w; ++x) {
      const double sx = m[0] * (x + 0.5) + m[1] * (y + 0.5) + m[2], sy = m[3] * (x + 0.5) + m[4] * (y + 0.5) + m[5];
      const int64_t ix = sx < 0 ? -1 : int64_t(sx), iy = sy < 0 ? -1 : int64_t(sy);
      const bool inside = ix >= 0 && ix < p.w && iy >= 0 && iy < p.h;
      for (int64_t c = 0; c < p.c; ++c) p.at(c, y, x) = inside ? src[size_t((c * p.h + iy) * p.w + ix)] : kFill;
    }
}

// PIL's rotate(degrees) about the image centre (counter-clockwise for positive degrees).
void rotate(Planes& p, double degrees) {
  const double angle = -degrees * M_PI / 180.0, cx = p.w / 2.0, cy = p.h / 2.0;
  const double a = std::cos(angle), b = std::sin(angle), d = -std::sin(angle), e = std::cos(angle);
  affine(p, {a, b, a * -cx + b * -cy + cx, d, e, d * -cx + e * -cy + cy});
}

double signed_level(double value, std::mt19937_64& rng) { return std::uniform_int_distribution<int>(0, 1)(rng) ? -value : value; }

double enhance_factor(double level) { return level / 10.0 * 1.8 + 0.1; }

const std::map<std::string, std::function<void(Planes&, double, std::mt19937_64&)>>& ops() {
  static const std::map<std::string, std::function<void(Planes&, double, std::mt19937_64&)>> kOps = {
      {"AutoContrast", [](Planes& p, double, std::mt19937_64&) { autocontrast(p); }},
      {"Equalize", [](Planes& p, double, std::mt19937_64&) { equalize(p); }},
      {"Invert", [](Planes& p, double, std::mt19937_64&) { point(p, [](int64_t, uint8_t v) { return uint8_t(255 - v); }); }},
      {"Rotate", [](Planes& p, double l, std::mt19937_64& r) { rotate(p, signed_level(l / 10.0 * 30.0, r)); }},
      {"Posterize",
       [](Planes& p, double l, std::mt19937_64&) {
         const int shift = 8 - int(l / 10.0 * 4.0);
         point(p, [shift](int64_t, uint8_t v) { return uint8_t(shift >= 8 ? 0 : (v >> shift) << shift); });
       }},
      {"Solarize",
       [](Planes& p, double l, std::mt19937_64&) {
         const int threshold = int(l / 10.0 * 256.0);
         point(p, [threshold](int64_t, uint8_t v) { return uint8_t(v < threshold ? v : 255 - v); });
       }},
      {"SolarizeAdd",
       [](Planes& p, double l, std::mt19937_64&) {
         const int add = int(l / 10.0 * 110.0);
         point(p, [add](int64_t, uint8_t v) { return uint8_t(v < 128 ? std::min(255, v + add) : v); });
       }},
      {"Color",
       [](Planes& p, double l, std::mt19937_64&) {
         const std::vector<uint8_t> grey = luma(p);
         blend_from(p, [&](int64_t, int64_t i) { return grey[size_t(i)]; }, enhance_factor(l));
       }},
      {"Contrast",
       [](Planes& p, double l, std::mt19937_64&) {
         const std::vector<uint8_t> grey = luma(p);
         double sum = 0;
         for (uint8_t v : grey) sum += v;
         const auto mean = uint8_t(int(sum / double(grey.size()) + 0.5));
         blend_from(p, [mean](int64_t, int64_t) { return mean; }, enhance_factor(l));
       }},
      {"Brightness",
       [](Planes& p, double l, std::mt19937_64&) { blend_from(p, [](int64_t, int64_t) { return uint8_t(0); }, enhance_factor(l)); }},
      {"Sharpness",
       [](Planes& p, double l, std::mt19937_64&) {
         const std::vector<uint8_t> smooth = smoothed(p);
         blend_from(p, [&](int64_t c, int64_t i) { return smooth[size_t(c * p.h * p.w + i)]; }, enhance_factor(l));
       }},
      {"ShearX", [](Planes& p, double l, std::mt19937_64& r) { affine(p, {1, signed_level(l / 10.0 * 0.3, r), 0, 0, 1, 0}); }},
      {"ShearY", [](Planes& p, double l, std::mt19937_64& r) { affine(p, {1, 0, 0, signed_level(l / 10.0 * 0.3, r), 1, 0}); }},
      {"TranslateX",
       [](Planes& p, double l, std::mt19937_64& r) { affine(p, {1, 0, signed_level(l / 10.0 * 0.45 * p.w, r), 0, 1, 0}); }},
      {"TranslateY",
       [](Planes& p, double l, std::mt19937_64& r) { affine(p, {1, 0, 0, 0, 1, signed_level(l / 10.0 * 0.45 * p.h, r)}); }},
      {"Cutout",
       [](Planes& p, double l, std::mt19937_64& r) {
         const auto pad = int64_t(l / 10.0 * (40.0 / 224.0) * double(std::min(p.h, p.w)));
         const int64_t cy = std::uniform_int_distribution<int64_t>(0, p.h - 1)(r);
         const int64_t cx = std::uniform_int_distribution<int64_t>(0, p.w - 1)(r);
         for (int64_t y = std::max<int64_t>(0, cy - pad); y < std::min(p.h, cy + pad); ++y)
           for (int64_t x = std::max<int64_t>(0, cx - pad); x < std::min(p.w, cx + pad); ++x)
             for (int64_t c = 0; c < p.c; ++c) p.at(c, y, x) = kFill;
       }},
  };
  return kOps;
}

struct PolicyOp {
  const char* name;
  double probability;
  double level;
};

// The ImageNet policy v0 of the EfficientNet reference (tensorflow/tpu autoaugment.py).
const std::array<std::array<PolicyOp, 2>, 25> kPolicyV0 = {{
    {{{"Equalize", 0.8, 1}, {"ShearY", 0.8, 4}}},     {{{"Color", 0.4, 9}, {"Equalize", 0.6, 3}}},
    {{{"Color", 0.4, 1}, {"Rotate", 0.6, 8}}},        {{{"Solarize", 0.8, 3}, {"Equalize", 0.4, 7}}},
    {{{"Solarize", 0.4, 2}, {"Solarize", 0.6, 2}}},   {{{"Color", 0.2, 0}, {"Equalize", 0.8, 8}}},
    {{{"Equalize", 0.4, 8}, {"SolarizeAdd", 0.8, 3}}}, {{{"ShearX", 0.2, 9}, {"Rotate", 0.6, 8}}},
    {{{"Color", 0.6, 1}, {"Equalize", 1.0, 2}}},      {{{"Invert", 0.4, 9}, {"Rotate", 0.6, 0}}},
    {{{"Equalize", 1.0, 9}, {"ShearY", 0.6, 3}}},     {{{"Color", 0.4, 7}, {"Equalize", 0.6, 0}}},
    {{{"Posterize", 0.4, 6}, {"AutoContrast", 0.4, 7}}}, {{{"Solarize", 0.6, 8}, {"Color", 0.6, 9}}},
    {{{"Solarize", 0.2, 4}, {"Rotate", 0.8, 9}}},     {{{"Rotate", 1.0, 7}, {"TranslateY", 0.8, 9}}},
    {{{"ShearX", 0.0, 0}, {"Solarize", 0.8, 4}}},     {{{"ShearY", 0.8, 0}, {"Color", 0.6, 4}}},
    {{{"Color", 1.0, 0}, {"Rotate", 0.6, 2}}},        {{{"Equalize", 0.8, 4}, {"Equalize", 0.0, 8}}},
    {{{"Equalize", 1.0, 4}, {"AutoContrast", 0.6, 2}}}, {{{"ShearY", 0.4, 7}, {"SolarizeAdd", 0.6, 7}}},
    {{{"Posterize", 0.8, 2}, {"Solarize", 0.6, 10}}}, {{{"Solarize", 0.6, 8}, {"Equalize", 0.6, 1}}},
    {{{"Color", 0.8, 6}, {"Rotate", 0.4, 5}}},
}};

}  // namespace

AugmentPolicy parse_augment_policy(const std::string& text) {
  if (text == "none") return AugmentPolicy::None;
  if (text == "autoaugment") return AugmentPolicy::AutoAugment;
  if (text == "randaugment") return AugmentPolicy::RandAugment;
  throw std::invalid_argument("augmentation '" + text + "': expected none, autoaugment or randaugment");
}

const std::vector<std::string>& randaugment_ops() {
  static const std::vector<std::string> kNames = {"AutoContrast", "Equalize",   "Invert",  "Rotate",     "Posterize", "Solarize",
                                                  "Color",        "Contrast",   "Brightness", "Sharpness", "ShearX",   "ShearY",
                                                  "TranslateX",   "TranslateY", "Cutout",  "SolarizeAdd"};
  return kNames;
}

at::Tensor apply_augment_op(const std::string& name, const at::Tensor& image, double level, std::mt19937_64& rng) {
  const auto it = ops().find(name);
  if (it == ops().end()) throw std::invalid_argument("unknown augmentation op '" + name + "'");
  TORCH_CHECK(image.dim() == 3 && image.scalar_type() == at::kByte, "augmentation needs uint8 [C, H, W]");
  Planes planes(image);
  it->second(planes, level, rng);
  return planes.tensor();
}

at::Tensor augment_image(const at::Tensor& image, const AugmentOptions& options, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  at::Tensor out = image;
  if (options.policy == AugmentPolicy::AutoAugment) {
    const auto& sub = kPolicyV0[std::uniform_int_distribution<size_t>(0, kPolicyV0.size() - 1)(rng)];
    for (const PolicyOp& op : sub)
      if (unit(rng) < op.probability) out = apply_augment_op(op.name, out, op.level, rng);
  } else if (options.policy == AugmentPolicy::RandAugment) {
    const auto& names = randaugment_ops();
    for (int i = 0; i < options.layers; ++i) {
      const std::string& name = names[std::uniform_int_distribution<size_t>(0, names.size() - 1)(rng)];
      const double probability = 0.2 + 0.6 * unit(rng);
      if (unit(rng) < probability) out = apply_augment_op(name, out, options.magnitude, rng);
    }
  }
  return out;
}

}  // namespace effscale::trainers
