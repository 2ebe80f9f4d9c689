#pragma once
// Command-line parsing shared by every command: --help, --config FILE.ini, flags override the file.

#include <boost/program_options/options_description.hpp>
#include <boost/program_options/positional_options.hpp>
#include <boost/program_options/variables_map.hpp>

#include <string>

namespace effscale::cli {

// What parse_command_line found.
struct ParsedCommandLine {
  boost::program_options::variables_map values;  // flags, then the config file's keys underneath
  bool help_requested = false;                   // --help was given; usage has been printed to stdout
};

// Adds --help and --config to `options`, parses argv (positional arguments only where `positional`
// maps them to options), then the INI file
// named by --config (its keys are the long flag names; `[section]` headers are allowed and prefix
// keys as "section.key"), so a flag on the command line overrides the file. Prints `usage` and the
// option list to stdout when --help is given. Throws Boost.Program_options errors for unknown or
// malformed flags and UsageError naming the config file when it cannot be read or has an unknown key.
ParsedCommandLine parse_command_line(int argc, const char* const argv[],
                                     boost::program_options::options_description options,
                                     const std::string& usage,
                                     const boost::program_options::positional_options_description* positional = nullptr);

}  // namespace effscale::cli
