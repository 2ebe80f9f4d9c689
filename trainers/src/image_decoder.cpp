#include "effscale/trainers/image_decoder.h"

#include <torch/torch.h>

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <vector>

// libjpeg's header needs <cstdio> first.
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "effscale/base/atomic_file.h"
#include "effscale/trainers/dataset_readers.h"
#include "effscale/trainers/resample.h"

namespace effscale::trainers {
namespace {

std::vector<unsigned char> read_bytes(const std::string& path) {
  try {
    base::require_regular_file(path);  // a directory would fail mid-read, a FIFO block
  } catch (const std::invalid_argument& e) {
    throw DataError(std::string("image: ") + e.what());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError("cannot read image '" + path + "'");
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// libjpeg reports errors through a callback; this one jumps back with the message.
struct JpegError {
  jpeg_error_mgr manager;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_error_exit(j_common_ptr info) {
  auto* error = reinterpret_cast<JpegError*>(info->err);
  (*info->err->format_message)(info, error->message);
  std::longjmp(error->jump, 1);
}

// A corrupt-data warning (a truncated file, a bad Huffman code) is an error for us: no silent garbage. The
// warnings about data outside the image (bytes between the last scan and the end marker, which some of
// ImageNet's files have, an unknown JFIF revision or Adobe transform code, a bad ICC profile) leave every
// pixel intact: those files decode, as Pillow decodes them.
void jpeg_warning(j_common_ptr info, int level) {
  if (level >= 0) return;
  switch (info->err->msg_code) {
    case JWRN_EXTRANEOUS_DATA:
    case JWRN_JFIF_MAJOR:
    case JWRN_ADOBE_XFORM:
    case JWRN_BOGUS_ICC:
      return;
    default:
      jpeg_error_exit(info);
  }
}

// Columns decoded on each side of the box: a partial-width decode may smooth chroma differently at its own
// edges (libjpeg-turbo's documentation), so those edges must fall outside the box.
constexpr int64_t kEdgeMargin = 16;

bool ends_with_end_marker(const std::vector<unsigned char>& bytes) {
  // FF D9 cannot occur inside entropy-coded data (FF is stuffed there), so finding it near the end means
  // the file was written to its end; trailing padding after it is common and allowed.
  const size_t from = bytes.size() > 64 ? bytes.size() - 64 : 0;
  for (size_t i = bytes.size(); i-- > from + 1;)
    if (bytes[i - 1] == 0xFF && bytes[i] == 0xD9) return true;
  return false;
}

// CMYK as libjpeg returns it (Adobe's inverted convention) to RGB in the first three bytes of each 4-byte
// pixel, with Pillow's rounding: with c, k the stored values, R = k - round((255 - c) * k / 255).
void cmyk_to_rgb(uint8_t* pixel, int64_t count) {
  for (int64_t i = 0; i < count; ++i, pixel += 4) {
    const int k = pixel[3];
    for (int channel = 0; channel < 3; ++channel) {
      const int product = (255 - pixel[channel]) * k + 128;
      pixel[channel] = static_cast<uint8_t>(k - (((product >> 8) + product) >> 8));
    }
  }
}

// Refuses an image whose header claims more than kMaxImagePixels (a small file can claim 10 GB of pixels).
void check_image_size(int64_t height, int64_t width, const std::string& path) {
  if (height * width > kMaxImagePixels)
    throw DataError("'" + path + "': its header claims " + std::to_string(width) + " x " + std::to_string(height) +
                    " pixels, more than the " + std::to_string(kMaxImagePixels) + " effscale decodes");
}

CropBox checked_box(const RegionChooser& choose, int64_t height, int64_t width, const std::string& path) {
  check_image_size(height, width, path);
  const CropBox box = choose(height, width);
  if (box.top < 0 || box.left < 0 || box.height < 1 || box.width < 1 || box.top + box.height > height ||
      box.left + box.width > width)
    throw std::logic_error("decode_image_region: the chosen box lies outside the image");
  return box;
}

// Decodes the chosen box into target (one spare row at the end). Only plain C data lives in this frame, so
// the longjmp of an error skips no destructor; the pixels are owned by the caller. Returns false with the
// message on a corrupt file; an exception from the chooser is rethrown after libjpeg's state is freed.
bool run_jpeg(const std::vector<unsigned char>& bytes, const std::string& path, const RegionChooser& choose,
              DecodedImage* target, char* message) {
  jpeg_decompress_struct info{};
  JpegError error{};
  info.err = jpeg_std_error(&error.manager);
  error.manager.error_exit = jpeg_error_exit;
  error.manager.emit_message = jpeg_warning;
  if (setjmp(error.jump)) {
    jpeg_destroy_decompress(&info);
    std::snprintf(message, JMSG_LENGTH_MAX, "%s", error.message);
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(&info, TRUE);
  const bool cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
  info.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
  CropBox box;
  try {
    box = checked_box(choose, info.image_height, info.image_width, path);
  } catch (...) {
    jpeg_destroy_decompress(&info);
    throw;
  }
  jpeg_start_decompress(&info);
  auto x0 = static_cast<JDIMENSION>(std::max<int64_t>(box.left - kEdgeMargin, 0));
  auto columns = static_cast<JDIMENSION>(std::min<int64_t>(box.left + box.width + kEdgeMargin, info.output_width) - x0);
  if (columns < info.output_width) jpeg_crop_scanline(&info, &x0, &columns);  // moves x0 left to an iMCU edge
  target->pixel_stride = cmyk ? 4 : 3;
  target->row_stride = int64_t(info.output_width) * target->pixel_stride;
  target->offset = (box.left - int64_t(x0)) * target->pixel_stride;
  target->height = box.height;
  target->width = box.width;
  target->pixels.resize(size_t((box.height + 1) * target->row_stride));
  if (box.top > 0) jpeg_skip_scanlines(&info, static_cast<JDIMENSION>(box.top));
  const bool to_the_end = !ends_with_end_marker(bytes);  // then reading on reports the truncation
  const JDIMENSION last = to_the_end ? info.output_height : static_cast<JDIMENSION>(box.top + box.height);
  while (info.output_scanline < last) {
    const int64_t row = std::min<int64_t>(info.output_scanline - box.top, box.height);  // rows past the box: spare row
    JSAMPROW pointer = target->pixels.data() + row * target->row_stride;
    jpeg_read_scanlines(&info, &pointer, 1);
  }
  if (info.output_scanline == info.output_height) jpeg_finish_decompress(&info);
  if (cmyk) cmyk_to_rgb(target->pixels.data(), box.height * target->row_stride / 4);
  jpeg_destroy_decompress(&info);
  return true;
}

DecodedImage decode_jpeg(const std::vector<unsigned char>& bytes, const std::string& path, const RegionChooser& choose) {
  DecodedImage image;
  char message[JMSG_LENGTH_MAX] = {0};
  if (!run_jpeg(bytes, path, choose, &image, message)) throw DataError("'" + path + "' is not a valid JPEG: " + message);
  return image;
}

DecodedImage decode_png(const std::vector<unsigned char>& bytes, const std::string& path, const RegionChooser& choose) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()))
    throw DataError("'" + path + "' is not a valid PNG: " + png.message);
  png.format = PNG_FORMAT_RGB;
  try {
    check_image_size(png.height, png.width, path);
  } catch (...) {
    png_image_free(&png);
    throw;
  }
  DecodedImage image;
  image.row_stride = int64_t(png.width) * 3;
  image.pixels.resize(size_t(png.height) * size_t(image.row_stride));
  if (!png_image_finish_read(&png, nullptr, image.pixels.data(), 0, nullptr)) {
    const std::string message = png.message;
    png_image_free(&png);
    throw DataError("'" + path + "' is not a valid PNG: " + message);
  }
  const CropBox box = checked_box(choose, png.height, png.width, path);
  image.offset = box.top * image.row_stride + box.left * 3;
  image.height = box.height;
  image.width = box.width;
  return image;
}

}  // namespace

DecodedImage decode_image_region(const std::string& path, const RegionChooser& choose) {
  const std::vector<unsigned char> bytes = read_bytes(path);
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) return decode_jpeg(bytes, path, choose);
  if (bytes.size() >= 8 && png_sig_cmp(bytes.data(), 0, 8) == 0) return decode_png(bytes, path, choose);
  throw DataError("'" + path + "' is neither a JPEG nor a PNG image");
}

torch::Tensor decode_image_file(const std::string& path) {
  const DecodedImage image = decode_image_region(path, [](int64_t h, int64_t w) { return CropBox{0, 0, h, w}; });
  return pixels_to_tensor(image.view());
}

}  // namespace effscale::trainers
