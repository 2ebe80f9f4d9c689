#pragma once
// What every fuzz target shares: the contract under test is that bad input is refused with std::invalid_argument
// (SpecError, WeightsError, DataError: exit status 2 in the commands); anything else escaping (another exception, a
// crash, a sanitizer report, an allocation past libFuzzer's -rss_limit_mb) is a finding.

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <stdexcept>
#include <string>

namespace effscale::fuzz {

// The fuzz input as a file (for readers that take a path): one file per process, rewritten each call.
inline std::string input_file(const uint8_t* data, size_t size, const std::string& extension) {
  const std::string path = "/tmp/effscale-fuzz-" + std::to_string(::getpid()) + extension;
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data), std::streamsize(size));
  return path;
}

// Runs `read` and accepts a refusal of bad input.
template <typename Read>
int refuses_or_reads(Read&& read) {
  try {
    read();
  } catch (const std::invalid_argument&) {
  }
  return 0;
}

}  // namespace effscale::fuzz
