#pragma once
// Separable, antialiased image resampling (Pillow's algorithm): the resize of the data pipeline.

#include <torch/types.h>

#include "effscale/trainers/pixel_view.h"

namespace effscale::trainers {

// The resampling filters: bicubic (a = -0.5, support 2) and bilinear (triangle, support 1).
enum class ResampleFilter { Bicubic, Bilinear };

// Resizes `image` to out_h x out_w and writes it to `out` as planar floats [channels, out_h, out_w] with
// values in [0, 1], filtering first along rows then along columns; `mirror` flips the result left-right as
// it is written (the same values as flipping afterwards). When shrinking, the filter widens by the scale
// factor (antialiasing), as Pillow does, so results match torchvision's PIL pipeline to within rounding.
// Only the pixels of the view are read. Thread-safe, single-threaded, no torch op.
void resample_into(const PixelView& image, int64_t out_h, int64_t out_w, ResampleFilter filter, bool mirror,
                   float* out);

// resample_into for a uint8 tensor [C, H, W] (any strides); returns float [C, out_h, out_w] in [0, 1].
torch::Tensor resample(const torch::Tensor& image, int64_t out_h, int64_t out_w, ResampleFilter filter);

// A view of a uint8 tensor [C, H, W] (any strides); the tensor must outlive the view.
PixelView pixel_view(const torch::Tensor& image);

// The view's pixels copied into a new contiguous uint8 tensor [C, H, W] (the inverse of pixel_view).
torch::Tensor pixels_to_tensor(const PixelView& view);

}  // namespace effscale::trainers
