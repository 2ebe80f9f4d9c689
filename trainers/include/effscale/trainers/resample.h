#pragma once
// Separable, antialiased image resampling (Pillow's algorithm): the resize of the data pipeline.

#include <torch/types.h>

namespace effscale::trainers {

// The resampling filters: bicubic (a = -0.5, support 2) and bilinear (triangle, support 1).
enum class ResampleFilter { Bicubic, Bilinear };

// Resizes a uint8 image [C, H, W] (any strides) to float [C, out_h, out_w] with values in [0, 1], filtering
// first along rows then along columns. When shrinking, the filter widens by the scale factor (antialiasing),
// as Pillow does, so results match torchvision's PIL pipeline to within rounding. Thread-safe, single-threaded.
torch::Tensor resample(const torch::Tensor& image, int64_t out_h, int64_t out_w, ResampleFilter filter);

}  // namespace effscale::trainers
