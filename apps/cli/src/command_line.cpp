#include "effscale/cli/command_line.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <boost/program_options/parsers.hpp>

#include <iostream>
#include <map>
#include <sstream>

#include "effscale/base/atomic_file.h"
#include "effscale/cli/app_main.h"
#include "effscale/cli/tools.h"

namespace po = boost::program_options;

namespace effscale::cli {

ParsedCommandLine parse_command_line(int argc, const char* const argv[], po::options_description options,
                                     const std::string& usage, const po::positional_options_description* positional) {
  options.add_options()("config", po::value<std::string>(), "read options from this INI file (flags win)")(
      "help,h", "print this help and exit");
  ParsedCommandLine parsed;
  po::positional_options_description none;
  const po::parsed_options flags =
      po::command_line_parser(argc, argv).options(options).positional(positional ? *positional : none).run();
  for (const po::option& o : flags.options) parsed.flags_given.insert(o.string_key);
  po::store(flags, parsed.values);
  if (parsed.values.count("help")) {
    std::cout << usage << "\n\n" << options << "\n";
    parsed.help_requested = true;
    return parsed;
  }
  if (parsed.values.count("config")) {
    const std::string path = parsed.values["config"].as<std::string>();
    std::istringstream file;
    try {
      file.str(base::read_whole_file(path));
    } catch (const std::invalid_argument& e) {
      throw UsageError(std::string("--config: ") + e.what());
    }
    const std::string command =
        usage.rfind("usage: ", 0) == 0 ? usage.substr(7, usage.find_first_of(" \n", 7) - 7) : "";
    const CommandConfig config = config_for_command(file.str(), command);
    try {
      for (const std::string* text : {&config.own, &config.shared}) {  // store keeps what is stored first
        std::istringstream part(*text);
        po::store(po::parse_config_file(part, options), parsed.values);
      }
    } catch (po::error& e) {
      throw UsageError("config file '" + path + "': " + program_options_message(e));
    }
  }
  po::notify(parsed.values);
  return parsed;
}

CommandConfig config_for_command(const std::string& text, const std::string& command) {
  CommandConfig config;
  std::string* target = &config.shared;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    const size_t first = line.find_first_not_of(" \t\r");
    const size_t last = line.find_last_not_of(" \t\r");
    if (first != std::string::npos && line[first] == '[' && line[last] == ']') {
      const std::string name = line.substr(first + 1, last - first - 1);
      const bool a_tool = is_tool(name);
      target = !a_tool ? &config.shared : name == command ? &config.own : nullptr;
      if (a_tool) continue;  // the header itself: the section's keys read unprefixed
    }
    if (target != nullptr) *target += line + "\n";
  }
  return config;
}

namespace {

// Reaches the substitutions Boost keeps protected (a member pointer taken through a derived class).
struct ErrorSubstitutions : po::error_with_option_name {
  static std::map<std::string, std::string>& of(po::error_with_option_name& e) {
    return e.*(&ErrorSubstitutions::m_substitutions);
  }
};

}  // namespace

std::string program_options_message(po::error& e) {
  if (auto* named = dynamic_cast<po::error_with_option_name*>(&e)) {
    for (auto& [placeholder, text] : ErrorSubstitutions::of(*named)) {
      std::string safe;
      for (const char c : text) safe += c == '%' ? std::string("\xEF\xBC\x85") : std::string(1, c);  // U+FF05
      text = safe;
    }
  }
  return e.what();
}

po::options_description output_dir_options(const std::string& help) {
  po::options_description o("output");
  o.add_options()
      ("output-dir", po::value<std::string>(), help.c_str())
      ("out-dir", po::value<std::string>(), "the same as --output-dir (the earlier spelling)");
  return o;
}

std::string output_dir_from(const po::variables_map& vm, const std::string& fallback) {
  if (vm.count("output-dir") && vm.count("out-dir") && vm["output-dir"].as<std::string>() != vm["out-dir"].as<std::string>())
    throw UsageError("--output-dir and --out-dir name the same folder; give one");
  if (vm.count("output-dir")) return vm["output-dir"].as<std::string>();
  if (vm.count("out-dir")) return vm["out-dir"].as<std::string>();
  return fallback;
}

void prepare_output_file(const std::string& path, const std::string& flag) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::is_directory(path, error)) throw UsageError(flag + " '" + path + "': it is a folder, not a file");
  const fs::path folder = fs::path(path).parent_path();
  if (!folder.empty() && !fs::create_directories(folder, error) && error)
    throw UsageError(flag + " '" + path + "': cannot make its folder: " + error.message());
}

std::function<void(const double&)> positive(const std::string& flag) {
  return [flag](const double& value) {
    if (!(value > 0 && std::isfinite(value))) throw UsageError(flag + ": " + default_text(value) + ": must be a finite number > 0");
  };
}

std::function<void(const std::string&)> not_empty(const std::string& flag) {
  return [flag](const std::string& value) {
    if (value.empty()) throw UsageError(flag + ": must not be empty");
  };
}

bool parse_on_off(const std::string& text) {
  if (text == "on") return true;
  if (text == "off") return false;
  throw std::invalid_argument("'" + text + "': expected on or off");
}

std::string default_text(double value) {
  char buffer[40];
  if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 1e15) {
    std::snprintf(buffer, sizeof buffer, "%.0f", value);  // whole numbers as written: 10, not 1e+01
    return buffer;
  }
  for (int digits = 1; digits <= 17; ++digits) {
    std::snprintf(buffer, sizeof buffer, "%.*g", digits, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  std::string text = buffer;  // 1e-05 -> 1e-5
  if (const size_t e = text.find("e-0"); e != std::string::npos) text.erase(e + 2, 1);
  return text;
}

}  // namespace effscale::cli
