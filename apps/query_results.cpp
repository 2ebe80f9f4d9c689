// query_results: answers questions about a study database (studies, trials, best, pareto, curves, export).

#include <boost/program_options.hpp>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <iostream>
#include <set>

#include "effscale/cli/app_main.h"
#include "effscale/cli/command_line.h"
#include "effscale/cli/output_table.h"
#include "effscale/store/best_trial.h"
#include "effscale/base/atomic_file.h"
#include "effscale/report/study_analysis.h"
#include "effscale/report/study_charts.h"
#include "effscale/report/study_report.h"
#include "effscale/store/storage.h"
#include "effscale/store/store_error.h"

namespace po = boost::program_options;
namespace st = effscale::store;
using effscale::cli::OutputFormat;
using effscale::cli::OutputTable;
namespace cli = effscale::cli;
using effscale::cli::UsageError;
using nlohmann::json;

namespace {

const char* const kUsage =
    "usage: query_results [--storage URL] studies\n"
    "       query_results [--storage URL] trials --study S [--state S1,S2] [--sort value|number|ATTR] [--top K]\n"
    "       query_results [--storage URL] best|best-trial|pareto|best-trials --study S\n"
    "       query_results [--storage URL] export --study S [--state S1,S2]   (Optuna's trials_dataframe columns)\n"
    "       query_results [--storage URL] curves --study S --trial N\n"
    "       query_results [--storage URL] plot --study S --kind pareto|history|curves|grid|family|models --output FILE.svg\n"
    "       query_results [--storage URL] report [--search-study S] [--compare-study R] [--grid-study G]\n"
    "                     [--scaled-study C] --output-dir DIR [--title T] [--wall-time SECONDS] [--command TEXT]\n"
    "Every form takes -f/--format table|csv|json; --study-name is --study (Optuna's spelling), best-trial is best\n"
    "and best-trials is pareto. The storage defaults to $EFFSCALE_STORAGE, then $OPTUNA_STORAGE, then\n"
    "sqlite:///effscale.db. The database is opened as it is; it is never created.";

// Every query, as help and errors list them.
const char* const kQueries = "studies, trials, best (or best-trial), pareto (or best-trials), curves, export, plot or report";

// A trial's duration in seconds (millisecond precision), or null when it has not finished.
json duration_seconds(const st::Trial& t) {
  const auto seconds = effscale::report::trial_seconds(t);
  return seconds ? json(std::round(*seconds * 1000) / 1000) : json(nullptr);
}

// A number JSON can carry: NaN and infinities become null.
json finite_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// A trial in Optuna's field names (as optuna's FrozenTrial and trials_dataframe use them).
json trial_json(const st::Trial& t) {
  json params = json::object(), values = json::array(), steps = json::object();
  for (const auto& [name, p] : t.params) params[name] = p.external();
  for (double v : t.values) values.push_back(finite_or_null(v));
  for (const auto& [step, v] : t.intermediate_values) steps[std::to_string(step)] = finite_or_null(v);
  return json{{"number", t.number}, {"state", st::state_name(t.state)}, {"params", params}, {"values", values},
              {"intermediate_values", steps}, {"user_attrs", t.user_attrs},
              {"datetime_start", t.datetime_start.empty() ? json(nullptr) : json(t.datetime_start)},
              {"datetime_complete", t.datetime_complete.empty() ? json(nullptr) : json(t.datetime_complete)},
              {"duration_s", duration_seconds(t)}};
}

// Prints trials: JSON as Optuna-named objects; table and CSV as one row each with the attributes that matter.
void print_trials(const std::vector<st::Trial>& trials, OutputFormat format) {
  if (format == OutputFormat::Json) {
    json array = json::array();
    for (const st::Trial& t : trials) array.push_back(trial_json(t));
    std::cout << array.dump(2) << "\n";
    return;
  }
  OutputTable table({"number", "state", "values", "params", "duration_s", "macs", "model_params", "resolution"});
  for (const st::Trial& t : trials) {
    const json j = trial_json(t);
    std::string params;
    for (const auto& [name, value] : j["params"].items()) params += (params.empty() ? "" : " ") + name + "=" + value.dump();
    table.add_row({t.number, j["state"], j["values"], params, j["duration_s"], t.user_attrs.value("macs", json(nullptr)),
                   t.user_attrs.value("params", json(nullptr)), t.user_attrs.value("resolution", json(nullptr))});
  }
  std::cout << table.render(format);
}

// query "export": every trial flat, in the columns of Optuna's Study.trials_dataframe() (number, value or values_N,
// datetime_start, datetime_complete, duration in seconds, params_*, user_attrs_*, system_attrs_*, state), then
// intermediate_values_<step>: one row per trial, one column per name any trial has, empty where a trial has none.
void export_trials(const std::vector<st::Trial>& trials, bool multi_objective, OutputFormat format) {
  std::set<std::string> params, user, system;
  std::set<int64_t> steps;
  size_t objectives = 1;
  for (const st::Trial& t : trials) {
    for (const auto& [name, p] : t.params) params.insert(name);
    for (const auto& [key, v] : t.user_attrs.items()) user.insert(key);
    for (const auto& [key, v] : t.system_attrs.items()) system.insert(key);
    for (const auto& [step, v] : t.intermediate_values) steps.insert(step);
    objectives = std::max(objectives, t.values.size());
  }
  std::vector<std::string> columns = {"number"};
  for (size_t i = 0; i < objectives; ++i) columns.push_back(multi_objective ? "values_" + std::to_string(i) : "value");
  for (const char* c : {"datetime_start", "datetime_complete", "duration"}) columns.push_back(c);
  for (const auto& n : params) columns.push_back("params_" + n);
  for (const auto& n : user) columns.push_back("user_attrs_" + n);
  for (const auto& n : system) columns.push_back("system_attrs_" + n);
  columns.push_back("state");
  for (int64_t step : steps) columns.push_back("intermediate_values_" + std::to_string(step));
  OutputTable table(columns);
  for (const st::Trial& t : trials) {
    const json j = trial_json(t);
    std::vector<json> row = {t.number};
    for (size_t i = 0; i < objectives; ++i) row.push_back(i < t.values.size() ? finite_or_null(t.values[i]) : json(nullptr));
    row.insert(row.end(), {j["datetime_start"], j["datetime_complete"], j["duration_s"]});
    for (const auto& n : params) row.push_back(t.params.count(n) ? t.params.at(n).external() : json(nullptr));
    for (const auto& n : user) row.push_back(t.user_attrs.value(n, json(nullptr)));
    for (const auto& n : system) row.push_back(t.system_attrs.value(n, json(nullptr)));
    row.push_back(st::state_name(t.state));
    for (int64_t step : steps)
      row.push_back(t.intermediate_values.count(step) ? finite_or_null(t.intermediate_values.at(step)) : json(nullptr));
    table.add_row(row);
  }
  std::cout << table.render(format);
}

st::Study require_study(st::Storage& storage, const po::variables_map& vm) {
  if (vm.count("study") && vm.count("study-name") && vm["study"].as<std::string>() != vm["study-name"].as<std::string>())
    throw UsageError("--study and --study-name name the same study; give one");
  if (!vm.count("study") && !vm.count("study-name")) throw UsageError("this query needs --study NAME");
  const std::string name = vm[vm.count("study") ? "study" : "study-name"].as<std::string>();
  auto study = storage.find_study(name);
  if (!study) throw UsageError("no study named '" + name + "' (list them with `query_results studies`)");
  return *study;
}

// Sort key of a trial for --sort: its first value, its number, a user attribute or a parameter.
double sort_key(const st::Trial& t, const std::string& key) {
  if (key == "number") return t.number;
  if (key == "value") return t.values.empty() ? NAN : t.values[0];
  if (t.user_attrs.contains(key) && t.user_attrs[key].is_number()) return t.user_attrs[key].get<double>();
  if (t.params.count(key)) return t.params.at(key).internal;
  return NAN;
}

std::vector<st::TrialState> parse_states(const std::string& list) {
  std::vector<st::TrialState> states;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t end = std::min(list.find(',', start), list.size());
    std::string name = list.substr(start, end - start);
    std::transform(name.begin(), name.end(), name.begin(), ::toupper);
    try {
      states.push_back(st::parse_state(name));
    } catch (const st::StoreInputError& e) {
      throw UsageError(std::string("--state: ") + e.what());
    }
    start = end + 1;
  }
  return states;
}

