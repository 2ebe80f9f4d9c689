// Python pickle streams (torch.save's data.pkl), with tensors referring to storages by key.
#include "effscale/models/pickle_value.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return effscale::fuzz::refuses_or_reads([&] {
    effscale::models::unpickle(std::string_view(reinterpret_cast<const char*>(data), size), {}, "fuzz");
  });
}
