// Block strings (r2_k3_s22_e6_i16_o24_se0.25): parsed, and what parses formats back to an equal block.
#include "effscale/models/block_args.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return effscale::fuzz::refuses_or_reads([&] {
    const auto args = effscale::models::parse_block_string(std::string_view(reinterpret_cast<const char*>(data), size));
    if (effscale::models::parse_block_string(effscale::models::format_block_string(args)) != args) __builtin_trap();
  });
}
