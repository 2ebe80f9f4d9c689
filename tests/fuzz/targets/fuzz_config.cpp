// INI configs (--config FILE): every kind of value the commands declare (numbers with their range checks, whole
// numbers, text, switches, repeated and sectioned keys, sections of this command and of others), parsed as the
// commands parse them. A refusal is UsageError or a Boost.Program_options error (both exit status 2 in the commands).
#include <boost/program_options/errors.hpp>
#include <boost/program_options/options_description.hpp>

#include <string>
#include <vector>

#include "effscale/cli/command_line.h"
#include "fuzz_input.h"

namespace po = boost::program_options;
namespace cli = effscale::cli;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = effscale::fuzz::input_file(data, size, ".ini");
  po::options_description options("fuzzed");
  options.add_options()
      ("lr", cli::with_default(0.016)->notifier(cli::positive("--lr")), "a positive number")
      ("warmup-epochs", cli::with_default(5.0)->notifier(cli::at_least("--warmup-epochs", 0.0)), "a number >= 0")
      ("epochs", cli::with_default(2)->notifier(cli::at_least("--epochs", 1)), "a whole number >= 1")
      ("seed", cli::with_default<uint64_t>(0), "an unsigned whole number")
      ("study", po::value<std::string>()->notifier(cli::not_empty("--study")), "text")
      ("hard", po::bool_switch(), "a switch")
      ("input", po::value<std::vector<std::string>>(), "a repeatable key")
      ("proxy.resolution", cli::with_default(28), "a sectioned key");
  const char* argv[] = {"fuzz_config", "--config", path.c_str()};
  try {
    cli::parse_command_line(3, argv, options, "usage: model_info (its [model_info] sections apply, others' are skipped)");
  } catch (po::error& e) {
    cli::program_options_message(e);  // the message the commands print (Boost's own what() could loop forever)
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