// The command's flags.
po::options_description query_flags() {
  po::options_description options("options");
  options.add_options()
      ("query", po::value<std::string>(), kQueries)
      ("storage", po::value<std::string>()->default_value(st::default_storage_url()), "study database URL")
      ("study", po::value<std::string>()->notifier(cli::not_empty("--study")), "study name")
      ("study-name", po::value<std::string>(), "the same as --study (Optuna's spelling)")
      ("state", po::value<std::string>(), "trials: only these states (comma-separated)")
      ("sort", po::value<std::string>()->default_value("number"), "trials: value, number, a user attribute or a param")
      ("top", po::value<int>()->notifier(cli::at_least("--top", 1)), "trials: only the first K after sorting (value: best first)")
      ("trial", po::value<int>(), "curves: trial number")
      ("kind", po::value<std::string>(), "plot: pareto, history, curves, grid, family or models")
      ("output", po::value<std::string>(), "plot: the SVG file to write")
      ("search-study", po::value<std::string>()->default_value(""), "report: the nas_search study")
      ("compare-study", po::value<std::string>()->default_value(""),
       "report: a train_model study of networks retrained with several seeds (the found baseline beside others)")
      ("grid-study", po::value<std::string>()->default_value(""), "report: the grid_alpha_beta_gamma study")
      ("scaled-study", po::value<std::string>()->default_value(""), "report: the scale_models --train study")
      ("output-dir", po::value<std::string>(), "report: where report.md and its charts go")
      ("title", po::value<std::string>()->default_value("effscale run"), "report: heading")
      ("wall-time", po::value<double>(), "report: end-to-end wall time in seconds, measured by the caller")
      ("command", po::value<std::string>()->default_value(""), "report: how the run was started")
      ("format,f", po::value<std::string>()->default_value("table"), "table, csv or json");
  return options;
}

