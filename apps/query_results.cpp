// query_results: answers questions about a study database (studies, trials, best, pareto, curves, export).

#include <boost/program_options.hpp>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <iostream>

#include "effscale/cli/app_main.h"
#include "effscale/cli/command_line.h"
#include "effscale/cli/output_table.h"
#include "effscale/cli/svg_plot.h"
#include "effscale/models/atomic_file.h"
#include "effscale/store/storage.h"
#include "effscale/store/store_error.h"

namespace po = boost::program_options;
namespace st = effscale::store;
using effscale::cli::OutputFormat;
using effscale::cli::OutputTable;
using effscale::cli::UsageError;
using nlohmann::json;

namespace {

const char* const kUsage =
    "usage: query_results [--storage URL] studies\n"
    "       query_results [--storage URL] trials --study S [--state S1,S2] [--sort value|number|ATTR] [--top K]\n"
    "       query_results [--storage URL] best|pareto|export --study S\n"
    "       query_results [--storage URL] curves --study S --trial N\n"
    "       query_results [--storage URL] plot --study S --kind pareto|history|curves|grid --output FILE.svg\n"
    "Every form takes --format table|csv|json. The database is opened as it is; it is never created.";

// Seconds between two Optuna datetimes, or null when either is missing.
json duration_seconds(const std::string& start, const std::string& end) {
  auto parse = [](const std::string& text, double& out) {
    std::tm tm{};
    double seconds = 0;
    if (std::sscanf(text.c_str(), "%d-%d-%d %d:%d:%lf", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                    &tm.tm_min, &seconds) != 6)
      return false;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    out = static_cast<double>(timegm(&tm)) + seconds;
    return true;
  };
  double a = 0, b = 0;
  if (!parse(start, a) || !parse(end, b)) return nullptr;
  return std::round((b - a) * 1000) / 1000;
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
              {"duration_s", duration_seconds(t.datetime_start, t.datetime_complete)}};
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

st::Study require_study(st::Storage& storage, const po::variables_map& vm) {
  if (!vm.count("study")) throw UsageError("this query needs --study NAME");
  const std::string name = vm["study"].as<std::string>();
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

// True when `a` is at least as good as `b` on both objectives and better on one.
bool dominates(const std::array<double, 2>& a, const std::array<double, 2>& b) {
  return a[0] >= b[0] && a[1] >= b[1] && (a[0] > b[0] || a[1] > b[1]);
}

// The MACs a trial is judged by: `target_macs` (the full-size model of a proxy run) when recorded, else `macs`;
// NaN when neither is a number.
double trial_macs(const st::Trial& t) {
  for (const char* key : {"target_macs", "macs"})
    if (t.user_attrs.contains(key) && t.user_attrs[key].is_number()) return t.user_attrs[key].get<double>();
  return NAN;
}

std::vector<st::Trial> pareto_front(const st::Study& study, const std::vector<st::Trial>& complete) {
  // Objectives are turned into "higher is better": two-objective studies use their directions; a
  // single-objective study is value vs trial_macs (fewer is better).
  auto point = [&](const st::Trial& t) -> std::optional<std::array<double, 2>> {
    auto sign = [&](size_t i) { return study.directions[i] == st::StudyDirection::Maximize ? 1.0 : -1.0; };
    if (study.directions.size() >= 2 && t.values.size() >= 2) return std::array<double, 2>{sign(0) * t.values[0], sign(1) * t.values[1]};
    if (t.values.empty() || std::isnan(trial_macs(t))) return std::nullopt;
    return std::array<double, 2>{sign(0) * t.values[0], -trial_macs(t)};
  };
  std::vector<st::Trial> front;
  for (const st::Trial& t : complete) {
    const auto p = point(t);
    if (!p) continue;
    bool dominated = false;
    for (const st::Trial& other : complete) {
      const auto q = point(other);
      dominated = dominated || (q && dominates(*q, *p));
    }
    if (!dominated) front.push_back(t);
  }
  return front;
}

// Writes an SVG chart of the study: pareto (value vs MACs, the front joined), history (value per trial and
// the best so far), curves (intermediate values per step, one line per trial), grid (value vs alpha, beta,
// gamma).
void plot_study(const st::Study& study, const std::vector<st::Trial>& all, const std::string& kind,
                const std::string& output) {
  std::vector<st::Trial> complete;
  for (const st::Trial& t : all)
    if (t.state == st::TrialState::Complete && !t.values.empty()) complete.push_back(t);
  const auto macs = trial_macs;
  const std::string title = "study " + study.name;
  std::unique_ptr<effscale::cli::SvgPlot> plot;
  if (kind == "pareto") {
    plot = std::make_unique<effscale::cli::SvgPlot>(title + ": value vs MACs", "multiply-adds", "value", true);
    effscale::cli::PlotSeries trials{"trials"}, front{"Pareto front", {}, {}, "#d62728", true, true};
    trials.color = "#999999";
    for (const st::Trial& t : complete) {
      trials.x.push_back(macs(t));
      trials.y.push_back(t.values[0]);
    }
    std::vector<st::Trial> f = pareto_front(study, complete);
    std::sort(f.begin(), f.end(), [&](const st::Trial& a, const st::Trial& b) { return macs(a) < macs(b); });
    for (const st::Trial& t : f) {
      front.x.push_back(macs(t));
      front.y.push_back(t.values[0]);
    }
    plot->add(trials);
    plot->add(front);
  } else if (kind == "history") {
    plot = std::make_unique<effscale::cli::SvgPlot>(title + ": value per trial", "trial", "value");
    effscale::cli::PlotSeries values{"value"}, best{"best so far", {}, {}, "#d62728", false, true};
    const bool maximize = study.directions[0] == st::StudyDirection::Maximize;
    double running = maximize ? -INFINITY : INFINITY;
    for (const st::Trial& t : complete) {
      values.x.push_back(t.number);
      values.y.push_back(t.values[0]);
      running = maximize ? std::max(running, t.values[0]) : std::min(running, t.values[0]);
      best.x.push_back(t.number);
      best.y.push_back(running);
    }
    plot->add(values);
    plot->add(best);
  } else if (kind == "curves") {
    plot = std::make_unique<effscale::cli::SvgPlot>(title + ": learning curves", "epoch", "validation value");
    const char* colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
    int n = 0;
    for (const st::Trial& t : all) {
      if (t.intermediate_values.empty() || n >= 8) continue;
      effscale::cli::PlotSeries curve{"trial " + std::to_string(t.number), {}, {}, colors[n++], true, true};
      for (const auto& [step, v] : t.intermediate_values) {
        curve.x.push_back(double(step));
        curve.y.push_back(v);
      }
      plot->add(curve);
    }
  } else if (kind == "grid") {
    plot = std::make_unique<effscale::cli::SvgPlot>(title + ": value vs coefficient", "coefficient value", "value");
    const std::pair<const char*, const char*> params[] = {{"alpha", "#1f77b4"}, {"beta", "#ff7f0e"}, {"gamma", "#2ca02c"}};
    for (const auto& [name, color] : params) {
      effscale::cli::PlotSeries series{name, {}, {}, color};
      for (const st::Trial& t : complete)
        if (t.params.count(name)) {
          series.x.push_back(t.params.at(name).internal);
          series.y.push_back(t.values[0]);
        }
      plot->add(series);
    }
  } else {
    throw UsageError("--kind '" + kind + "': expected pareto, history, curves or grid");
  }
  std::string svg;
  try {
    svg = plot->render();
  } catch (const std::invalid_argument& e) {
    throw UsageError("study '" + study.name + "': " + e.what());
  }
  effscale::models::write_file_atomically(output, svg);
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

int run(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("query", po::value<std::string>(), "studies, trials, best, pareto, curves or export")
      ("storage", po::value<std::string>()->default_value(st::default_storage_url()), "study database URL")
      ("study", po::value<std::string>(), "study name")
      ("state", po::value<std::string>(), "trials: only these states (comma-separated)")
      ("sort", po::value<std::string>()->default_value("number"), "trials: value, number, a user attribute or a param")
      ("top", po::value<int>(), "trials: only the first K after sorting (value: best first)")
      ("trial", po::value<int>(), "curves: trial number")
      ("kind", po::value<std::string>(), "plot: pareto, history, curves or grid")
      ("output", po::value<std::string>(), "plot: the SVG file to write")
      ("format", po::value<std::string>()->default_value("table"), "table, csv or json");
  po::positional_options_description positional;
  positional.add("query", 1);
  auto parsed = effscale::cli::parse_command_line(argc, argv, options, kUsage, &positional);
  if (parsed.help_requested) return 0;
  const po::variables_map& vm = parsed.values;
  const OutputFormat format = effscale::cli::parse_output_format(vm["format"].as<std::string>());
  if (!vm.count("query")) throw UsageError("name a query: studies, trials, best, pareto, curves or export");
  const std::string query = vm["query"].as<std::string>();
  const std::vector<std::string> known = {"studies", "trials", "best", "pareto", "curves", "export", "plot"};
  if (std::find(known.begin(), known.end(), query) == known.end())
    throw UsageError("unknown query '" + query + "': expected studies, trials, best, pareto, curves, export or plot");
  auto storage = st::open_storage(vm["storage"].as<std::string>(), /*create=*/false);

  if (query == "studies") {
    OutputTable table({"study", "directions", "trials", "complete", "best_value"});
    for (const st::Study& s : storage->list_studies()) {
      const auto trials = storage->get_trials(s.study_id, {});
      std::vector<std::string> dirs;
      for (auto d : s.directions) dirs.push_back(st::direction_name(d));
      std::optional<double> best;
      int complete = 0;
      for (const st::Trial& t : trials) {
        if (t.state != st::TrialState::Complete || t.values.empty()) continue;
        ++complete;
        const bool max = s.directions[0] == st::StudyDirection::Maximize;
        if (!best || (max ? t.values[0] > *best : t.values[0] < *best)) best = t.values[0];
      }
      table.add_row({s.name, dirs, static_cast<int64_t>(trials.size()), complete, best ? json(*best) : json(nullptr)});
    }
    std::cout << table.render(format);
    return 0;
  }
  const st::Study study = require_study(*storage, vm);
  if (query == "plot") {
    if (!vm.count("kind") || !vm.count("output")) throw UsageError("plot needs --kind and --output FILE.svg");
    plot_study(study, storage->get_trials(study.study_id, {}), vm["kind"].as<std::string>(), vm["output"].as<std::string>());
    std::cerr << "query_results: wrote " << vm["output"].as<std::string>() << "\n";
    return 0;
  }
  if (query == "curves") {
    if (!vm.count("trial")) throw UsageError("curves needs --trial N");
    const int number = vm["trial"].as<int>();
    for (const st::Trial& t : storage->get_trials(study.study_id, {})) {
      if (t.number != number) continue;
      OutputTable table({"step", "value"});
      for (const auto& [step, v] : t.intermediate_values) table.add_row({step, finite_or_null(v)});
      std::cout << table.render(format);
      return 0;
    }
    throw UsageError("study '" + study.name + "' has no trial number " + std::to_string(number));
  }
  std::vector<st::Trial> trials = storage->get_trials(
      study.study_id, vm.count("state") ? parse_states(vm["state"].as<std::string>()) : std::vector<st::TrialState>{});
  const bool maximize = study.directions[0] == st::StudyDirection::Maximize;
  if (query == "trials" || query == "best") {
    const std::string key = query == "best" ? "value" : vm["sort"].as<std::string>();
    if (query == "best") trials = storage->get_trials(study.study_id, {st::TrialState::Complete});
    // NaN keys (no value, no such attribute) sort last; values sort best first.
    std::stable_sort(trials.begin(), trials.end(), [&](const st::Trial& a, const st::Trial& b) {
      const double x = sort_key(a, key), y = sort_key(b, key);
      if (std::isnan(x) || std::isnan(y)) return !std::isnan(x) && std::isnan(y);
      return key == "value" && maximize ? x > y : x < y;
    });
    const size_t top = query == "best" ? 1 : vm.count("top") ? static_cast<size_t>(std::max(0, vm["top"].as<int>())) : trials.size();
    if (trials.size() > top) trials.resize(top);
    if (query == "best" && trials.empty()) throw std::runtime_error("study '" + study.name + "' has no complete trial yet");
  } else if (query == "pareto") {
    trials = pareto_front(study, storage->get_trials(study.study_id, {st::TrialState::Complete}));
  }
  print_trials(trials, format);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return effscale::cli::run_app("query_results", [&] { return run(argc, argv); });
}
