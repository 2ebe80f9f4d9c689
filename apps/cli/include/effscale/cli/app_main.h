#pragma once
// The exit-status contract every effscale command keeps (docs/errors.md).

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace effscale::cli {

// Bad usage of a command: an unknown or conflicting flag, a value out of range. Exit status 2.
class UsageError : public std::invalid_argument {
 public:
  explicit UsageError(const std::string& message) : std::invalid_argument(message) {}
};

// Runs `body` and turns what escapes it into the contract: its return value on success; for
// std::invalid_argument (UsageError, SpecError, ...) and Boost.Program_options errors, prints
// "<command>: error: <what>" on stderr and returns 2; for std::bad_alloc prints "out of memory (...)" and
// returns 1; for any other exception prints "<command>: error: <what>" and returns 1. <what> is printed as one
// line: LibTorch's backtrace left out, control characters and bytes that are not UTF-8 as \xNN. Never lets an
// exception escape.
int run_app(const std::string& command, const std::function<int()>& body);

// A progress sink for library loops: writes "<UTC time> <command>: <line>" to stderr (e.g.
// "2026-11-29T08:40:01Z nas_search: Trial 3 finished ..."), one whole line at a time, from any thread, so the
// logs of several workers merge in time order.
std::function<void(const std::string& line)> stderr_log(const std::string& command);

}  // namespace effscale::cli
