// effscale: the one front command on the PATH. `effscale TOOL ARGS...` runs the tool (installed into
// libexec/effscale, where names like `predict` cannot collide with other packages) with the same arguments,
// standard streams and exit status; `effscale --help` lists the tools.

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "effscale/cli/tools.h"

namespace fs = std::filesystem;

namespace {

using effscale::cli::is_tool;
using effscale::cli::kTools;
using effscale::cli::Tool;

void print_usage(std::ostream& out) {
  out << "usage: effscale TOOL [ARGS...]   run one effscale tool (same arguments, output and exit status)\n"
         "       effscale help TOOL        the tool's own --help\n"
         "       effscale --help | --version\n"
         "Tools:\n";
  for (const Tool& tool : kTools) {
    out << "  " << tool.name << std::string(23 - tool.name.size(), ' ') << tool.summary << "\n";
  }
}

// Where the tool lives: <front command's folder>/EFFSCALE_TOOLS_RELATIVE/NAME when installed; in the build
// tree (the front command still in the folder it was built into) the tool beside it. Empty if neither exists.
fs::path locate_tool(std::string_view name) {
  std::error_code error;
  const fs::path self = fs::canonical("/proc/self/exe", error);
  if (error) return {};
  const fs::path installed = self.parent_path() / EFFSCALE_TOOLS_RELATIVE / name;
  if (fs::is_regular_file(installed, error)) return installed;
  const fs::path beside = self.parent_path() / name;
  if (self.parent_path() == fs::path(EFFSCALE_BUILD_TOOLS_DIR) && fs::is_regular_file(beside, error)) return beside;
  return {};
}

int run_tool(std::string_view name, int argc, char** argv) {
  const fs::path path = locate_tool(name);
  if (path.empty()) {
    std::cerr << "effscale: error: the tool '" << name << "' is not installed beside this front command (looked in "
              << EFFSCALE_TOOLS_RELATIVE << " next to it)\n";
    return 2;
  }
  std::vector<char*> args;
  std::string argv0(name);
  args.push_back(argv0.data());
  for (int i = 0; i < argc; ++i) args.push_back(argv[i]);
  args.push_back(nullptr);
  execv(path.c_str(), args.data());
  std::cerr << "effscale: error: cannot run '" << path.string() << "': " << std::strerror(errno) << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(std::cerr);
    return 2;
  }
  const std::string_view first = argv[1];
  if (first == "--help" || first == "-h") {
    print_usage(std::cout);
    return 0;
  }
  if (first == "--version") {
    std::cout << "effscale " << EFFSCALE_VERSION << "\n";
    return 0;
  }
  if (first == "help") {
    if (argc != 3 || !is_tool(argv[2])) {
      std::cerr << "effscale: error: help takes one tool name (effscale --help lists them)\n";
      return 2;
    }
    char help[] = "--help";
    char* args[] = {help};
    return run_tool(argv[2], 1, args);
  }
  if (!is_tool(first)) {
    std::cerr << "effscale: error: unknown tool '" << first << "' (tools:";
    for (const Tool& tool : kTools) std::cerr << " " << tool.name;
    std::cerr << "; effscale --help)\n";
    return 2;
  }
  return run_tool(first, argc - 2, argv + 2);
}
