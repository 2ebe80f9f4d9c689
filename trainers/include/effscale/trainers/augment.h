#pragma once
// AutoAugment (the ImageNet policy v0 of the EfficientNet reference) and RandAugment on uint8 images, with
// the reference's operations and level-to-magnitude rules. Photometric ops follow PIL (as the reference's
// do); geometric ops sample nearest-neighbour like PIL's affine transform and fill with grey 128.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace effscale::trainers {

// Which policy the training transform applies after the random-resized crop and flip.
enum class AugmentPolicy { None, AutoAugment, RandAugment };

// What augment_image does. Levels are on the reference's 0..10 scale.
struct AugmentOptions {
  AugmentPolicy policy = AugmentPolicy::None;
  int layers = 2;          // RandAugment: ops per image (N)
  double magnitude = 10;   // RandAugment: level of every op (M), 0..10
};

// "none", "autoaugment" (policy v0) or "randaugment"; throws std::invalid_argument naming the bad value.
AugmentPolicy parse_augment_policy(const std::string& text);

// The op names RandAugment draws from (the reference's 16: AutoContrast, Equalize, Invert, Rotate, Posterize,
// Solarize, Color, Contrast, Brightness, Sharpness, ShearX, ShearY, TranslateX, TranslateY, Cutout,
// SolarizeAdd).
const std::vector<std::string>& randaugment_ops();

// Applies one op to a uint8 [C, H, W] image (C = 1 or 3) at `level` (0..10), drawing its random sign or
// position from `rng`. Level rules (reference): Rotate level/10*30 degrees; ShearX/Y level/10*0.3;
// TranslateX/Y level/10*0.45 of the image size (timm's relative form of the reference's pixel constant);
// Cutout a square of side 2*int(level/10*(40/224)*min(H, W)); Posterize keeps int(level/10*4) bits;
// Solarize inverts pixels >= int(level/10*256); SolarizeAdd adds int(level/10*110) below 128;
// Color/Contrast/Brightness/Sharpness blend with factor level/10*1.8 + 0.1. Returns a new image; throws
// std::invalid_argument for an unknown name.
at::Tensor apply_augment_op(const std::string& name, const at::Tensor& image, double level, std::mt19937_64& rng);

// The whole policy on one image, its randomness drawn only from `seed`. AutoAugment: one of the 25
// sub-policies uniformly, each of its two ops with its probability and level. RandAugment: `layers` ops drawn
// uniformly, each applied with a probability uniform in [0.2, 0.8] at `magnitude` (the reference's rule).
at::Tensor augment_image(const at::Tensor& image, const AugmentOptions& options, uint64_t seed);

}  // namespace effscale::trainers
