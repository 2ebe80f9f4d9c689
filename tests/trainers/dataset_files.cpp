#include "dataset_files.h"

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <random>

namespace effscale::testing {

namespace {

void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
  } else {
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  }
}

}  // namespace

void write_idx(const std::string& path, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data, bool gzip,
               int64_t declared_count) {
  std::vector<uint8_t> bytes = {0, 0, 8, static_cast<uint8_t>(dims.size())};
  for (size_t d = 0; d < dims.size(); ++d) {
    const uint32_t v = d == 0 && declared_count >= 0 ? static_cast<uint32_t>(declared_count) : dims[d];
    for (int shift : {24, 16, 8, 0}) bytes.push_back(static_cast<uint8_t>(v >> shift));
  }
  bytes.insert(bytes.end(), data.begin(), data.end());
  write_bytes(path, bytes, gzip);
}

void write_cifar(const std::string& path, const std::vector<uint8_t>& labels, int label_bytes, size_t truncate_by) {
  std::vector<uint8_t> bytes;
  for (size_t i = 0; i < labels.size(); ++i) {
    for (int b = 0; b < label_bytes - 1; ++b) bytes.push_back(labels[i] / 5);  // a coarse label
    bytes.push_back(labels[i]);
    const auto pixels = pattern_bytes(3072, static_cast<uint32_t>(i));
    bytes.insert(bytes.end(), pixels.begin(), pixels.end());
  }
  bytes.resize(bytes.size() - truncate_by);
  write_bytes(path, bytes, false);
}

std::string write_mnist_folder(const std::string& root, uint32_t train_n, uint32_t test_n, bool gzip, bool stripes) {
  std::filesystem::create_directories(root);
  const std::string ext = gzip ? ".gz" : "";
  for (const auto& [prefix, n] : {std::pair<std::string, uint32_t>{"train", train_n}, {"t10k", test_n}}) {
    std::vector<uint8_t> labels(n), pixels = pattern_bytes(size_t(n) * 144, n);
    for (uint32_t i = 0; i < n; ++i) {
      labels[i] = static_cast<uint8_t>(i % 10);
      if (stripes)
        for (int p = 0; p < 144; p += 13 - labels[i]) pixels[size_t(i) * 144 + p] = 255;
    }
    write_idx(root + "/" + prefix + "-images-idx3-ubyte" + ext, {n, 12, 12}, pixels, gzip);
    write_idx(root + "/" + prefix + "-labels-idx1-ubyte" + ext, {n}, labels, gzip);
  }
  return root;
}

std::vector<uint8_t> pattern_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> bytes(n);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng());
  return bytes;
}

}  // namespace effscale::testing

#include <cstdio>
// libjpeg's header needs <cstdio> first.
#include <jpeglib.h>
#include <png.h>

namespace effscale::testing {

void write_png(const std::string& path, int w, int h, const std::vector<uint8_t>& pixels) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = static_cast<png_uint_32>(w);
  png.height = static_cast<png_uint_32>(h);
  png.format = PNG_FORMAT_RGB;
  png_image_write_to_file(&png, path.c_str(), 0, pixels.data(), 0, nullptr);
}

void write_jpeg(const std::string& path, int w, int h, const std::vector<uint8_t>& pixels, int quality) {
  jpeg_compress_struct info{};
  jpeg_error_mgr error{};
  info.err = jpeg_std_error(&error);
  jpeg_create_compress(&info);
  std::FILE* file = std::fopen(path.c_str(), "wb");
  jpeg_stdio_dest(&info, file);
  info.image_width = static_cast<JDIMENSION>(w);
  info.image_height = static_cast<JDIMENSION>(h);
  info.input_components = 3;
  info.in_color_space = JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(pixels.data()) + size_t(info.next_scanline) * size_t(w) * 3;
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::fclose(file);
}

}  // namespace effscale::testing
