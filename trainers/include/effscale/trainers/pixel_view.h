#pragma once
// PixelView: uint8 pixels addressed through strides, so that planar tensors ([C, H, W]) and the interleaved
// rows a decoder writes ([H, W, C]) go through the same resampler without a copy; CropBox: a region of one.

#include <cstdint>

namespace effscale::trainers {

// A rectangle inside an image: top, left, height, width (pixels).
struct CropBox {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// Read-only uint8 pixels: pixel (c, y, x) is data[c * channel_stride + y * row_stride + x * pixel_stride].
// The view does not own the memory; whoever made it keeps the pixels alive while it is used.
struct PixelView {
  const uint8_t* data = nullptr;
  int64_t channels = 0, height = 0, width = 0;
  int64_t channel_stride = 0, row_stride = 0, pixel_stride = 0;

  // The pixels inside `box` (which must lie inside this view).
  PixelView crop(const CropBox& box) const {
    PixelView out = *this;
    out.data = data + box.top * row_stride + box.left * pixel_stride;
    out.height = box.height;
    out.width = box.width;
    return out;
  }
};

}  // namespace effscale::trainers
