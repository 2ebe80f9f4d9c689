// Machine description from /proc, /etc/os-release and sysconf.

#include "effscale/report/machine_info.h"

#include <torch/version.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace effscale::report {
namespace {

// The value after "key" and a separator on the first matching line of `path` ("" when absent).
std::string field(const std::string& path, const std::string& key, char separator) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key, 0) != 0) continue;
    const size_t at = line.find(separator);
    if (at == std::string::npos) continue;
    std::string value = line.substr(at + 1);
    const size_t first = value.find_first_not_of(" \t\"");
    const size_t last = value.find_last_not_of(" \t\"");
    return first == std::string::npos ? "" : value.substr(first, last - first + 1);
  }
  return "";
}

}  // namespace

std::string describe_machine() {
  std::string out = field("/proc/cpuinfo", "model name", ':');
  if (out.empty()) out = "unknown CPU";
  out += " (" + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + " cores)";
  const double pages = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
  if (pages > 0) {
    char memory[32];
    std::snprintf(memory, sizeof memory, "%.1f GiB", pages / (1024.0 * 1024.0 * 1024.0));
    out += ", " + std::string(memory) + " memory";
  }
  const std::string os = field("/etc/os-release", "PRETTY_NAME", '=');
  if (!os.empty()) out += ", " + os;
  return out + ", LibTorch " + TORCH_VERSION;
}

}  // namespace effscale::report
