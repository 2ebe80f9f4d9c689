#include "effscale/trainers/class_names.h"

#include <nlohmann/json.hpp>

#include <sstream>

#include "effscale/base/atomic_file.h"
#include "effscale/trainers/dataset_readers.h"

namespace effscale::trainers {

std::string class_names_json(const std::vector<std::string>& names) { return nlohmann::json(names).dump(1) + "\n"; }

std::vector<std::string> read_class_names(const std::string& path) {
  std::string text;
  try {
    text = base::read_whole_file(path);
  } catch (const std::invalid_argument& e) {
    throw DataError(e.what());
  }
  std::vector<std::string> names;
  const size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && text[first] == '[') {
    const nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_array()) throw DataError(path + ": not a JSON array of class names");
    for (const auto& name : doc) {
      if (!name.is_string()) throw DataError(path + ": class " + std::to_string(names.size()) + " is not a string");
      names.push_back(name.get<std::string>());
    }
  } else {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      names.push_back(line);
    }
    while (!names.empty() && names.back().empty()) names.pop_back();
  }
  if (names.empty()) throw DataError(path + ": names no class");
  return names;
}

}  // namespace effscale::trainers
