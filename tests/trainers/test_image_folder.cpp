// ImageNet-style folders of JPEG and PNG files: decoding (cross-checked with python3-PIL, which uses the
// same libjpeg-turbo), class order, batches decoded in parallel, and every broken-file case.

#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <sstream>

#include <zlib.h>

#include "dataset_files.h"
#include "effscale/trainers/batch_loader.h"
#include "effscale/trainers/dataset_readers.h"
#include "effscale/trainers/image_decoder.h"
#include "effscale/trainers/resample.h"
#include "run_command.h"
#include "temp_dir.h"

using namespace effscale::trainers;
using namespace effscale::testing;
namespace fs = std::filesystem;

namespace {

// root/{cat,dog,eel}/ with `per_class` images each, alternating JPEG and PNG, sizes varying.
void write_folder(const std::string& root, int per_class) {
  const char* classes[] = {"dog", "cat", "eel"};  // written unsorted on purpose
  for (int c = 0; c < 3; ++c) {
    fs::create_directories(fs::path(root) / classes[c]);
    for (int i = 0; i < per_class; ++i) {
      const int w = 20 + 3 * i, h = 16 + 2 * c;
      const auto pixels = pattern_bytes(size_t(w) * h * 3, uint32_t(10 * c + i));
      const std::string stem = (fs::path(root) / classes[c] / ("img" + std::to_string(i))).string();
      if (i % 2) write_png(stem + ".png", w, h, pixels);
      else write_jpeg(stem + ".JPG", w, h, pixels);
    }
  }
}

}  // namespace

TEST_CASE("PNG decodes exactly and JPEG like python3-PIL", "[trainers][images]") {
  TempDir dir;
  const auto pixels = pattern_bytes(30 * 20 * 3, 3);
  write_png(dir.file("a.png"), 30, 20, pixels);
  const torch::Tensor png = decode_image_file(dir.file("a.png"));
  REQUIRE(png.sizes() == torch::IntArrayRef({3, 20, 30}));
  CHECK(png[1][2][5].item<int>() == pixels[(2 * 30 + 5) * 3 + 1]);

  write_jpeg(dir.file("b.jpg"), 30, 20, pixels, 85);
  const torch::Tensor jpeg = decode_image_file(dir.file("b.jpg"));
  REQUIRE(jpeg.sizes() == torch::IntArrayRef({3, 20, 30}));
  const auto peer = run_command("/usr/bin/python3 -c " + shell_quote(
      "import sys, numpy\nfrom PIL import Image\n"
      "a = numpy.asarray(Image.open(sys.argv[1]).convert('RGB'), dtype=numpy.int64)\n"
      "print(int(a.sum()), int(a[7, 11, 2]))") + " " + shell_quote(dir.file("b.jpg")));
  REQUIRE(peer.exit_status == 0);
  std::istringstream in(peer.out);
  int64_t sum = 0, value = 0;
  in >> sum >> value;
  CHECK(jpeg.to(torch::kLong).sum().item<int64_t>() == sum);
  CHECK(jpeg[2][7][11].item<int64_t>() == value);
}

TEST_CASE("broken image files are errors that name the file", "[trainers][images]") {
  TempDir dir;
  const auto pixels = pattern_bytes(40 * 40 * 3, 1);
  write_jpeg(dir.file("full.jpg"), 40, 40, pixels);
  const std::string whole = read_file(dir.file("full.jpg"));
  const std::string truncated = dir.write("truncated.jpg", whole.substr(0, whole.size() / 2));
  const std::string text = dir.write("text.jpg", "hello, not an image");
  write_png(dir.file("full.png"), 40, 40, pixels);
  const std::string png = read_file(dir.file("full.png"));
  const std::string short_png = dir.write("short.png", png.substr(0, png.size() / 2));
  CHECK_THROWS_WITH(decode_image_file(truncated), Catch::Contains("truncated.jpg' is not a valid JPEG"));
  CHECK_THROWS_WITH(decode_image_file(text), Catch::Contains("text.jpg' is neither a JPEG nor a PNG"));
  CHECK_THROWS_WITH(decode_image_file(short_png), Catch::Contains("short.png' is not a valid PNG"));
  CHECK_THROWS_WITH(decode_image_file(dir.file("absent.png")), Catch::Contains("absent.png"));
  CHECK_THROWS_WITH(decode_image_file(dir.file("")), Catch::Contains("it is a directory"));
}

