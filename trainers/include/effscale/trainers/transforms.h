#pragma once
// Batch transforms: uint8 images of any size -> normalised float tensors at the model's resolution.

#include <torch/types.h>

#include <array>
#include <cstdint>
#include <string>

#include "effscale/trainers/augment.h"
#include "effscale/trainers/pixel_view.h"

namespace effscale::trainers {

// Whether the transforms make images of `channels` channels, whatever the source holds: 1 (grey; RGB becomes luma)
// or 3 (RGB; grey is replicated). The one rule the trainer, adapt_spec, predict and --in-channels check against.
constexpr bool transforms_make_channels(int64_t channels) { return channels == 1 || channels == 3; }

// What a batch goes through. Defaults are the EfficientNet ImageNet recipe (docs/training.md).
struct TransformOptions {
  int resolution = 224;            // output height and width (any size, below or above the source)
  int channels = 3;                // model input channels: grey is replicated to 3, RGB becomes luma for 1
  double crop_min_area = 0.08;     // training random-resized crop: area fraction range [min, max]
  double crop_max_area = 1.0;
  double crop_min_aspect = 3.0 / 4.0;  // and aspect-ratio range (width / height)
  double crop_max_aspect = 4.0 / 3.0;
  bool horizontal_flip = true;     // training: flip half the samples left-right
  double eval_crop = 0.875;        // evaluation: center crop of this fraction of the shorter side
  bool bicubic = true;             // bicubic resizing (else bilinear); antialiased when shrinking, as Pillow
  AugmentOptions augment;          // training: AutoAugment / RandAugment after crop, resize and flip
  std::array<double, 3> mean{0.485, 0.456, 0.406};  // per-channel normalisation (of [0, 1] values)
  std::array<double, 3> std{0.229, 0.224, 0.225};
};

// Draws a random-resized crop box the way torchvision does (10 tries of area and log-uniform aspect, then a
// central fallback), from the 64-bit `seed`.
CropBox random_resized_crop_box(int64_t h, int64_t w, const TransformOptions& options, uint64_t seed);

// The box a sample's transform reads from an h x w image: a random-resized crop (training, from
// `sample_seed`) or the center crop of eval_crop of the shorter side (evaluation).
CropBox sample_crop_box(int64_t h, int64_t w, const TransformOptions& options, bool training, uint64_t sample_seed);

// Transforms the pixels of a sample's crop box (1 or 3 channels, as sample_crop_box chose it) into `out`,
// float [channels, resolution, resolution] contiguous: resize, then in training a flip and the augmentation
// policy (on the resized image rounded to uint8, as the reference applies it), then channel matching and
// normalisation. Randomness comes only from `sample_seed`. Thread-safe; torch ops only for the policy.
void transform_crop(const PixelView& crop, const TransformOptions& options, bool training, uint64_t sample_seed,
                    float* out);

// Transforms one image (uint8 [C, H, W], C = 1 or 3, any size, any strides) into `out` as transform_crop:
// sample_crop_box, then transform_crop. Thread-safe.
void transform_image_into(const torch::Tensor& image, const TransformOptions& options, bool training,
                          uint64_t sample_seed, float* out);

// transform_image_into a new float tensor [1, channels, resolution, resolution].
torch::Tensor transform_image(const torch::Tensor& image, const TransformOptions& options, bool training,
                              uint64_t sample_seed);

// The same for an image file, decoding only the rows and columns its crop box needs, into `out` as
// transform_crop. Throws DataError naming a file that cannot be decoded. Thread-safe.
void transform_image_file(const std::string& path, const TransformOptions& options, bool training,
                          uint64_t sample_seed, float* out);

// transform_image over a batch (uint8 [B, C, H, W]) with sample i seeded by mix_seed(seed, i); returns
// float [B, channels, resolution, resolution].
torch::Tensor transform_batch(const torch::Tensor& images, const TransformOptions& options, bool training, uint64_t seed);

// Mixes a seed with up to two counters (epoch, batch) into a well-spread 64-bit seed (splitmix64).
uint64_t mix_seed(uint64_t seed, uint64_t a, uint64_t b = 0);

}  // namespace effscale::trainers
