// The report library on real SQLite studies: round chart ticks, seed groups with Student-t intervals, and a
// report that gives every seeded accuracy with its interval and says which differences are inside the noise.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <sstream>

#include "effscale/report/study_report.h"
#include "effscale/report/svg_plot.h"
#include "effscale/report/trial_groups.h"
#include "effscale/store/sqlite_storage.h"
#include "temp_dir.h"

using namespace effscale::report;
using namespace effscale::store;
using nlohmann::json;

namespace {

// A COMPLETE trial with `value`, user attributes `attrs` and system attributes `system`.
void add_trial(Storage& storage, int64_t study, double value, const json& attrs, const json& system = json::object(),
               const std::map<std::string, ParamValue>& params = {}) {
  const TrialRef t = storage.create_trial_with(study, params, system);
  storage.set_trial_attrs(t.trial_id, attrs, false);
  storage.finish_trial(t.trial_id, TrialState::Complete, {value});
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Retrained networks: A (0.80, 0.81, 0.82), C (0.805, 0.79, 0.83) close to A, B (0.70, 0.71, 0.72) well below.
void write_compare_study(Storage& storage) {
  const int64_t study = storage.create_or_load_study("compare", {StudyDirection::Maximize}).study_id;
  const std::map<std::string, std::vector<double>> runs = {{"A", {0.80, 0.81, 0.82}}, {"B", {0.70, 0.71, 0.72}},
                                                           {"C", {0.805, 0.79, 0.83}}};
  for (int seed = 0; seed < 3; ++seed)
    for (const auto& [model, values] : runs)
      add_trial(storage, study, values[size_t(seed)],
                {{"model", model}, {"val_top1", values[size_t(seed)]}, {"test_top1", values[size_t(seed)] - 0.01},
                 {"target_macs", model == "B" ? 3e8 : 2e8}, {"macs", 1e6}, {"seed", seed + 1}});
}

}  // namespace

TEST_CASE("chart ticks are round: 100M, 200M, 300M on a MACs axis and steps of 1, 2 or 5 on a linear one", "[report]") {
  CHECK(tick_values(0.7, 0.85, false) == std::vector<double>{0.7, 0.75, 0.8, 0.85});
  CHECK(tick_values(2.5e8, 3.2e8, true) == std::vector<double>{2.6e8, 2.8e8, 3e8, 3.2e8});  // under 2.5x: linear
  CHECK(tick_values(1e8, 4e8, true) == std::vector<double>{1e8, 2e8, 3e8});
  CHECK(tick_values(5e7, 2e9, true) == std::vector<double>{1e8, 3e8, 1e9});
  CHECK(tick_values(1e3, 1e8, true) == std::vector<double>{1e3, 1e4, 1e5, 1e6, 1e7, 1e8});
  CHECK(tick_values(1.0, 1.0 + 1e-9, false).size() >= 2);  // never empty, even where nothing round fits
  const std::vector<double> from_below_zero = tick_values(-1.5, 31.5, false);  // an axis padded below 0
  REQUIRE(from_below_zero.size() == 7);
  CHECK(from_below_zero.front() == 0.0);
  CHECK_FALSE(std::signbit(from_below_zero.front()));  // a tick printed "0", not "-0"
  CHECK(tick_text(3e8) == "300M");
  CHECK(tick_text(1e9) == "1G");

  SvgPlot plot("t", "multiply-adds", "top-1", true);
  plot.add({"models", {1.024e8, 3.87e8}, {0.8, 0.85}});
  const std::string svg = plot.render();
  for (const char* tick : {">100M<", ">200M<", ">300M<"}) CHECK(svg.find(tick) != std::string::npos);
  CHECK(svg.find("e+08") == std::string::npos);
}

TEST_CASE("trial groups summarise seeds with Student-t intervals and tell separated groups from noise", "[report]") {
  effscale::testing::TempDir dir;
  SqliteStorage storage(dir.file("s.db"));
  write_compare_study(storage);
  const int64_t study = storage.find_study("compare")->study_id;
  const std::vector<TrialGroup> groups =
      group_trials(storage.get_trials(study, {}), [](const Trial& t) { return trial_text(t, "model"); });
  REQUIRE(groups.size() == 3);
  CHECK(groups[0].key == "A");  // in order of first appearance
  CHECK(groups[0].value.n == 3);
  CHECK(groups[0].value.mean == Approx(0.81));
  // t(0.975, 2) = 4.303: 0.81 +- 4.303 * 0.01 / sqrt(3)
  CHECK(interval_text(groups[0].value) == "0.8100 [0.7852, 0.8348]");
  CHECK(interval_text(groups[0].test_top1) == "0.8000 [0.7752, 0.8248]");
  CHECK(groups[0].macs == 2e8);
  CHECK(separation_text(groups[0], groups[1]) == "separated");
  CHECK(separation_text(groups[0], groups[2]) == "inside the noise");
  const TrialGroup single{"one", {}, {0.8}, summarize({0.8}), {}, 0};
  CHECK(separation_text(groups[0], single) == "one seed: unknown");
  CHECK(interval_text(single.value) == "0.8000");
  CHECK(interval_text(SampleSummary{}) == "–");
  Trial unlabelled;  // recorded without the attribute: its own group
  unlabelled.number = 7;
  CHECK(group_key(unlabelled, "model") == "trial 7");
  CHECK(group_key(groups[1].trials[0], "model") == "B");
}

TEST_CASE("the report gives seeded accuracies with intervals, marks what is inside the noise and labels proxies",
          "[report]") {
  effscale::testing::TempDir dir;
  SqliteStorage storage(dir.file("s.db"));
  write_compare_study(storage);
  // A search: the chosen candidate (val 0.80), one 0.01 below it (inside the noise the compare study measures), one
  // 0.10 below.
  const int64_t search = storage.create_or_load_study("search", {StudyDirection::Maximize}).study_id;
  add_trial(storage, search, 0.90, {{"val_top1", 0.80}, {"target_macs", 2e8}, {"searched_stages", "s"}});
  add_trial(storage, search, 0.88, {{"val_top1", 0.79}, {"target_macs", 2e8}});
  add_trial(storage, search, 0.80, {{"val_top1", 0.70}, {"target_macs", 2e8}});
  // A grid of two points with two seeds each, and a family phi 0..1 with two seeds each.
  const int64_t grid = storage.create_or_load_study("grid", {StudyDirection::Maximize}).study_id;
  auto param = [](double v) { return ParamValue{v, Distribution::float_range(1.0, 1.4, 0.1)}; };
  for (int seed = 0; seed < 2; ++seed) {
    add_trial(storage, grid, 0.85 + 0.01 * seed, {{"macs_ratio", 2.05}, {"target_macs", 8e8}}, {{"grid_id", "p1"}},
              {{"alpha", param(1.2)}, {"beta", param(1.1)}, {"gamma", param(1.1)}});
    add_trial(storage, grid, 0.80 + 0.01 * seed, {{"macs_ratio", 1.95}, {"target_macs", 8e8}}, {{"grid_id", "p2"}},
              {{"alpha", param(1.4)}, {"beta", param(1.0)}, {"gamma", param(1.2)}});
  }
  const int64_t scaled = storage.create_or_load_study("scaled", {StudyDirection::Maximize}).study_id;
  for (int seed = 0; seed < 2; ++seed)
    for (int phi = 0; phi < 2; ++phi)
      add_trial(storage, scaled, 0.80 + 0.02 * phi + 0.004 * seed,
                {{"model", "searched-proxy-phi" + std::to_string(phi)}, {"phi", phi}, {"macs", 1e6 * (1 << phi)},
                 {"macs_ratio", double(1 << phi)}, {"test_top1", 0.79}});

  ReportOptions options;
  options.search_study = "search";
  options.compare_study = "compare";
  options.grid_study = "grid";
  options.scaled_study = "scaled";
  options.output_dir = dir.file("report");
  write_study_report(storage, options);
  const std::string md = read_text(dir.file("report/report.md"));
  INFO(md);
  for (const char* part : {"## 1. Baseline search", "## 2. The found baseline beside the reference and B0",
                           "## 3. Compound-coefficient grid", "## 4. The scaled family",
                           "| A | 200.0M | 1.0M |", "0.8100 [0.7852, 0.8348]",
                           "- A leads C by 0.0017 in mean val top-1: inside the noise.",
                           "- A leads B by 0.1000 in mean val top-1: separated.",
                           "| 1 | 0.8800 | 0.7900 | 200.0M |", "inside the noise |", "| 2 | 0.8000 | 0.7000 | 200.0M |",
                           "less accurate |", "single runs within 0.0395 of each other",
                           "| p1 | 1.20 | 1.10 | 1.10 |", "| 2 | 0.8550 [0.7915, 0.9185] | best |",
                           "| 2 | 0.8050 [0.7415, 0.8685] | separated |" , "searched-proxy-phi1",
                           "- phi 0 -> 1: +0.0200 in mean val top-1, separated.", "not comparable with the proxy's numbers",
                           "compare.svg", "grid.svg", "scaled_family.svg"})
    CHECK(md.find(part) != std::string::npos);
  CHECK(read_text(dir.file("report/compare.svg")).find("<svg") == 0);
}

TEST_CASE("a search of several seeds is reported by candidate: the best mean reward is chosen, with intervals", "[report]") {
  effscale::testing::TempDir dir;
  SqliteStorage storage(dir.file("s.db"));
  const int64_t search = storage.create_or_load_study("search", {StudyDirection::Maximize}).study_id;
  storage.set_study_attr(search, "search_settings", json{{"controller", "ppo"}, {"seeds", 2}}, true);
  // Step 0 has the best single run (0.90) but a mean of 0.80; step 1 the best mean (0.845); step 2 one seed only.
  const std::map<int, std::vector<double>> rewards = {{0, {0.90, 0.70}}, {1, {0.85, 0.84}}, {2, {0.95}}};
  for (const auto& [step, values] : rewards)
    for (size_t seed = 0; seed < values.size(); ++seed)
      add_trial(storage, search, values[seed],
                {{"val_top1", values[seed] - 0.1}, {"target_macs", 2e8}, {"searched_stages", "s" + std::to_string(step)},
                 {"seed_index", seed}},
                {{"controller_step", step}, {"seed_index", seed}});
  ReportOptions options;
  options.search_study = "search";
  options.output_dir = dir.file("report");
  write_study_report(storage, options);
  const std::string md = read_text(dir.file("report/report.md"));
  INFO(md);
  for (const char* part : {"Chosen baseline: step 1 (trials 2, 3), mean reward 0.8450 over 2 seeds",
                           "validation top-1 0.7450 [", "Stages: `\"s1\"`", "each trained with 2 seeds",
                           "| 1 | 0.8450 [", "| chosen |", "| 0 | 0.8000 [", "inside the noise |"})
    CHECK(md.find(part) != std::string::npos);
  CHECK(md.find("| 2 | 0.9500") == std::string::npos);  // a candidate with a seed missing is not ranked
}