// A copy of `file` whose header claims `side` x `side` pixels: the JPEG's SOF0 height and width, or the PNG's
// IHDR width and height with its CRC recomputed, so the decoder reads the claim before any pixel data.
std::string claiming_side(const std::string& file, uint32_t side) {
  std::string bytes = file;
  auto put = [&](size_t at, uint32_t value, int width) {
    for (int i = 0; i < width; ++i) bytes[at + i] = char((value >> (8 * (width - 1 - i))) & 0xff);
  };
  if (bytes.compare(1, 3, "PNG") == 0) {  // signature, then length, "IHDR", width, height, ..., CRC
    put(16, side, 4);
    put(20, side, 4);
    put(29, uint32_t(crc32(0, reinterpret_cast<const Bytef*>(bytes.data() + 12), 17)), 4);
  } else {
    const size_t sof = bytes.find("\xff\xc0");  // length(2) precision(1) height(2) width(2)
    REQUIRE(sof != std::string::npos);
    put(sof + 5, side, 2);
    put(sof + 7, side, 2);
  }
  return bytes;
}

TEST_CASE("an image whose header claims too many pixels is refused before they are allocated", "[trainers][images]") {
  TempDir dir;
  const auto pixels = pattern_bytes(16 * 16 * 3, 2);
  write_jpeg(dir.file("small.jpg"), 16, 16, pixels);
  write_png(dir.file("small.png"), 16, 16, pixels);
  const std::string jpeg_bomb = dir.write("bomb.jpg", claiming_side(read_file(dir.file("small.jpg")), 60000));
  const std::string png_bomb = dir.write("bomb.png", claiming_side(read_file(dir.file("small.png")), 1000000));
  CHECK_THROWS_WITH(decode_image_file(jpeg_bomb), Catch::Contains("bomb.jpg': its header claims 60000 x 60000 pixels"));
  CHECK_THROWS_WITH(decode_image_file(png_bomb), Catch::Contains("bomb.png': its header claims 1000000 x 1000000 pixels"));
  CHECK(decode_image_file(dir.file("small.png")).size(2) == 16);
}

TEST_CASE("image folders: sorted classes, lazy decoding, parallel batches", "[trainers][images]") {
  TempDir dir;
  write_folder(dir.file("train"), 5);
  const ImageDataset d = read_image_folder(dir.file("train"));
  CHECK(d.class_names == std::vector<std::string>{"cat", "dog", "eel"});
  CHECK(d.size() == 15);
  CHECK(d.labels[5].item<int64_t>() == 1);
  CHECK(d.image(0).size(0) == 3);
  TransformOptions o;
  o.resolution = 24;
  for (bool training : {true, false}) {
    BatchLoader loader(d, o, {4, training, 1, 0, 2});
    int64_t seen = 0;
    while (auto b = loader.next()) {
      CHECK(b->images.sizes() == torch::IntArrayRef({b->labels.size(0), 3, 24, 24}));
      seen += b->labels.size(0);
    }
    CHECK(seen == (training ? 12 : 15));
  }
  // The same seed gives the same batch however TBB schedules the samples.
  BatchLoader a(d, o, {6, true, 9, 0, 1}), b(d, o, {6, true, 9, 0, 1});
  CHECK(torch::equal(a.next()->images, b.next()->images));
  const ImageDataset half = split_validation(d, 0.4, 0).validation;
  CHECK(half.files.size() == 6);
}

TEST_CASE("bad folders and a corrupt image mid-epoch are reported", "[trainers][images]") {
  TempDir dir;
  CHECK_THROWS_WITH(read_image_folder(dir.file("none")), Catch::Contains("does not exist"));
  fs::create_directories(dir.file("empty"));
  CHECK_THROWS_WITH(read_image_folder(dir.file("empty")), Catch::Contains("has no class folders"));
  write_folder(dir.file("data/train"), 2);
  fs::create_directories(dir.file("data/train/zebra"));
  CHECK_THROWS_WITH(read_image_folder(dir.file("data/train")), Catch::Contains("zebra' holds no .jpg or .png"));
  fs::remove_all(dir.file("data/train/zebra"));
  CHECK_THROWS_WITH(load_named_dataset("folder", dir.file("data")), Catch::Contains("needs train/ and val/"));
  write_folder(dir.file("data/val"), 1);
  CHECK(load_named_dataset("folder", dir.file("data")).test.size() == 3);
  dir.write("data/train/cat/img0.JPG", "corrupt");
  const ImageDataset d = read_image_folder(dir.file("data/train"));
  BatchLoader loader(d, TransformOptions{}, {6, false, 0, 0, 1});
  CHECK_THROWS_WITH(loader.next(), Catch::Contains("img0.JPG") && Catch::Contains("neither a JPEG nor a PNG"));
}

