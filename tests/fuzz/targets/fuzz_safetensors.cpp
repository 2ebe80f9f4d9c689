// safetensors files: the 8-byte header length, the JSON header, tensor offsets against the file's size.
#include "effscale/models/safetensors.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = effscale::fuzz::input_file(data, size, ".safetensors");
  return effscale::fuzz::refuses_or_reads([&] { effscale::models::read_safetensors(path); });
}
