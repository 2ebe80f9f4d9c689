// summarize_runs: the seed statistics of an experiment's runs (experiments/*/run write them as CSV): collect run
// folders into a CSV, summarise groups with 95% intervals, say which series leads where and whether the lead
// is outside the noise, and chart group means with error bars.

#include <boost/program_options.hpp>

#include <iostream>
#include <sstream>

#include "effscale/base/atomic_file.h"
#include "effscale/cli/app_main.h"
#include "effscale/cli/command_line.h"
#include "effscale/cli/output_table.h"
#include "effscale/report/run_summary.h"
#include "effscale/report/run_table.h"

namespace po = boost::program_options;
namespace rp = effscale::report;
namespace cli = effscale::cli;
using cli::UsageError;

namespace {

const char* const kUsage =
    "usage: summarize_runs collect --root DIR --layout A/B/seed --columns C1,C2,... --output RUNS.csv\n"
    "       summarize_runs summary --csv RUNS.csv --group C1,C2 --value V1,V2 [--output FILE.csv] [--format F]\n"
    "       summarize_runs leaders --csv RUNS.csv --within C --series S --value V [--output FILE.csv] [--format F]\n"
    "       summarize_runs chart --csv RUNS.csv --x X --y Y [--series S] [--point P] [--log-x] --output FILE.svg\n"
    "                            [--title T] [--x-label L] [--y-label L]\n"
    "collect: one row per run folder holding result.json (layout levels from the path; 'seconds' is wall_s).\n"
    "summary: per group n, mean, sd and the 95% interval (Student t) of each value.\n"
    "leaders: within each value of C, the series with the best mean, the runner-up, and whether Welch's test\n"
    "         at 5% separates them (no: the lead is inside the seed noise).\n"
    "chart:   per series one point per group (mean x, mean y) with the 95% interval of y as an error bar.";

std::vector<std::string> split_list(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, separator);)
    if (!part.empty()) parts.push_back(part);
  return parts;
}

std::string required(const po::variables_map& vm, const std::string& name, const std::string& command) {
  if (!vm.count(name)) throw UsageError(command + " needs --" + name);
  return vm[name].as<std::string>();
}

// Writes `table` to --output when given (atomically), else prints it in --format.
void emit(const rp::RunTable& table, const po::variables_map& vm) {
  if (vm.count("output")) {
    effscale::base::write_file_atomically(vm["output"].as<std::string>(), rp::run_table_csv(table));
    return;
  }
  std::cout << rp::to_output_table(table, true).render(cli::parse_output_format(vm["format"].as<std::string>()));
}

int run(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("command", po::value<std::string>(), "collect, summary, leaders or chart")
      ("root", po::value<std::string>(), "collect: the folder of run folders")
      ("layout", po::value<std::string>(), "collect: the folder levels below --root, as A/B/seed")
      ("columns", po::value<std::string>(), "collect: the CSV's columns, comma-separated")
      ("csv", po::value<std::string>(), "summary, leaders, chart: the runs CSV")
      ("group", po::value<std::string>(), "summary: group columns, comma-separated")
      ("value", po::value<std::string>(), "summary: value columns; leaders: the value ranked")
      ("within", po::value<std::string>(), "leaders: compare series within each value of this column")
      ("series", po::value<std::string>(), "leaders, chart: the column whose values are compared / drawn as lines")
      ("point", po::value<std::string>(), "chart: runs of one point share this column (and the series)")
      ("x", po::value<std::string>(), "chart: x column")
      ("y", po::value<std::string>(), "chart: y column")
      ("log-x", po::bool_switch(), "chart: logarithmic x axis")
      ("title", po::value<std::string>()->default_value(""), "chart: title")
      ("x-label", po::value<std::string>()->default_value(""), "chart: x axis label (default: the column)")
      ("y-label", po::value<std::string>()->default_value(""), "chart: y axis label (default: the column)")
      ("output", po::value<std::string>(), "write here (CSV, or SVG for chart) instead of printing")
      ("format", po::value<std::string>()->default_value("table"), "printed form: table, csv or json");
  po::positional_options_description positional;
  positional.add("command", 1);
  auto parsed = cli::parse_command_line(argc, argv, options, kUsage, &positional);
  if (parsed.help_requested) return 0;
  const po::variables_map& vm = parsed.values;
  const std::string command = vm.count("command") ? vm["command"].as<std::string>() : "";
  cli::parse_output_format(vm["format"].as<std::string>());  // refuse a bad --format before any work
  if (command == "collect") {
    if (!vm.count("output")) throw UsageError("collect needs --output");
    emit(rp::collect_runs(required(vm, "root", command), split_list(required(vm, "layout", command), '/'),
                          split_list(required(vm, "columns", command), ',')), vm);
    return 0;
  }
  if (command != "summary" && command != "leaders" && command != "chart")
    throw UsageError("expected a command: collect, summary, leaders or chart" + (command.empty() ? "" : ", not '" + command + "'"));
  const rp::RunTable table = rp::read_run_table(required(vm, "csv", command));
  if (command == "summary") {
    const auto groups = split_list(required(vm, "group", command), ','), values = split_list(required(vm, "value", command), ',');
    emit(rp::summary_table(rp::group_runs(table, groups, values), groups, values), vm);
  } else if (command == "leaders") {
    emit(rp::leader_table(table, required(vm, "within", command), required(vm, "series", command), required(vm, "value", command)), vm);
  } else {
    const rp::ChartSpec spec{required(vm, "x", command), required(vm, "y", command),
                             vm.count("series") ? vm["series"].as<std::string>() : "",
                             vm.count("point") ? vm["point"].as<std::string>() : "", vm["title"].as<std::string>(),
                             vm["x-label"].as<std::string>(), vm["y-label"].as<std::string>(), vm["log-x"].as<bool>()};
    effscale::base::write_file_atomically(required(vm, "output", command), rp::run_chart_svg(table, spec));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return cli::run_app("summarize_runs", [&] { return run(argc, argv); });
}
