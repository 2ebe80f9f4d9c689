// The installed package, used as another project uses it: `cmake --install` into a temporary prefix, then
// examples/consumer built against it through find_package(effscale CONFIG) and through effscale.pc, and the
// front command `effscale` running the installed tools.

#include <catch2/catch.hpp>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "run_command.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using effscale::testing::run_command;
using effscale::testing::shell_quote;
using effscale::testing::TempDir;

namespace {

// Installs the build tree into dir/prefix and returns that prefix.
fs::path install_into(const TempDir& dir) {
  const fs::path prefix = dir.path() / "prefix";
  const auto r = run_command(shell_quote(EFFSCALE_CMAKE) + " --install " + shell_quote(EFFSCALE_BUILD_ROOT) +
                             " --prefix " + shell_quote(prefix.string()));
  INFO(r.out << r.err);
  REQUIRE(r.exit_status == 0);
  return prefix;
}

// Compiler flags a consumer needs when effscale was built with sanitizers (their runtime must be linked too).
std::string sanitizer_flags() {
  const std::string sanitizers = EFFSCALE_SANITIZE_LIST;
  return sanitizers.empty() ? "" : "-fsanitize=" + sanitizers;
}

// The tool names `effscale --help` lists (the first word of each line after "Tools:").
std::vector<std::string> listed_tools(const std::string& help) {
  std::vector<std::string> tools;
  std::istringstream lines(help.substr(help.find("\nTools:\n") + 8));
  for (std::string line; std::getline(lines, line);) tools.push_back(line.substr(2, line.find(' ', 2) - 2));
  return tools;
}

}  // namespace

TEST_CASE("cmake --install gives a CMake package a downstream project finds, links and runs", "[package]") {
  TempDir dir;
  const fs::path prefix = install_into(dir);
  CHECK(fs::is_regular_file(prefix / "lib/cmake/effscale/effscaleConfig.cmake"));
  CHECK(fs::is_regular_file(prefix / "include/effscale/models/counts.h"));
  const fs::path build = dir.path() / "consumer";
  const std::string flags = sanitizer_flags();
  const auto configure = run_command(
      shell_quote(EFFSCALE_CMAKE) + " -S " + shell_quote(std::string(EFFSCALE_SOURCE_ROOT) + "/examples/consumer") +
      " -B " + shell_quote(build.string()) + " -DCMAKE_PREFIX_PATH=" + shell_quote(prefix.string()) +
      " -DCMAKE_CXX_COMPILER=" + shell_quote(EFFSCALE_CXX_COMPILER) + " -DCMAKE_CXX_FLAGS=" + shell_quote(flags) +
      " && " + shell_quote(EFFSCALE_CMAKE) + " --build " + shell_quote(build.string()));
  INFO(configure.out << configure.err);
  REQUIRE(configure.exit_status == 0);
  const auto r = run_command(shell_quote((build / "consumer").string()));
  CHECK(r.exit_status == 0);
  CHECK(r.out == "EfficientNet-B0: 5288548 parameters, 385814752 multiply-adds\n");
}

TEST_CASE("the installed effscale.pc alone compiles and links the consumer", "[package]") {
  TempDir dir;
  const fs::path prefix = install_into(dir);
  const std::string pc = "PKG_CONFIG_PATH=" + shell_quote((prefix / "lib/pkgconfig").string()) + " pkg-config";
  const auto version = run_command(pc + " --modversion effscale");
  REQUIRE(version.exit_status == 0);
  CHECK(version.out == EFFSCALE_VERSION "\n");
  const std::string program = dir.file("consumer");
  const auto build = run_command(shell_quote(EFFSCALE_CXX_COMPILER) + " -std=c++17 " + sanitizer_flags() + " " +
                                 shell_quote(std::string(EFFSCALE_SOURCE_ROOT) + "/examples/consumer/main.cpp") +
                                 " -o " + shell_quote(program) + " $(" + pc + " --cflags --libs effscale)");
  INFO(build.err);
  REQUIRE(build.exit_status == 0);
  const auto r = run_command(shell_quote(program));
  CHECK(r.exit_status == 0);
  CHECK(r.out == "EfficientNet-B0: 5288548 parameters, 385814752 multiply-adds\n");
}

TEST_CASE("the installed front command is the one name on the PATH and runs every tool", "[package]") {
  TempDir dir;
  const fs::path prefix = install_into(dir);
  std::vector<std::string> in_bin;
  for (const auto& entry : fs::directory_iterator(prefix / "bin")) in_bin.push_back(entry.path().filename());
  CHECK(in_bin == std::vector<std::string>{"effscale"});
  const std::string effscale = shell_quote((prefix / "bin/effscale").string());

  const auto help = run_command(effscale + " --help");
  REQUIRE(help.exit_status == 0);
  const std::vector<std::string> tools = listed_tools(help.out);
  CHECK(tools.size() == 8);
  for (const std::string& tool : tools) {
    INFO(tool);
    CHECK(fs::is_regular_file(prefix / "libexec/effscale" / tool));
    const auto tool_help = run_command(effscale + " help " + tool);
    CHECK(tool_help.exit_status == 0);
    CHECK(tool_help.out.rfind("usage: " + tool, 0) == 0);
  }

  const auto counts = run_command(effscale + " model_info --model b0 --format csv");
  CHECK(counts.exit_status == 0);
  CHECK(counts.out.find(",5288548,385814752,") != std::string::npos);
  const auto bad_flag = run_command(effscale + " model_info --no-such-flag");
  CHECK(bad_flag.exit_status == 2);  // the tool's own status passes through
  const auto unknown = run_command(effscale + " train");
  CHECK(unknown.exit_status == 2);
  CHECK(unknown.err.find("unknown tool 'train'") != std::string::npos);
  CHECK(std::count(unknown.err.begin(), unknown.err.end(), '\n') == 1);
  const auto version = run_command(effscale + " --version");
  CHECK(version.out == "effscale " EFFSCALE_VERSION "\n");
}
