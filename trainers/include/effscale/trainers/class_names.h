#pragma once
// Class names beside a model's weights: classes.json, written by runs trained on folder datasets, read by predict.

#include <string>
#include <vector>

namespace effscale::trainers {

// `names` as the JSON array classes.json holds (index i names class i).
std::string class_names_json(const std::vector<std::string>& names);

// Reads class names from `path`: a JSON array of strings (classes.json) or, for any other content, a text file with
// one name per line (blank lines at the end ignored), as ImageNet's class lists come. Throws DataError naming the
// file when it cannot be read, is a JSON array holding something else than strings, or names no class.
std::vector<std::string> read_class_names(const std::string& path);

}  // namespace effscale::trainers