// Refuses a flag given on the command line that `query` does not read: --output with export, --top with best, ...
// would otherwise be ignored without a word (a config file's keys are not refused: one preset serves every
// command). Throws UsageError naming the flag and the queries that read it.
void refuse_flags_the_query_ignores(const std::set<std::string>& flags_given, const std::string& query) {
  const std::vector<std::string> of_a_study = {"trials", "best", "pareto", "curves", "export", "plot"};
  const std::vector<std::string> report = {"report"};
  const std::vector<std::pair<std::string, std::vector<std::string>>> readers = {
      {"study", of_a_study}, {"study-name", of_a_study}, {"state", {"trials", "export"}}, {"sort", {"trials"}},
      {"top", {"trials"}}, {"trial", {"curves"}}, {"kind", {"plot"}}, {"output", {"plot"}}, {"search-study", report},
      {"compare-study", report}, {"grid-study", report}, {"scaled-study", report}, {"output-dir", report},
      {"title", report}, {"wall-time", report}, {"command", report}};
  for (const auto& [flag, queries] : readers) {
    if (!flags_given.count(flag) || std::find(queries.begin(), queries.end(), query) != queries.end()) continue;
    std::string names;
    for (const std::string& q : queries) names += (names.empty() ? "" : q == queries.back() ? " and " : ", ") + q;
    throw UsageError("--" + flag + " is read by " + names + ", not by " + query);
  }
}

// query "report": the Markdown report of a run's studies.
void write_report(st::Storage& storage, const po::variables_map& vm) {
  if (!vm.count("output-dir")) throw UsageError("report needs --output-dir DIR");
  effscale::report::ReportOptions report;
  report.search_study = vm["search-study"].as<std::string>();
  report.compare_study = vm["compare-study"].as<std::string>();
  report.grid_study = vm["grid-study"].as<std::string>();
  report.scaled_study = vm["scaled-study"].as<std::string>();
  report.output_dir = vm["output-dir"].as<std::string>();
  report.title = vm["title"].as<std::string>();
  if (vm.count("wall-time")) report.wall_seconds = vm["wall-time"].as<double>();
  report.command = vm["command"].as<std::string>();
  effscale::report::write_study_report(storage, report);
  std::cerr << "query_results: wrote " << report.output_dir << "/report.md\n";
}

// query "studies": one row per study with its best value.
void print_studies(st::Storage& storage, OutputFormat format) {
  OutputTable table({"study", "directions", "trials", "complete", "best_value"});
  for (const st::Study& s : storage.list_studies()) {
    const auto trials = storage.get_trials(s.study_id, {});
    std::vector<std::string> dirs;
    for (auto d : s.directions) dirs.push_back(st::direction_name(d));
    const auto complete = std::count_if(trials.begin(), trials.end(), [](const st::Trial& t) {
      return t.state == st::TrialState::Complete && !t.values.empty();
    });
    const std::optional<st::Trial> best = st::best_trial(s, trials);
    table.add_row({s.name, dirs, static_cast<int64_t>(trials.size()), static_cast<int64_t>(complete),
                   best ? json(best->values[0]) : json(nullptr)});
  }
  std::cout << table.render(format);
}

// query "plot": one SVG chart of the study.
void write_plot(st::Storage& storage, const st::Study& study, const po::variables_map& vm) {
  if (!vm.count("kind") || !vm.count("output")) throw UsageError("plot needs --kind and --output FILE.svg");
  const std::string kind = vm["kind"].as<std::string>();
  const auto& kinds = effscale::report::chart_kinds();
  if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end())
    throw UsageError("--kind '" + kind + "': expected pareto, history, curves, grid, family or models");
  const std::string svg = effscale::report::study_chart_svg(study, storage.get_trials(study.study_id, {}), kind);
  effscale::base::write_file_atomically(vm["output"].as<std::string>(), svg);
  std::cerr << "query_results: wrote " << vm["output"].as<std::string>() << "\n";
}

