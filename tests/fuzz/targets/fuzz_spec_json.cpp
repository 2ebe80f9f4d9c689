// Spec JSON: parsed and validated, then counted (parameters, multiply-adds, activations: overflow is refused, never
// wrapped).
#include "effscale/models/counts.h"
#include "effscale/models/spec_json.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return effscale::fuzz::refuses_or_reads([&] {
    const auto spec = effscale::models::spec_from_json(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    effscale::models::count_params(spec);
    effscale::models::count_macs(spec);
    effscale::models::count_activations(spec);
  });
}
