#include "run_command.h"

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "temp_dir.h"

namespace effscale::testing {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

CommandResult run_command(const std::string& command) {
  TempDir dir;
  const std::string out = dir.file("stdout"), err = dir.file("stderr");
  const int status = std::system(("(" + command + ") >" + shell_quote(out) + " 2>" + shell_quote(err) + " </dev/null").c_str());
  if (status == -1) throw std::runtime_error("cannot run: " + command);
  CommandResult result;
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  result.out = slurp(out);
  result.err = slurp(err);
  return result;
}

}  // namespace effscale::testing