TEST_CASE("resampling to the same size gives each pixel times 1/255, mirrored when asked", "[trainers][images]") {
  // Both filters' weights are exactly 1 at the pixel and 0 beside it at scale 1; resample_into takes a direct path
  // there, which must give the two-pass path's values bit for bit: the pixel times the second pass's 1/255.
  const auto pixels = pattern_bytes(size_t(3) * 29 * 31, 5);
  const torch::Tensor image =
      torch::from_blob(const_cast<uint8_t*>(pixels.data()), {3, 29, 31}, torch::kUInt8).clone();
  const torch::Tensor expected = image.to(torch::kFloat) * (1.0f / 255.0f);
  for (const ResampleFilter filter : {ResampleFilter::Bicubic, ResampleFilter::Bilinear}) {
    CHECK(torch::equal(resample(image, 29, 31, filter), expected));
    torch::Tensor mirrored = torch::empty({3, 29, 31});
    resample_into(pixel_view(image), 29, 31, filter, /*mirror=*/true, mirrored.data_ptr<float>());
    CHECK(torch::equal(mirrored, expected.flip(2)));
    // A strided view (one channel of an HWC image) reads the same pixels.
    const torch::Tensor hwc = image.permute({1, 2, 0}).contiguous();
    const torch::Tensor green = hwc.permute({2, 0, 1}).narrow(0, 1, 1);
    CHECK(torch::equal(resample(green, 29, 31, filter), expected.narrow(0, 1, 1)));
  }
}

TEST_CASE("resampling matches Pillow's antialiased bicubic and bilinear", "[trainers][images]") {
  TempDir dir;
  const int w = 53, h = 41;
  const auto pixels = pattern_bytes(size_t(w) * h * 3, 8);
  write_png(dir.file("src.png"), w, h, pixels);
  const torch::Tensor image = decode_image_file(dir.file("src.png"));
  for (const auto& [filter, name] : {std::pair<ResampleFilter, std::string>{ResampleFilter::Bicubic, "BICUBIC"},
                                     {ResampleFilter::Bilinear, "BILINEAR"}}) {
    for (const auto& [ow, oh] : {std::pair<int, int>{17, 13}, {96, 80}, {53, 20}}) {
      INFO(name << " to " << ow << "x" << oh);
      const std::string out = dir.file("pil.bin");
      const auto peer = run_command("/usr/bin/python3 -c " + shell_quote(
          "import sys\nfrom PIL import Image\n"
          "im = Image.open(sys.argv[1]).convert('RGB').resize((int(sys.argv[2]), int(sys.argv[3])), getattr(Image, sys.argv[4]))\n"
          "open(sys.argv[5], 'wb').write(im.tobytes())") + " " + shell_quote(dir.file("src.png")) + " " +
          std::to_string(ow) + " " + std::to_string(oh) + " " + name + " " + shell_quote(out));
      REQUIRE(peer.exit_status == 0);
      const std::string bytes = read_file(out);
      REQUIRE(bytes.size() == size_t(ow) * oh * 3);
      const torch::Tensor theirs = torch::from_blob(const_cast<char*>(bytes.data()), {oh, ow, 3}, torch::kUInt8)
                                       .permute({2, 0, 1}).to(torch::kFloat);
      const torch::Tensor ours = resample(image, oh, ow, filter) * 255.0;
      // Pillow rounds to 8 bits after each pass; we keep floats.
      CHECK((ours - theirs).abs().max().item<double>() <= 2.0);
      CHECK((ours - theirs).abs().mean().item<double>() <= 0.5);
    }
  }
}
