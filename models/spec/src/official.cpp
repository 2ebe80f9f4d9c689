#include "effscale/models/official.h"

#include <algorithm>
#include <cctype>

#include "effscale/models/spec_error.h"

namespace effscale::models {
namespace {

std::string normalized(std::string_view name) {
  std::string s(name);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* prefix : {"efficientnet-", "efficientnet_"}) {
    if (s.rfind(prefix, 0) == 0) return s.substr(std::string(prefix).size());
  }
  return s;
}

const OfficialScale* find_scale(std::string_view name) {
  const std::string key = normalized(name);
  for (const OfficialScale& row : official_table())
    if (row.name == key) return &row;
  return nullptr;
}

}  // namespace

const std::vector<OfficialScale>& official_table() {
  static const std::vector<OfficialScale> table = {
      {"b0", 1.0, 1.0, 224, 0.2}, {"b1", 1.0, 1.1, 240, 0.2}, {"b2", 1.1, 1.2, 260, 0.3},
      {"b3", 1.2, 1.4, 300, 0.3}, {"b4", 1.4, 1.8, 380, 0.4}, {"b5", 1.6, 2.2, 456, 0.4},
      {"b6", 1.8, 2.6, 528, 0.5}, {"b7", 2.0, 3.1, 600, 0.5}, {"b8", 2.2, 3.6, 672, 0.5},
      {"l2", 4.3, 5.3, 800, 0.5},
  };
  return table;
}

std::vector<std::string> official_names() {
  std::vector<std::string> names;
  for (const OfficialScale& row : official_table()) names.push_back(row.name);
  return names;
}

ArchSpec efficientnet_b0() {
  ArchSpec spec;
  spec.name = "b0";
  for (const char* block : {"r1_k3_s11_e1_i32_o16_se0.25", "r2_k3_s22_e6_i16_o24_se0.25",
                            "r2_k5_s22_e6_i24_o40_se0.25", "r3_k3_s22_e6_i40_o80_se0.25",
                            "r3_k5_s11_e6_i80_o112_se0.25", "r4_k5_s22_e6_i112_o192_se0.25",
                            "r1_k3_s11_e6_i192_o320_se0.25"})
    spec.stages.push_back(parse_block_string(block));
  return spec;
}

ArchSpec official(std::string_view name) {
  const OfficialScale* row = find_scale(name);
  if (row == nullptr) {
    std::string known;
    for (const std::string& n : official_names()) known += (known.empty() ? "" : ", ") + n;
    throw SpecError("unknown model '" + std::string(name) + "': expected one of " + known +
                    " or a spec .json file");
  }
  ArchSpec spec = efficientnet_b0();
  spec.name = row->name;
  spec.width_mult = row->width_mult;
  spec.depth_mult = row->depth_mult;
  spec.resolution = row->resolution;
  spec.dropout = row->dropout;
  return spec;
}

bool is_official_name(std::string_view name) { return find_scale(name) != nullptr; }

}  // namespace effscale::models
