#include "effscale/models/reference_networks.h"

#include <algorithm>
#include <cctype>
#include <initializer_list>

#include "effscale/models/block_args.h"
#include "effscale/models/official.h"
#include "effscale/models/spec_error.h"

namespace effscale::models {

namespace {

// B0's stem, head and settings with other blocks.
ArchSpec b0_with_blocks(const std::string& name, std::initializer_list<const char*> blocks) {
  ArchSpec spec = efficientnet_b0();
  spec.name = name;
  spec.stages.clear();
  for (const char* block : blocks) spec.stages.push_back(parse_block_string(block));
  return spec;
}

// Lower case, '_' as '-'.
std::string canonical(std::string_view name) {
  std::string out(name);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return c == '_' ? '-' : char(std::tolower(c)); });
  return out;
}

}  // namespace

ArchSpec mobilenetv2_reference() {
  return b0_with_blocks("mobilenetv2", {"r1_k3_s11_e1_i32_o16", "r2_k3_s22_e6_i16_o24", "r3_k3_s22_e6_i24_o32",
                                        "r4_k3_s22_e6_i32_o64", "r3_k3_s11_e6_i64_o96", "r3_k3_s22_e6_i96_o160",
                                        "r1_k3_s11_e6_i160_o320"});
}

ArchSpec mnasnet_a1() {
  return b0_with_blocks("mnasnet-a1", {"r1_k3_s11_e1_i32_o16_noskip", "r2_k3_s22_e6_i16_o24", "r3_k5_s22_e3_i24_o40_se0.25",
                                       "r4_k3_s22_e6_i40_o80", "r2_k3_s11_e6_i80_o112_se0.25",
                                       "r3_k5_s22_e6_i112_o160_se0.25", "r1_k3_s11_e6_i160_o320"});
}

std::vector<std::string> reference_network_names() { return {"mobilenetv2", "mnasnet-a1"}; }

bool is_reference_network_name(std::string_view name) {
  const std::vector<std::string> names = reference_network_names();
  return std::find(names.begin(), names.end(), canonical(name)) != names.end();
}

ArchSpec reference_network(std::string_view name) {
  const std::string key = canonical(name);
  if (key == "mobilenetv2") return mobilenetv2_reference();
  if (key == "mnasnet-a1") return mnasnet_a1();
  throw SpecError("unknown reference network '" + std::string(name) + "' (known: mobilenetv2, mnasnet-a1)");
}

}  // namespace effscale::models
