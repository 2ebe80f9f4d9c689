// Decoding only a crop's region of a JPEG: the same pixels as a full decode for every chroma subsampling,
// progressive files and grey, the same transformed samples, and truncation still reported.

#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <random>

#include "dataset_files.h"
#include "effscale/trainers/dataset_readers.h"
#include "effscale/trainers/image_decoder.h"
#include "effscale/trainers/resample.h"
#include "effscale/trainers/transforms.h"
#include "run_command.h"
#include "temp_dir.h"

using namespace effscale::trainers;
using namespace effscale::testing;

namespace {

// JPEGs written by python3-PIL from the same noisy RGB pixels: one per encoder setting that changes how
// a decoder rebuilds colour (chroma subsampling 4:4:4 / 4:2:2 / 4:2:0, progressive, grey, CMYK), plus a PNG.
std::vector<std::string> write_variants(TempDir& dir, int w, int h) {
  write_png(dir.file("src.png"), w, h, pattern_bytes(size_t(w) * h * 3, 5));
  const auto peer = run_command("/usr/bin/python3 -c " + shell_quote(
      "import sys\nfrom PIL import Image\n"
      "im = Image.open(sys.argv[1]).convert('RGB')\n"
      "d = sys.argv[2]\n"
      "im.save(d + '/s444.jpg', quality=90, subsampling=0)\n"
      "im.save(d + '/s422.jpg', quality=90, subsampling=1)\n"
      "im.save(d + '/s420.jpg', quality=90, subsampling=2)\n"
      "im.save(d + '/progressive.jpg', quality=90, progressive=True)\n"
      "im.convert('L').save(d + '/grey.jpg', quality=90)\n"
      "im.convert('CMYK').save(d + '/cmyk.jpg', quality=90)\n") +
      " " + shell_quote(dir.file("src.png")) + " " + shell_quote(dir.file("")));
  REQUIRE(peer.exit_status == 0);
  std::vector<std::string> files;
  for (const char* name : {"s444.jpg", "s422.jpg", "s420.jpg", "progressive.jpg", "grey.jpg", "cmyk.jpg", "src.png"})
    files.push_back(dir.file(name));
  return files;
}

torch::Tensor as_tensor(const DecodedImage& image) { return pixels_to_tensor(image.view()); }

}  // namespace

TEST_CASE("a decoded region equals the same box of the full decode", "[trainers][images]") {
  TempDir dir;
  const int w = 83, h = 61;  // not multiples of any iMCU
  std::mt19937 rng(3);
  for (const std::string& file : write_variants(dir, w, h)) {
    INFO(file);
    const torch::Tensor full = decode_image_file(file);
    REQUIRE(full.sizes() == torch::IntArrayRef({3, h, w}));
    std::vector<CropBox> boxes = {{0, 0, h, w}, {0, 0, 1, 1}, {h - 1, w - 1, 1, 1}, {17, 33, 20, 50}, {40, 0, 21, 83}};
    for (int k = 0; k < 40; ++k) {
      const int bh = 1 + int(rng() % h), bw = 1 + int(rng() % w);
      boxes.push_back({int64_t(rng() % (h - bh + 1)), int64_t(rng() % (w - bw + 1)), bh, bw});
    }
    for (const CropBox& box : boxes) {
      INFO("box top " << box.top << " left " << box.left << " height " << box.height << " width " << box.width);
      const DecodedImage region = decode_image_region(file, [&](int64_t hh, int64_t ww) {
        CHECK((hh == h && ww == w));
        return box;
      });
      const torch::Tensor expected =
          full.slice(1, box.top, box.top + box.height).slice(2, box.left, box.left + box.width);
      CHECK(torch::equal(as_tensor(region), expected));
    }
  }
}

TEST_CASE("transforming a file equals transforming its full decode", "[trainers][images]") {
  TempDir dir;
  for (const std::string& file : write_variants(dir, 96, 72)) {
    INFO(file);
    const torch::Tensor decoded = decode_image_file(file);
    for (int resolution : {24, 160}) {
      TransformOptions o;
      o.resolution = resolution;
      torch::Tensor out = torch::empty({1, 3, resolution, resolution});
      for (uint64_t seed = 0; seed < 12; ++seed) {
        const bool training = seed != 0;
        transform_image_file(file, o, training, seed, out.data_ptr<float>());
        CHECK(torch::equal(out, transform_image(decoded, o, training, seed)));
      }
    }
  }
}

