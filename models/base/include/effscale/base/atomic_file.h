#pragma once
// Whole-file reads and crash-safe writes, shared by everything that writes results to disk.

#include <string>

namespace effscale::base {

// Writes `contents` to `path` by writing `path` + ".tmp.<pid>", flushing it and renaming it over
// `path`, so readers see either the old file or the whole new one. Throws std::runtime_error naming
// the path when any step fails, after removing the temporary file.
void write_file_atomically(const std::string& path, const std::string& contents);

// Reads a whole file. Throws std::invalid_argument naming the path when it cannot be opened or read.
std::string read_whole_file(const std::string& path);

}  // namespace effscale::base
