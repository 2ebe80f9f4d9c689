#pragma once
// ArchSpec <-> JSON, and spec files on disk. The JSON form lists stages as canonical block strings:
//   {"name": "b0", "stages": ["r1_k3_s11_e1_i32_o16_se0.25", ...], "stem_filters": 32,
//    "head_filters": 1280, "width_mult": 1.0, "depth_mult": 1.0, "depth_divisor": 8,
//    "resolution": 224, "dropout": 0.2, "drop_connect": 0.2, "num_classes": 1000, "in_channels": 3,
//    "bn_eps": 0.001, "bn_momentum": 0.01, "padding": "symmetric"}
// Only "stages" is required when reading; a missing field takes ArchSpec's default.

#include <nlohmann/json.hpp>

#include <string>

#include "effscale/models/arch_spec.h"

namespace effscale::models {

// Serializes a spec to a JSON document (pretty-printed, stable key order). Round trip:
// spec_from_json(spec_to_json(s)) == s.
std::string spec_to_json(const ArchSpec& spec);

// The same document as a JSON value (what spec_to_json prints), for specs stored inside other JSON.
nlohmann::json spec_to_json_value(const ArchSpec& spec);

// Parses and validates a JSON document. Throws SpecError naming `source` (a file name or "JSON")
// and the offending field: malformed JSON, an unknown key, a wrong type, or an invalid value.
ArchSpec spec_from_json(const std::string& json_text, const std::string& source = "JSON");

// The same from a JSON value already parsed (e.g. a spec stored inside a study attribute); same errors.
ArchSpec spec_from_json_value(const nlohmann::json& doc, const std::string& source = "JSON");

// Reads a spec file. Throws SpecError naming the path when it cannot be read or is not a valid spec.
ArchSpec read_spec_file(const std::string& path);

// Writes a spec file atomically (temporary file, then rename). Throws std::runtime_error naming the
// path when it cannot be written; on failure no file (partial or temporary) is left behind.
void write_spec_file(const std::string& path, const ArchSpec& spec);

}  // namespace effscale::models

namespace effscale::models {

// Resolves a --model argument: an official name (see official()), a reference network's name
// (see reference_network(): mobilenetv2, mnasnet-a1) or the path of a spec JSON file.
// Throws SpecError naming the argument when it is neither (or when the file is not a valid spec).
ArchSpec spec_from_name_or_file(const std::string& name_or_path);

}  // namespace effscale::models
