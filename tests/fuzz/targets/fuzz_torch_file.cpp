// torch.save files: zip archives (data.pkl and storages) and the legacy pickle format.
#include "effscale/models/torch_archive.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = effscale::fuzz::input_file(data, size, ".pth");
  return effscale::fuzz::refuses_or_reads([&] { effscale::models::read_torch_file(path); });
}
