#include "effscale/models/spec_json.h"

#include <nlohmann/json.hpp>

#include "effscale/base/atomic_file.h"
#include "effscale/models/spec_error.h"

namespace effscale::models {
namespace {

using nlohmann::json;

// Reads one optional field of the expected JSON kind into `target`.
template <typename T>
void read_field(const json& doc, const char* key, T& target, const std::string& source) {
  auto it = doc.find(key);
  if (it == doc.end()) return;
  const bool ok = std::is_same_v<T, std::string> ? it->is_string()
                  : std::is_integral_v<T>        ? it->is_number_integer()
                                                 : it->is_number();
  if (!ok) {
    const char* kind = std::is_same_v<T, std::string> ? "a string"
                       : std::is_integral_v<T>        ? "an integer"
                                                      : "a number";
    throw SpecError(source + ": field '" + key + "' must be " + kind + ", got " + it->dump());
  }
  target = it->get<T>();
}

const char* const kKnownKeys[] = {"name",          "stages",     "stem_filters", "head_filters",
                                  "width_mult",    "depth_mult", "depth_divisor", "resolution",
                                  "dropout",       "drop_connect", "num_classes", "in_channels",
                                  "bn_eps",        "bn_momentum", "padding"};

void reject_unknown_keys(const json& doc, const std::string& source) {
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    bool known = false;
    for (const char* key : kKnownKeys) known = known || it.key() == key;
    if (!known) throw SpecError(source + ": unknown field '" + it.key() + "'");
  }
}

std::vector<BlockArgs> read_stages(const json& doc, const std::string& source) {
  auto it = doc.find("stages");
  if (it == doc.end() || !it->is_array())
    throw SpecError(source + ": field 'stages' must be an array of block strings");
  std::vector<BlockArgs> stages;
  for (const json& item : *it) {
    if (!item.is_string())
      throw SpecError(source + ": field 'stages' must hold block strings, got " + item.dump());
    try {
      stages.push_back(parse_block_string(item.get<std::string>()));
    } catch (const SpecError& e) {
      throw SpecError(source + ": " + e.what());
    }
  }
  return stages;
}

}  // namespace

json spec_to_json_value(const ArchSpec& s) {
  json stages = json::array();
  for (const BlockArgs& b : s.stages) stages.push_back(format_block_string(b));
  json doc = json::object();
  doc["name"] = s.name;
  doc["stages"] = stages;
  doc["stem_filters"] = s.stem_filters;
  doc["head_filters"] = s.head_filters;
  doc["width_mult"] = s.width_mult;
  doc["depth_mult"] = s.depth_mult;
  doc["depth_divisor"] = s.depth_divisor;
  doc["resolution"] = s.resolution;
  doc["dropout"] = s.dropout;
  doc["drop_connect"] = s.drop_connect;
  doc["num_classes"] = s.num_classes;
  doc["in_channels"] = s.in_channels;
  doc["bn_eps"] = s.bn.eps;
  doc["bn_momentum"] = s.bn.momentum;
  doc["padding"] = padding_name(s.padding);
  return doc;
}

std::string spec_to_json(const ArchSpec& s) { return spec_to_json_value(s).dump(2) + "\n"; }

ArchSpec spec_from_json(const std::string& text, const std::string& source) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {  // parse errors, and numbers past a double (1e1114: out_of_range)
    throw SpecError(source + ": not valid JSON (" + std::string(e.what()) + ")");
  }
  return spec_from_json_value(doc, source);
}

ArchSpec spec_from_json_value(const json& doc, const std::string& source) {
  if (!doc.is_object()) throw SpecError(source + ": expected a JSON object describing a spec");
  reject_unknown_keys(doc, source);
  ArchSpec s;
  read_field(doc, "name", s.name, source);
  s.stages = read_stages(doc, source);
  read_field(doc, "stem_filters", s.stem_filters, source);
  read_field(doc, "head_filters", s.head_filters, source);
  read_field(doc, "width_mult", s.width_mult, source);
  read_field(doc, "depth_mult", s.depth_mult, source);
  read_field(doc, "depth_divisor", s.depth_divisor, source);
  read_field(doc, "resolution", s.resolution, source);
  read_field(doc, "dropout", s.dropout, source);
  read_field(doc, "drop_connect", s.drop_connect, source);
  read_field(doc, "num_classes", s.num_classes, source);
  read_field(doc, "in_channels", s.in_channels, source);
  read_field(doc, "bn_eps", s.bn.eps, source);
  read_field(doc, "bn_momentum", s.bn.momentum, source);
  std::string padding = padding_name(s.padding);
  read_field(doc, "padding", padding, source);
  try {
    s.padding = parse_padding(padding);
    validate(s);
  } catch (const SpecError& e) {
    throw SpecError(source + ": " + e.what());
  }
  return s;
}

ArchSpec read_spec_file(const std::string& path) {
  std::string text;
  try {
    text = base::read_whole_file(path);
  } catch (const std::invalid_argument& e) {
    throw SpecError(e.what());
  }
  return spec_from_json(text, path);
}

void write_spec_file(const std::string& path, const ArchSpec& spec) {
  base::write_file_atomically(path, spec_to_json(spec));
}

}  // namespace effscale::models

#include <filesystem>

#include "effscale/models/official.h"
#include "effscale/models/reference_networks.h"

namespace effscale::models {

ArchSpec spec_from_name_or_file(const std::string& name_or_path) {
  if (is_official_name(name_or_path)) return official(name_or_path);
  if (is_reference_network_name(name_or_path)) return reference_network(name_or_path);
  std::error_code ec;
  if (std::filesystem::exists(name_or_path, ec)) return read_spec_file(name_or_path);
  std::string known;
  for (const std::string& n : official_names()) known += n + ", ";
  for (const std::string& n : reference_network_names()) known += n + ", ";
  throw SpecError("unknown model '" + name_or_path + "': expected one of " + known + "or a spec .json file");
}

}  // namespace effscale::models
