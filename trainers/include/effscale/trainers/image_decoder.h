#pragma once
// Decoding JPEG (libjpeg-turbo) and PNG (libpng) files into uint8 RGB tensors.

#include <torch/types.h>

#include <string>

namespace effscale::trainers {

// Decodes a .jpg/.jpeg or .png file (chosen by its first bytes, not its name) to uint8 [3, H, W] RGB;
// grey and palette images are expanded, alpha is dropped. Throws DataError naming the file when it cannot be
// read, is neither format, or is truncated or corrupt. Thread-safe.
torch::Tensor decode_image_file(const std::string& path);

}  // namespace effscale::trainers
