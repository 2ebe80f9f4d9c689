#pragma once
// Whole-file reads and crash-safe writes, shared by everything that writes results to disk.

#include <string>

namespace effscale::base {

// Writes `contents` to `path` by writing `path` + ".tmp.<pid>", flushing it and renaming it over
// `path`, so readers see either the old file or the whole new one. Temporary files of `path` left by
// processes no longer alive (a kill during a write) are removed first. Throws std::runtime_error naming
// the path when any step fails, after removing the temporary file.
void write_file_atomically(const std::string& path, const std::string& contents);

// Removes `path`.tmp.<pid> files whose process is no longer alive; returns how many were removed.
int remove_stale_temporaries(const std::string& path);

// Throws std::invalid_argument ("cannot read 'PATH': ...") unless `path` names a regular file (or a link
// to one): not missing, not a directory, not a FIFO, socket or device, which would block or fail mid-read.
void require_regular_file(const std::string& path);

// Reads a whole regular file. Throws std::invalid_argument naming the path when it is not one
// (require_regular_file) or cannot be opened or read.
std::string read_whole_file(const std::string& path);

}  // namespace effscale::base
