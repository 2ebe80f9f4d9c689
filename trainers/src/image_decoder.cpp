#include "effscale/trainers/image_decoder.h"

#include <torch/torch.h>

#include <csetjmp>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <vector>

// libjpeg's header needs <cstdio> first.
#include <jpeglib.h>
#include <png.h>

#include "effscale/trainers/dataset_readers.h"

namespace effscale::trainers {
namespace {

std::vector<unsigned char> read_bytes(const std::string& path) {
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

// A corrupt-data warning (a truncated file, for example) is an error for us: no silent garbage.
void jpeg_warning(j_common_ptr info, int level) {
  if (level < 0) jpeg_error_exit(info);
}

// Decodes into target->image. Only plain C data lives in this frame, so the longjmp of an error skips no
// destructor; the tensor is owned by the caller. Returns false with the message on a corrupt file.
bool run_jpeg(const std::vector<unsigned char>& bytes, torch::Tensor* target, char* message) {
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
  info.out_color_space = JCS_RGB;
  jpeg_start_decompress(&info);
  *target = torch::empty({info.output_height, info.output_width, 3}, torch::kUInt8);
  uint8_t* data = target->data_ptr<uint8_t>();
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = data + size_t(info.output_scanline) * info.output_width * 3;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return true;
}

torch::Tensor decode_jpeg(const std::vector<unsigned char>& bytes, const std::string& path) {
  torch::Tensor image;
  char message[JMSG_LENGTH_MAX] = {0};
  if (!run_jpeg(bytes, &image, message)) throw DataError("'" + path + "' is not a valid JPEG: " + message);
  return image.permute({2, 0, 1}).contiguous();
}

torch::Tensor decode_png(const std::vector<unsigned char>& bytes, const std::string& path) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&png, bytes.data(), bytes.size()))
    throw DataError("'" + path + "' is not a valid PNG: " + png.message);
  png.format = PNG_FORMAT_RGB;
  torch::Tensor image = torch::empty({png.height, png.width, 3}, torch::kUInt8);
  if (!png_image_finish_read(&png, nullptr, image.data_ptr<uint8_t>(), 0, nullptr)) {
    const std::string message = png.message;
    png_image_free(&png);
    throw DataError("'" + path + "' is not a valid PNG: " + message);
  }
  return image.permute({2, 0, 1}).contiguous();
}

}  // namespace

torch::Tensor decode_image_file(const std::string& path) {
  const std::vector<unsigned char> bytes = read_bytes(path);
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) return decode_jpeg(bytes, path);
  if (bytes.size() >= 8 && png_sig_cmp(bytes.data(), 0, 8) == 0) return decode_png(bytes, path);
  throw DataError("'" + path + "' is neither a JPEG nor a PNG image");
}

}  // namespace effscale::trainers
