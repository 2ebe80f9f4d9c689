// report.md: sections per study, tables in Markdown, charts as SVG files beside it.

#include "effscale/report/study_report.h"

#include "effscale/store/best_trial.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <map>
#include <stdexcept>

#include "effscale/base/atomic_file.h"
#include "effscale/report/machine_info.h"
#include "effscale/report/study_analysis.h"
#include "effscale/report/study_charts.h"
#include "effscale/report/trial_groups.h"

namespace effscale::report {
namespace st = effscale::store;
using nlohmann::json;

namespace {

// The paper's Table 1 (docs/specs.md): params, FLOPs (multiply-adds) and ImageNet top-1 of B0-B7.
struct PaperRow {
  const char* model;
  const char* params;
  const char* flops;
  const char* top1;
};
const PaperRow kPaperTable[] = {{"B0", "5.3M", "0.39B", "77.1%"}, {"B1", "7.8M", "0.70B", "79.1%"},
                                {"B2", "9.2M", "1.0B", "80.1%"},  {"B3", "12M", "1.8B", "81.6%"},
                                {"B4", "19M", "4.2B", "82.9%"},   {"B5", "30M", "9.9B", "83.6%"},
                                {"B6", "43M", "19B", "84.0%"},    {"B7", "66M", "37B", "84.3%"}};

std::string md_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  auto line = [](const std::vector<std::string>& cells) {
    std::string out = "|";
    for (const std::string& c : cells) out += " " + c + " |";
    return out + "\n";
  };
  std::string out = line(header) + "|";
  for (size_t i = 0; i < header.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string number(const json& value, const char* format = "{:.4f}") {
  if (!value.is_number()) return "–";
  return fmt::format(fmt::runtime(format), value.get<double>());
}

// A count with a unit: 5.3M, 0.39B, 120K.
std::string millions(double v) {
  if (!std::isfinite(v)) return "–";
  if (v >= 1e9) return fmt::format("{:.2f}B", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.1f}M", v / 1e6);
  return fmt::format("{:.0f}K", v / 1e3);
}

json attr(const st::Trial& t, const char* key) { return t.user_attrs.contains(key) ? t.user_attrs[key] : json(nullptr); }

// `groups` ranked by their mean value, highest first (ties keep their order).
std::vector<TrialGroup> by_mean_descending(std::vector<TrialGroup> groups) {
  std::stable_sort(groups.begin(), groups.end(), [](const TrialGroup& a, const TrialGroup& b) { return a.value.mean > b.value.mean; });
  return groups;
}

std::string duration_text(double seconds) {
  const int s = int(std::lround(seconds));
  return s >= 60 ? fmt::format("{}m{:02d}s", s / 60, s % 60) : fmt::format("{}s", s);
}

// One study with its trials, loaded once.
struct Loaded {
  st::Study study;
  std::vector<st::Trial> trials;
  json attrs;  // user and system attributes merged
};

std::optional<Loaded> load(st::Storage& storage, const std::string& name) {
  if (name.empty()) return std::nullopt;
  const auto study = storage.find_study(name);
  if (!study) throw std::invalid_argument("no study named '" + name + "' (list them with `query_results studies`)");
  json attrs = storage.study_attrs(study->study_id, false);
  const json system = storage.study_attrs(study->study_id, true);  // a named copy: items() does not own it
  for (const auto& [k, v] : system.items()) attrs[k] = v;
  return Loaded{*study, storage.get_trials(study->study_id, {}), attrs};
}

// Writes one chart and returns the Markdown that shows it (or says why there is none).
std::string chart(const Loaded& s, const std::string& kind, const std::string& file, const std::string& dir,
                  std::optional<int64_t> marked = std::nullopt, const std::string& label = "chosen") {
  try {
    effscale::base::write_file_atomically((std::filesystem::path(dir) / file).string(),
                                  study_chart_svg(s.study, s.trials, kind, marked, label));
    return "![" + kind + " chart of " + s.study.name + "](" + file + ")\n\n";
  } catch (const std::invalid_argument& e) {
    return "_No " + kind + " chart: " + std::string(e.what()) + "._\n\n";
  }
}

std::string state_counts(const std::vector<st::Trial>& trials) {
  std::map<std::string, int> counts;
  for (const st::Trial& t : trials) ++counts[st::state_name(t.state)];
  std::string out;
  for (const auto& [state, n] : counts) out += (out.empty() ? "" : ", ") + fmt::format("{} {}", n, state);
  return out.empty() ? "no trials" : out;
}

// Wall time from the trials: first start to last completion, and the sum of trial durations.
std::string study_time(const std::vector<st::Trial>& trials) {
  double first = INFINITY, last = -INFINITY, total = 0;
  for (const st::Trial& t : trials) {
    if (const auto a = parse_optuna_time(t.datetime_start)) first = std::min(first, *a);
    if (const auto b = parse_optuna_time(t.datetime_complete)) last = std::max(last, *b);
    if (const auto d = trial_seconds(t)) total += *d;
  }
  if (!std::isfinite(first) || !std::isfinite(last)) return "no finished trials";
  return fmt::format("{} from the first start to the last completion ({} summed over trials)", duration_text(last - first),
                     duration_text(total));
}

// One bullet per setting, values as compact JSON; nested settings objects get one bullet per field.
std::string settings_bullets(const json& attrs) {
  std::string out;
  int markers = 0;
  for (const auto& [key, value] : attrs.items()) {
    if (key == "controller_state") continue;  // the controller's policy weights: large, and not a setting
    if (key.rfind("search_step_", 0) == 0) {   // nas_search's per-step enqueue markers
      ++markers;
      continue;
    }
    if (!value.is_object()) {
      out += "- `" + key + "`: `" + value.dump() + "`\n";
      continue;
    }
    out += "- `" + key + "`:\n";
    for (const auto& [field, v] : value.items()) {
      if (field == "counts" && v.is_array()) {
        out += fmt::format("  - `decisions`: {} (choices per decision: `{}`)\n", v.size(), v.dump());
      } else if (v.is_object() && v.contains("stages")) {  // a spec: its name and stages say what it is
        out += "  - `" + field + "`: `" + v.value("name", std::string("spec")) + "` with stages `" + v["stages"].dump() + "`\n";
      } else {
        out += "  - `" + field + "`: `" + v.dump() + "`\n";
      }
    }
  }
  if (markers > 0) out += fmt::format("- {} candidates enqueued (`search_step_*` markers)\n", markers);
  return out.empty() ? "- (none recorded on the study)\n" : out;
}

std::string settings_block(const Loaded& s) {
  std::string proxy;
  for (const st::Trial& t : s.trials) {
    if (t.user_attrs.contains("dataset")) {
      proxy = fmt::format("- proxy of the first trial: dataset {}, resolution {}, seed {}\n", attr(t, "dataset").dump(),
                          attr(t, "resolution").dump(), attr(t, "seed").dump());
      break;
    }
  }
  return fmt::format("Study `{}`: {}; {}.\n\n{}{}\n", s.study.name, state_counts(s.trials), study_time(s.trials),
                     settings_bullets(s.attrs), proxy);
}

// The pooled seed-to-seed standard deviation of the groups with two seeds or more; NaN when none has.
double pooled_sd(const std::vector<TrialGroup>& groups) {
  double sum = 0;
  int df = 0;
  for (const TrialGroup& g : groups)
    if (g.value.n >= 2) {
      sum += g.value.sd * g.value.sd * (g.value.n - 1);
      df += g.value.n - 1;
    }
  return df > 0 ? std::sqrt(sum / df) : NAN;
}

// The seeds each candidate of a search was trained with (the search setting `seeds`; 1 for searches before it).
int search_seeds(const Loaded& s) {
  const json settings = s.attrs.value("search_settings", json::object());
  return settings.is_object() ? settings.value("seeds", 1) : 1;
}

// The rest of the search section when every candidate trained with `seeds` seeds: the candidate of the best mean
// reward (what nas_search exports), the charts, and the top ten with intervals, each against the chosen one by
// Welch's test on the seeds' rewards.
std::string seeded_search_text(const Loaded& s, const std::string& dir, int seeds) {
  std::vector<TrialGroup> candidates =
      group_trials(s.trials, [](const st::Trial& t) { return group_key(t, "controller_step"); });
  candidates.erase(std::remove_if(candidates.begin(), candidates.end(), [seeds](const TrialGroup& g) { return g.value.n != seeds; }),
                   candidates.end());
  if (candidates.empty()) return "No candidate has finished all its seeds yet.\n\n";
  candidates = by_mean_descending(candidates);
  auto accuracy = [](const TrialGroup& g) {
    std::vector<double> values;
    for (const st::Trial& t : g.trials) values.push_back(user_number(t, "val_top1"));
    return st::summarize(values);
  };
  const TrialGroup& chosen = candidates.front();
  const st::Trial& first = chosen.trials[0];
  std::string numbers;
  for (const st::Trial& t : chosen.trials) numbers += (numbers.empty() ? "" : ", ") + std::to_string(t.number);
  std::string out = fmt::format("Chosen baseline: step {} (trials {}), mean reward {:.4f} over {} seeds, validation "
                                "top-1 {}, {} multiply-adds at the target setting.\n\nStages: `{}`\n\n",
                                chosen.key, numbers, chosen.value.mean, seeds, interval_text(accuracy(chosen)),
                                millions(trial_macs(first)), attr(first, "searched_stages").dump());
  out += chart(s, "pareto", "search_pareto.svg", dir, first.number, "chosen baseline (its first seed)");
  out += chart(s, "history", "search_history.svg", dir);
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < candidates.size() && i < 10; ++i) {
    const TrialGroup& g = candidates[i];
    rows.push_back({g.key, interval_text(g.value), interval_text(accuracy(g)), millions(trial_macs(g.trials[0])),
                    millions(user_number(g.trials[0], "params")), i == 0 ? "chosen" : separation_text(g, chosen)});
  }
  return out + fmt::format("Top candidates (each trained with {} seeds on the same proxy data, common to every candidate; "
                           "mean and 95% interval; params are of the proxy-sized model trained):\n\n", seeds) +
         md_table({"step", "reward", "val top-1", "target MACs", "proxy params", "reward vs chosen"}, rows) + "\n";
}

// `noise_sd`: the seed-to-seed sd of one run on this proxy (from the retrained models), or NaN when unknown.
std::string search_section(const Loaded& s, const std::string& dir, double noise_sd) {
  std::string out = "## 1. Baseline search\n\n" + settings_block(s);
  if (const int seeds = search_seeds(s); seeds > 1) return out + seeded_search_text(s, dir, seeds);
  const auto best = st::best_trial(s.study, s.trials);
  if (!best) return out + "No candidate has finished yet.\n\n";
  out += fmt::format("Chosen baseline: trial {}, reward {:.4f}, validation top-1 {}, {} multiply-adds at the target "
                     "setting.\n\nStages: `{}`\n\n",
                     best->number, best->values[0], number(attr(*best, "val_top1")), millions(trial_macs(*best)),
                     attr(*best, "searched_stages").dump());
  out += chart(s, "pareto", "search_pareto.svg", dir, best->number, "chosen baseline");
  out += chart(s, "history", "search_history.svg", dir);
  std::vector<st::Trial> top = complete_trials(s.trials);
  std::sort(top.begin(), top.end(), [](const st::Trial& a, const st::Trial& b) { return a.values[0] > b.values[0]; });
  if (top.size() > 10) top.resize(10);
  // Two single runs differ by more than 1.96 * sqrt(2) * sd with 5% chance when their networks are equally good.
  const double margin = 1.96 * std::sqrt(2.0) * noise_sd;
  const double chosen_val = user_number(*best, "val_top1");
  std::vector<std::vector<std::string>> rows;
  for (const st::Trial& t : top) {
    const double val = user_number(t, "val_top1");
    std::string versus = t.number == best->number ? "chosen" : "–";
    if (t.number != best->number && std::isfinite(margin) && std::isfinite(val))
      versus = std::abs(val - chosen_val) <= margin ? "inside the noise" : (val > chosen_val ? "more accurate" : "less accurate");
    rows.push_back({std::to_string(t.number), fmt::format("{:.4f}", t.values[0]), number(attr(t, "val_top1")),
                    millions(trial_macs(t)), millions(user_number(t, "params")),
                    versus});
  }
  out += "Top candidates (each trained once on the proxy; params are of the proxy-sized model trained):\n\n" +
         md_table({"trial", "reward", "val top-1", "target MACs", "proxy params", "val top-1 vs chosen"}, rows) + "\n";
  if (std::isfinite(margin))
    return out + fmt::format("One run's seed-to-seed sd on this proxy is {:.4f} (pooled over the retrained models of "
                             "section 2), so single runs within {:.4f} of each other (1.96 x sqrt(2) x sd) are inside "
                             "the noise.\n\n", noise_sd, margin);
  return out + "Each candidate ran once: the seed-to-seed noise of this proxy is not measured in this report "
               "(experiments/proxy_noise/run measures it), so small differences between candidates are not established.\n\n";
}

// The found baseline retrained beside other networks with several seeds on the same proxy.
std::string compare_section(const Loaded& s, const std::string& dir, const std::vector<TrialGroup>& models) {
  std::string out = "## 2. The found baseline beside the reference and B0\n\n" + settings_block(s);
  if (models.empty()) return out + "No retraining run has finished yet.\n\n";
  const std::vector<TrialGroup> ranked = by_mean_descending(models);
  std::vector<std::vector<std::string>> rows;
  for (const TrialGroup& g : ranked) {
    const st::Trial& t = g.trials[0];
    rows.push_back({g.key, millions(g.macs), millions(user_number(t, "macs")),
                    millions(user_number(t, "params")),
                    std::to_string(g.value.n), interval_text(g.value), interval_text(g.test_top1)});
  }
  out += "Each network trained on the proxy with every seed (the same data split; val and test top-1 as mean and 95% "
         "interval over the seeds):\n\n" +
         md_table({"model", "nominal MACs", "proxy MACs", "proxy params", "seeds", "val top-1", "test top-1"}, rows) + "\n";
  for (size_t i = 0; i < ranked.size(); ++i)
    for (size_t j = i + 1; j < ranked.size(); ++j)
      out += fmt::format("- {} leads {} by {:.4f} in mean val top-1: {}.\n", ranked[i].key, ranked[j].key,
                         ranked[i].value.mean - ranked[j].value.mean, separation_text(ranked[i], ranked[j]));
  out += "\n(\"separated\": Welch's t test tells the seeds apart at 5%; \"inside the noise\": it does not.)\n\n";
  return out + chart(s, "models", "compare.svg", dir);
}

std::string grid_section(const Loaded& s, const std::string& dir) {
  std::string out = "## 3. Compound-coefficient grid\n\n" + settings_block(s);
  const std::vector<TrialGroup> points =
      by_mean_descending(grid_point_groups(s.trials));
  if (points.empty()) return out + "No grid point has finished yet.\n\n";
  std::vector<std::vector<std::string>> rows;
  for (const TrialGroup& g : points) {
    const st::Trial& t = g.trials[0];
    auto p = [&](const char* name) { return t.params.count(name) ? t.params.at(name).internal : NAN; };
    const double product = p("alpha") * p("beta") * p("beta") * p("gamma") * p("gamma");
    rows.push_back({g.key, fmt::format("{:.2f}", p("alpha")), fmt::format("{:.2f}", p("beta")), fmt::format("{:.2f}", p("gamma")),
                    fmt::format("{:.3f}", product), number(attr(t, "macs_ratio"), "{:.2f}"), millions(g.macs),
                    std::to_string(g.value.n), interval_text(g.value),
                    &g == &points[0] ? "best" : separation_text(points[0], g)});
  }
  out += "Each point's phi = 1 network as trained on the proxy (MACs ratio: its multiply-adds over the trained "
         "baseline's, after rounding; target MACs: at full size), val top-1 as mean and 95% interval over its seeds, "
         "and whether it is told apart from the best (Welch's t test, 5%):\n\n" +
         md_table({"point", "alpha", "beta", "gamma", "alpha·beta²·gamma²", "MACs ratio", "target MACs", "seeds",
                   "val top-1", "vs best"}, rows) + "\n";
  if (s.attrs.contains("best_coefficients")) {
    const nlohmann::json& best = s.attrs["best_coefficients"];
    out += "Best coefficients: `" + best.dump() + "`\n\n";
    if (best.value("seeds", 1) < 2)
      out += "One seed per point: the seed-to-seed spread is unknown, so the ranking is not established (`--seeds N` "
             "trains each point N times and tests the lead).\n\n";
    else if (best.contains("runner_up"))
      out += std::string("Over ") + std::to_string(best.value("seeds", 1)) + " seeds, the best point's lead over " +
             best["runner_up"].get<std::string>() +
             (best.value("distinguishable", false) ? " is larger than the seed-to-seed noise (Welch's t test, 5%).\n\n"
                                                   : " is inside the seed-to-seed noise (Welch's t test, 5%).\n\n");
  }
  return out + chart(s, "grid", "grid.svg", dir);
}

std::string scaled_section(const Loaded& s, const std::string& dir) {
  std::string out = "## 4. The scaled family\n\n" + settings_block(s);
  const std::vector<TrialGroup> models = family_groups(s.trials);
  auto phi = [](const TrialGroup& g) { return user_number(g.trials[0], "phi"); };
  if (models.empty()) return out + "No scaled model has finished training yet.\n\n";
  std::vector<std::vector<std::string>> rows, paper_rows;
  std::string steps;
  bool rising = models.size() >= 2;
  for (size_t i = 0; i < models.size(); ++i) {
    const TrialGroup& g = models[i];
    const st::Trial& t = g.trials[0];
    if (i > 0) {
      rising = rising && g.value.mean >= models[i - 1].value.mean;
      steps += fmt::format("- phi {:g} -> {:g}: {:+.4f} in mean val top-1, {}.\n", phi(models[i - 1]), phi(g),
                           g.value.mean - models[i - 1].value.mean, separation_text(g, models[i - 1]));
    }
    rows.push_back({g.key, fmt::format("{:g}", phi(g)), millions(user_number(t, "params")),
                    millions(g.macs), number(attr(t, "macs_ratio"), "{:.2f}"), fmt::format("{:g}", std::pow(2.0, phi(g))),
                    std::to_string(g.value.n), interval_text(g.value), interval_text(g.test_top1)});
    if (std::isfinite(phi(g)) && phi(g) >= 0 && phi(g) <= 7 && phi(g) == std::floor(phi(g))) {
      const PaperRow& paper = kPaperTable[size_t(phi(g))];
      paper_rows.push_back({fmt::format("{:g}", phi(g)), paper.model, paper.params, paper.flops, paper.top1});
    }
  }
  out += "Proxy models (scaled from the proxy-sized baseline and trained on the proxy task; accuracies as mean and 95% "
         "interval over their seeds):\n\n";
  out += md_table({"proxy model", "phi", "params", "MACs", "MACs ratio", "2^phi", "seeds", "val top-1", "test top-1"}, rows) + "\n";
  if (!paper_rows.empty())
    out += "For orientation only, the paper's Table 1 at the same phi (EfficientNets trained fully on ImageNet at 224-600 px; "
           "not comparable with the proxy's numbers):\n\n" +
           md_table({"phi", "paper", "paper params", "paper FLOPs", "paper top-1"}, paper_rows) + "\n";
  out += rising ? "Mean accuracy rises with phi on this proxy, as in the paper's Table 1"
                : "Unlike the paper's Table 1, mean accuracy does not rise monotonically with phi on this proxy";
  out += ". Step by step (\"separated\": Welch's t test tells the seeds apart at 5%):\n\n" + steps + "\n";
  out += chart(s, "family", "scaled_family.svg", dir);
  return out + "### Learning curves\n\n" + chart(s, "curves", "scaled_curves.svg", dir);
}

std::string utc_now() {
  const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  return text;
}

}  // namespace

void write_study_report(st::Storage& storage, const ReportOptions& options) {
  const auto search = load(storage, options.search_study);
  const auto compare = load(storage, options.compare_study);
  const auto grid = load(storage, options.grid_study);
  const auto scaled = load(storage, options.scaled_study);
  if (!search && !compare && !grid && !scaled)
    throw std::invalid_argument("report needs at least one of --search-study, --compare-study, --grid-study, --scaled-study");
  std::filesystem::create_directories(options.output_dir);
  std::string md = "# " + options.title + "\n\n";
  md += "- Generated: " + utc_now() + "\n- Machine: " + describe_machine() + "\n";
  std::vector<st::Trial> all;
  for (const auto* s : {&search, &compare, &grid, &scaled})
    if (*s) all.insert(all.end(), (*s)->trials.begin(), (*s)->trials.end());
  md += "- Trials recorded: " + study_time(all) + "\n";
  if (options.wall_seconds) md += "- Wall time of the invocation that wrote this report: " + duration_text(*options.wall_seconds) + "\n";
  if (!options.command.empty()) md += "- Command: `" + options.command + "`\n";
  md += "\n";
  std::vector<TrialGroup> retrained;
  if (compare) retrained = model_groups(compare->trials);
  if (search) md += search_section(*search, options.output_dir, pooled_sd(retrained));
  if (compare) md += compare_section(*compare, options.output_dir, retrained);
  if (grid) md += grid_section(*grid, options.output_dir);
  if (scaled) md += scaled_section(*scaled, options.output_dir);
  effscale::base::write_file_atomically((std::filesystem::path(options.output_dir) / "report.md").string(), md);
}

}  // namespace effscale::report
