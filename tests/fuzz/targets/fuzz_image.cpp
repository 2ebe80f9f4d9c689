// JPEG and PNG files decoded as training reads them: the header first, then the region chosen from its size.
#include "effscale/trainers/image_decoder.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = effscale::fuzz::input_file(data, size, size > 0 && data[0] == 0x89 ? ".png" : ".jpg");
  return effscale::fuzz::refuses_or_reads([&] {
    effscale::trainers::decode_image_region(path, [](int64_t h, int64_t w) {
      return effscale::trainers::CropBox{h / 4, w / 4, std::max<int64_t>(1, h / 2), std::max<int64_t>(1, w / 2)};
    });
  });
}