TEST_CASE("a region of a truncated JPEG is still an error, padding after the end marker is not", "[trainers][images]") {
  TempDir dir;
  write_jpeg(dir.file("full.jpg"), 64, 64, pattern_bytes(64 * 64 * 3, 2));
  const std::string whole = read_file(dir.file("full.jpg"));
  const auto top_corner = [](int64_t, int64_t) { return CropBox{0, 0, 4, 4}; };
  const std::string truncated = dir.write("cut.jpg", whole.substr(0, whole.size() * 3 / 5));
  CHECK_THROWS_WITH(decode_image_region(truncated, top_corner), Catch::Contains("cut.jpg' is not a valid JPEG"));
  const std::string padded = dir.write("padded.jpg", whole + std::string(100, '\0'));
  CHECK(torch::equal(as_tensor(decode_image_region(padded, top_corner)),
                     decode_image_file(dir.file("full.jpg")).slice(1, 0, 4).slice(2, 0, 4)));
  CHECK_THROWS_AS(decode_image_region(padded, [](int64_t h, int64_t w) { return CropBox{1, 1, h, w}; }),
                  std::logic_error);
}

TEST_CASE("a CMYK JPEG decodes to the RGB python3-PIL gives", "[trainers][images]") {
  TempDir dir;
  write_png(dir.file("src.png"), 37, 29, pattern_bytes(37 * 29 * 3, 9));
  const auto peer = run_command("/usr/bin/python3 -c " + shell_quote(
      "import sys\nfrom PIL import Image\n"
      "Image.open(sys.argv[1]).convert('CMYK').save(sys.argv[2], quality=90)\n"
      "open(sys.argv[3], 'wb').write(Image.open(sys.argv[2]).convert('RGB').tobytes())\n") +
      " " + shell_quote(dir.file("src.png")) + " " + shell_quote(dir.file("cmyk.jpg")) + " " + shell_quote(dir.file("rgb.bin")));
  REQUIRE(peer.exit_status == 0);
  const std::string bytes = read_file(dir.file("rgb.bin"));
  REQUIRE(bytes.size() == size_t(37 * 29 * 3));
  const torch::Tensor theirs =
      torch::from_blob(const_cast<char*>(bytes.data()), {29, 37, 3}, torch::kUInt8).permute({2, 0, 1});
  CHECK(torch::equal(decode_image_file(dir.file("cmyk.jpg")), theirs));
}

TEST_CASE("stray bytes before a JPEG's end marker are tolerated, as python3-PIL tolerates them", "[trainers][images]") {
  TempDir dir;
  write_jpeg(dir.file("clean.jpg"), 40, 24, pattern_bytes(40 * 24 * 3, 4));
  const std::string clean = read_file(dir.file("clean.jpg"));
  REQUIRE(clean.substr(clean.size() - 2) == "\xFF\xD9");
  // libjpeg warns "Corrupt JPEG data: 5 extraneous bytes before marker 0xd9"; the pixels are all there.
  const std::string stray = dir.write("stray.jpg", clean.substr(0, clean.size() - 2) + "\x12\x34\x56\x78\x9a\xFF\xD9");
  const auto peer = run_command("/usr/bin/python3 -c " + shell_quote(
      "import sys\nfrom PIL import Image\nImage.open(sys.argv[1]).convert('RGB').load()\n") + " " + shell_quote(stray));
  CHECK(peer.exit_status == 0);
  CHECK(torch::equal(decode_image_file(stray), decode_image_file(dir.file("clean.jpg"))));
  // A bad byte inside the entropy-coded data is still an error.
  std::string damaged = clean;
  damaged[damaged.size() / 2] = '\xFF';
  damaged[damaged.size() / 2 + 1] = '\xD0';  // a restart marker where none belongs
  CHECK_THROWS_WITH(decode_image_file(dir.write("damaged.jpg", damaged)), Catch::Contains("damaged.jpg' is not a valid JPEG"));
}
