#pragma once
// Decoding JPEG (libjpeg-turbo) and PNG (libpng) files into uint8 RGB pixels.

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "effscale/trainers/pixel_view.h"

namespace effscale::trainers {

// Decoded RGB pixels: rows `row_stride` bytes apart of pixels `pixel_stride` bytes apart (R, G, B first),
// the first pixel at `offset`.
struct DecodedImage {
  std::vector<uint8_t> pixels;
  int64_t height = 0, width = 0, row_stride = 0, pixel_stride = 3, offset = 0;

  // The pixels as a view (valid while this object lives and is not modified).
  PixelView view() const { return {pixels.data() + offset, 3, height, width, 1, row_stride, pixel_stride}; }
};

// The most pixels an image may claim: Pillow's decompression-bomb limit (2 x 89,478,485), 537 MB of RGB.
inline constexpr int64_t kMaxImagePixels = 178956970;

// Chooses the region to decode from the image's height and width; must return a box inside the image.
using RegionChooser = std::function<CropBox(int64_t height, int64_t width)>;

// Decodes the region of a .jpg/.jpeg or .png file (chosen by its first bytes, not its name) that `choose`
// picks once the header has given the image size; the view covers exactly that box, RGB (grey and palette
// images are expanded, alpha is dropped, CMYK JPEGs are converted as Pillow converts them). JPEGs decode only the rows and iMCU columns the box needs, and the
// pixels equal those of a full decode. Throws DataError naming the file when it cannot be read, is not a
// regular file, is neither format, claims more than kMaxImagePixels (before anything that size is
// allocated), or is truncated or corrupt (a JPEG without its end marker is decoded to the end to say so).
// Thread-safe.
DecodedImage decode_image_region(const std::string& path, const RegionChooser& choose);

// The whole image as uint8 [3, H, W] RGB (decode_image_region with the full box). Thread-safe.
torch::Tensor decode_image_file(const std::string& path);

}  // namespace effscale::trainers
