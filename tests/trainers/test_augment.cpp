// AutoAugment / RandAugment: every op against Pillow (python3-pil, the library the reference's ops are defined
// after), the policies' determinism and reach, and the training transform applying them.

#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <set>

#include "effscale/trainers/augment.h"
#include "effscale/trainers/transforms.h"
#include "run_command.h"
#include "temp_dir.h"

using namespace effscale::trainers;
using namespace effscale::testing;

namespace {

// A smooth-ish random image: enough structure for equalize and sharpness to matter.
torch::Tensor test_image(int64_t c, int64_t h, int64_t w, uint64_t seed) {
  torch::manual_seed(int64_t(seed));
  torch::Tensor base = torch::rand({c, h / 4 + 1, w / 4 + 1}) * 200 + 20;
  base = torch::nn::functional::interpolate(base.unsqueeze(0), torch::nn::functional::InterpolateFuncOptions()
                                                                   .size(std::vector<int64_t>{h, w})
                                                                   .mode(torch::kBilinear)
                                                                   .align_corners(false))[0];
  return (base + torch::randn({c, h, w}) * 12).clamp(0, 255).to(torch::kByte);
}

torch::Tensor read_planes(const std::string& path, const torch::Tensor& like) {
  const std::string bytes = read_file(path);
  REQUIRE(int64_t(bytes.size()) == like.numel());
  torch::Tensor out = torch::empty_like(like);
  std::memcpy(out.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  return out;
}

// Fraction of values that differ.
double mismatch(const torch::Tensor& a, const torch::Tensor& b) { return a.ne(b).to(torch::kDouble).mean().item<double>(); }

// An rng whose first sign draw comes out as `negative` (the ops negate on a draw of 1).
std::mt19937_64 rng_with_sign(bool negative) {
  for (uint64_t seed = 0;; ++seed) {
    std::mt19937_64 probe(seed);
    if ((std::uniform_int_distribution<int>(0, 1)(probe) == 1) == negative) return std::mt19937_64(seed);
  }
}

}  // namespace

TEST_CASE("augmentation ops match Pillow", "[trainers][augment][peer]") {
  for (const int64_t channels : {3, 1}) {
    INFO(channels << " channel(s)");
    TempDir dir;
    const torch::Tensor image = test_image(channels, 29, 37, 7 + uint64_t(channels));
    const std::string bytes(reinterpret_cast<const char*>(image.data_ptr<uint8_t>()), size_t(image.numel()));
    dir.write("in.bin", bytes);
    const auto peer = run_command("/usr/bin/python3 " + shell_quote(EFFSCALE_PEER_PIL_AUGMENT) + " " +
                                  shell_quote(dir.path().string()) + " " + std::to_string(channels) + " 29 37");
    INFO(peer.err);
    REQUIRE(peer.exit_status == 0);
    std::mt19937_64 rng(0);
    struct Exact {
      const char* op;
      double level;
      const char* file;
    };
    const Exact exact[] = {{"AutoContrast", 0, "AutoContrast"}, {"Equalize", 0, "Equalize"}, {"Invert", 0, "Invert"},
                           {"Posterize", 6, "Posterize6"},      {"Posterize", 10, "Posterize10"}, {"Solarize", 4, "Solarize4"},
                           {"SolarizeAdd", 5, "SolarizeAdd5"},  {"Color", 2, "Color2"},           {"Color", 8, "Color8"},
                           {"Contrast", 2, "Contrast2"},        {"Contrast", 8, "Contrast8"},     {"Brightness", 2, "Brightness2"},
                           {"Brightness", 8, "Brightness8"},    {"Sharpness", 2, "Sharpness2"},   {"Sharpness", 8, "Sharpness8"}};
    for (const Exact& e : exact) {
      INFO(e.file);
      const torch::Tensor ours = apply_augment_op(e.op, image, e.level, rng);
      CHECK(torch::equal(ours, read_planes(dir.file(std::string(e.file) + ".bin"), image)));
    }
    // Geometric ops: nearest-neighbour sampling at the same pixel centres; Pillow steps its coordinates
    // incrementally, so a rare pixel on an exact boundary may round the other way.
    for (const char* op : {"Rotate", "ShearX", "ShearY", "TranslateX", "TranslateY"})
      for (const bool negative : {false, true}) {
        INFO(op << (negative ? "-" : "+"));
        std::mt19937_64 signed_rng = rng_with_sign(negative);
        const torch::Tensor ours = apply_augment_op(op, image, 5, signed_rng);
        // Pillow's rotate turns counter-clockwise for positive angles, as ours does.
        const std::string file = std::string(op) + "5" + (negative ? "-" : "+") + ".bin";
        CHECK(mismatch(ours, read_planes(dir.file(file), image)) < 0.005);
      }
  }
}

TEST_CASE("cutout greys a square of the level's size", "[trainers][augment]") {
  const torch::Tensor image = torch::full({3, 224, 224}, 7, torch::kByte);
  std::mt19937_64 rng(3);
  const torch::Tensor out = apply_augment_op("Cutout", image, 10, rng);
  const int64_t grey = out[0].eq(128).sum().item<int64_t>();
  CHECK(grey > 0);
  CHECK(grey <= 80 * 80);  // side 2 * 40 at level 10 on 224 px, clipped at the borders
  CHECK(torch::equal(out[0].eq(128), out[2].eq(128)));
  CHECK_THROWS_AS(apply_augment_op("Mosaic", image, 5, rng), std::invalid_argument);
}

TEST_CASE("policies are deterministic per seed and reach their ops", "[trainers][augment]") {
  const torch::Tensor image = test_image(3, 32, 32, 1);
  for (const AugmentPolicy policy : {AugmentPolicy::AutoAugment, AugmentPolicy::RandAugment}) {
    AugmentOptions options;
    options.policy = policy;
    CHECK(torch::equal(augment_image(image, options, 11), augment_image(image, options, 11)));
    std::set<std::string> outcomes;
    int changed = 0;
    for (uint64_t seed = 0; seed < 200; ++seed) {
      const torch::Tensor out = augment_image(image, options, seed);
      changed += !torch::equal(out, image);
      outcomes.insert(std::string(reinterpret_cast<const char*>(out.data_ptr<uint8_t>()), size_t(out.numel())));
    }
    CHECK(changed > 100);          // most images are altered
    CHECK(outcomes.size() > 30);   // and in many different ways
  }
  CHECK(torch::equal(augment_image(image, AugmentOptions{}, 5), image));  // none is the identity
  CHECK_THROWS_WITH(parse_augment_policy("mixup"), Catch::Contains("'mixup'"));
}

TEST_CASE("the training transform applies the policy, evaluation never does", "[trainers][augment]") {
  const torch::Tensor image = test_image(3, 40, 40, 2);
  TransformOptions plain;
  plain.resolution = 32;
  TransformOptions augmented = plain;
  augmented.augment.policy = AugmentPolicy::RandAugment;
  augmented.augment.magnitude = 9;
  int differs = 0;
  for (uint64_t seed = 0; seed < 20; ++seed)
    differs += !torch::allclose(transform_image(image, plain, true, seed), transform_image(image, augmented, true, seed));
  CHECK(differs > 5);
  CHECK(torch::equal(transform_image(image, plain, false, 0), transform_image(image, augmented, false, 0)));
}