// query "curves": the intermediate values of one trial.
void print_curves(st::Storage& storage, const st::Study& study, const po::variables_map& vm, OutputFormat format) {
  if (!vm.count("trial")) throw UsageError("curves needs --trial N");
  const int number = vm["trial"].as<int>();
  for (const st::Trial& t : storage.get_trials(study.study_id, {})) {
    if (t.number != number) continue;
    OutputTable table({"step", "value"});
    for (const auto& [step, v] : t.intermediate_values) table.add_row({step, finite_or_null(v)});
    std::cout << table.render(format);
    return;
  }
  throw UsageError("study '" + study.name + "' has no trial number " + std::to_string(number));
}

// The trials the queries "trials", "best", "pareto" and "export" print.
std::vector<st::Trial> selected_trials(st::Storage& storage, const st::Study& study, const std::string& query,
                                       const po::variables_map& vm) {
  std::vector<st::Trial> trials = storage.get_trials(
      study.study_id, vm.count("state") ? parse_states(vm["state"].as<std::string>()) : std::vector<st::TrialState>{});
  const bool maximize = study.directions[0] == st::StudyDirection::Maximize;
  if (query == "best") {
    const std::optional<st::Trial> best = st::best_trial(study, storage.get_trials(study.study_id, {}));
    if (!best) throw std::runtime_error("study '" + study.name + "' has no complete trial yet");
    trials = {*best};
  } else if (query == "trials") {
    const std::string key = vm["sort"].as<std::string>();
    if (!trials.empty() && std::all_of(trials.begin(), trials.end(), [&](const st::Trial& t) {
          return key != "value" && key != "number" && !t.user_attrs.contains(key) && !t.params.count(key);
        }))
      throw UsageError("--sort '" + key + "': no trial of study '" + study.name + "' has a user attribute or param of that name");
    // NaN keys (no value, no such attribute) sort last; values sort best first.
    std::stable_sort(trials.begin(), trials.end(), [&](const st::Trial& a, const st::Trial& b) {
      const double x = sort_key(a, key), y = sort_key(b, key);
      if (std::isnan(x) || std::isnan(y)) return !std::isnan(x) && std::isnan(y);
      return key == "value" && maximize ? x > y : x < y;
    });
    const size_t top = vm.count("top") ? static_cast<size_t>(vm["top"].as<int>()) : trials.size();
    if (trials.size() > top) trials.resize(top);
  } else if (query == "pareto") {
    trials = effscale::report::pareto_front(study, storage.get_trials(study.study_id, {st::TrialState::Complete}));
  }
  return trials;
}

int run(int argc, char** argv) {
  po::positional_options_description positional;
  positional.add("query", 1);
  auto parsed = effscale::cli::parse_command_line(argc, argv, query_flags(), kUsage, &positional);
  if (parsed.help_requested) return 0;
  const po::variables_map& vm = parsed.values;
  const OutputFormat format = effscale::cli::parse_output_format(vm["format"].as<std::string>());
  if (!vm.count("query")) throw UsageError(std::string("name a query: ") + kQueries);
  std::string query = vm["query"].as<std::string>();
  if (query == "best-trial") query = "best";      // Optuna's CLI spellings
  if (query == "best-trials") query = "pareto";
  const std::vector<std::string> known = {"studies", "trials", "best", "pareto", "curves", "export", "plot", "report"};
  if (std::find(known.begin(), known.end(), query) == known.end())
    throw UsageError("unknown query '" + query + "': expected " + kQueries);
  refuse_flags_the_query_ignores(parsed.flags_given, query);
  auto storage = st::open_storage(vm["storage"].as<std::string>(), /*create=*/false);
  if (const std::string warning = storage->open_warning(); !warning.empty()) std::cerr << "query_results: warning: " << warning << "\n";
  if (query == "report") {
    write_report(*storage, vm);
  } else if (query == "studies") {
    print_studies(*storage, format);
  } else {
    const st::Study study = require_study(*storage, vm);
    if (query == "plot") write_plot(*storage, study, vm);
    else if (query == "curves") print_curves(*storage, study, vm, format);
    else if (query == "export") export_trials(selected_trials(*storage, study, query, vm), study.directions.size() > 1, format);
    else print_trials(selected_trials(*storage, study, query, vm), format);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return effscale::cli::run_app("query_results", [&] { return run(argc, argv); });
}
