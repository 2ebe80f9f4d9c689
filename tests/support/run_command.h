#pragma once
// run_command: runs a shell command and captures its exit status, stdout and stderr.

#include <string>

namespace effscale::testing {

struct CommandResult {
  int exit_status = -1;  // the process's exit status; -1 when it did not exit normally
  std::string out;       // everything it wrote to stdout
  std::string err;       // everything it wrote to stderr
};

// Runs `command` with /bin/sh. Throws std::runtime_error when the shell cannot be started.
CommandResult run_command(const std::string& command);

// Quotes a string for /bin/sh.
std::string shell_quote(const std::string& text);

}  // namespace effscale::testing
