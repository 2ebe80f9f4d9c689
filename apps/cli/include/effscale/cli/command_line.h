#pragma once
// Command-line parsing shared by every command: --help, --config FILE.ini, flags override the file.

#include <boost/program_options/errors.hpp>
#include <boost/program_options/options_description.hpp>
#include <boost/program_options/positional_options.hpp>
#include <boost/program_options/variables_map.hpp>

#include <boost/program_options/value_semantic.hpp>

#include <cmath>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <set>
#include <string>
#include <type_traits>
#include <utility>

#include "effscale/cli/app_main.h"

namespace effscale::cli {

// What parse_command_line found.
struct ParsedCommandLine {
  boost::program_options::variables_map values;  // flags, then the config file's keys underneath
  bool help_requested = false;                   // --help was given; usage has been printed to stdout
  std::set<std::string> flags_given;             // the options given on the command line itself (not by --config)
};

// Config `text` as `command` reads it, in two INI texts: `own`, the lines of its `[command]` sections without their
// headers (so their keys read as plain keys), and `shared`, the lines before any section header and those of sections
// not named after a tool (tools.h), as they are. The sections of other tools are in neither (a preset then serves
// every command: `[grid_alpha_beta_gamma]` then `seeds = 2` gives the grid two seeds and train_model nothing).
// parse_command_line reads `own` first, so a key set in both wins from `own` (and a flag from both).
struct CommandConfig {
  std::string own, shared;
};
CommandConfig config_for_command(const std::string& text, const std::string& command);

// Adds --help and --config to `options`, parses argv (positional arguments only where `positional`
// maps them to options), then the INI file
// named by --config (its keys are the long flag names; `[section]` headers are allowed and prefix
// keys as "section.key", except a section named after an effscale tool (config_for_command): its keys apply
// unprefixed to that command, the command `usage` names ("usage: COMMAND ..."), and other commands skip it), so a
// flag on the command line overrides the file. Prints `usage` and the
// option list to stdout when --help is given. Throws Boost.Program_options errors for unknown or
// malformed flags and UsageError naming the config file when it cannot be read or has an unknown key.
ParsedCommandLine parse_command_line(int argc, const char* const argv[],
                                     boost::program_options::options_description options,
                                     const std::string& usage,
                                     const boost::program_options::positional_options_description* positional = nullptr);


// The message of a Boost.Program_options error (what()), made safe first: Boost 1.74 fills a message's placeholders
// (%value%, %canonical_option%, ...) by replacing each until none is left, so a value or token holding one itself
// (`--seed 'x%value%'`) made what() loop forever. Every '%' the user wrote shows as '％' (U+FF05) instead.
std::string program_options_message(boost::program_options::error& e);

// --output-dir DIR, with --out-dir as its alias (the spelling of earlier versions); `help` says what goes there.
boost::program_options::options_description output_dir_options(const std::string& help);

// The folder --output-dir (or its alias --out-dir) names, or `fallback` when neither is given. Throws
// UsageError when both are given with different folders.
std::string output_dir_from(const boost::program_options::variables_map& vm, const std::string& fallback);

// Makes ready the file `path` that `flag` names, for a command that writes it at the end of its work: creates the
// folders it goes in. Throws UsageError naming the flag when the path is a folder or its folder cannot be made,
// so the command stops before the work rather than after it.
void prepare_output_file(const std::string& path, const std::string& flag);

// The shortest text that reads back as `value` ("0.016", "-0.07", "1e-05"), as --help shows defaults.
std::string default_text(double value);

// A flag's value type with `value` as its default, shown by --help as written (doubles by default_text).
template <typename T>
boost::program_options::typed_value<T>* with_default(const T& value) {
  if constexpr (std::is_floating_point_v<T>) {
    return boost::program_options::value<T>()->default_value(value, default_text(double(value)));
  } else {
    std::ostringstream text;
    text << value;
    return boost::program_options::value<T>()->default_value(value, text.str());
  }
}

// Boost notifiers that refuse a flag's value beside its declaration, as UsageError("FLAG: VALUE: must be ..."):
// at_least(flag, min): the value is >= min (floating point: also finite, so neither NaN nor inf);
// positive(flag): a finite number > 0; not_empty(flag): a non-empty string; from_to(flag, min, max) below.
template <typename T>
std::function<void(const T&)> at_least(const std::string& flag, T min) {
  return [flag, min](const T& value) {
    bool ok = value >= min;
    if constexpr (std::is_floating_point_v<T>) ok = ok && std::isfinite(value);
    if (ok) return;
    std::ostringstream text;
    if constexpr (std::is_floating_point_v<T>) {
      text << flag << ": " << default_text(double(value)) << ": must be a finite number >= " << default_text(double(min));
    } else {
      text << flag << ": " << value << ": must be " << min << " or more";
    }
    throw UsageError(text.str());
  };
}
// from_to(flag, min, max): a whole number from min to max.
template <typename T>
std::function<void(const T&)> from_to(const std::string& flag, T min, T max) {
  static_assert(std::is_integral_v<T>);
  return [flag, min, max](const T& value) {
    if (value >= min && value <= max) return;
    std::ostringstream text;
    text << flag << ": " << value << ": must be from " << min << " to " << max;
    throw UsageError(text.str());
  };
}
std::function<void(const double&)> positive(const std::string& flag);
std::function<void(const std::string&)> not_empty(const std::string& flag);

// An on/off switch's value: "on" is true, "off" false; throws std::invalid_argument naming `text` otherwise (wrap it
// in parse_flag to name the flag).
bool parse_on_off(const std::string& text);

// Runs `parse` (a library parser of the flag's value) and returns what it returns. The library names the
// value, never the flag: a std::invalid_argument it throws becomes UsageError("FLAG: <its message>").
template <typename Parse>
auto parse_flag(const std::string& flag, Parse&& parse) -> decltype(parse()) {
  try {
    return std::forward<Parse>(parse)();
  } catch (const std::invalid_argument& e) {
    throw UsageError(flag + ": " + e.what());
  }
}

}  // namespace effscale::cli
