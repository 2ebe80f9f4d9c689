#pragma once
// Writers of small dataset files in the real formats (IDX, gzip'd IDX, CIFAR binary) for the tests.

#include <cstdint>
#include <string>
#include <vector>

namespace effscale::testing {

// An IDX file of unsigned bytes with the given dims; `declared_count` (when >= 0) replaces dims[0] in the
// header only, to make a header that lies. gzip-compressed when `gzip`.
void write_idx(const std::string& path, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data,
               bool gzip, int64_t declared_count = -1);

// A CIFAR binary batch: per record, `label_bytes` label bytes (the last one is the label) then 3072 pixels.
void write_cifar(const std::string& path, const std::vector<uint8_t>& labels, int label_bytes, size_t truncate_by = 0);

// An MNIST-format folder ROOT with `train_n` training and `test_n` test images of 12x12 pixels and 10
// classes (label i % 10); with `stripes`, each class gets a learnable stripe pattern. Returns ROOT.
std::string write_mnist_folder(const std::string& root, uint32_t train_n, uint32_t test_n, bool gzip, bool stripes);

// n deterministic pseudo-random bytes.
std::vector<uint8_t> pattern_bytes(size_t n, uint32_t seed);

}  // namespace effscale::testing

namespace effscale::testing {

// Writes an RGB image (pixels: h * w * 3 bytes, row by row) as PNG (exact) or JPEG (at `quality`).
void write_png(const std::string& path, int w, int h, const std::vector<uint8_t>& pixels);
void write_jpeg(const std::string& path, int w, int h, const std::vector<uint8_t>& pixels, int quality = 90);

}  // namespace effscale::testing
