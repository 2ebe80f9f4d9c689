#pragma once
// Outputs of slow peer scripts (python3-torchvision models with random weights), made once per build and
// shared by every test process: ctest runs each test case in its own process, often several at once.

#include <functional>
#include <string>

namespace effscale::testing {

// A directory holding what `make(dir)` writes, cached under the build tree by `key` (which must name
// everything the outputs depend on, e.g. the script's text and its arguments). The first caller makes it
// into a temporary directory under an exclusive file lock and renames it into place; later callers (in
// this or any other process) reuse it. Throws std::runtime_error when `make` fails.
std::string cached_peer_dir(const std::string& key, const std::function<void(const std::string& dir)>& make);

}  // namespace effscale::testing
