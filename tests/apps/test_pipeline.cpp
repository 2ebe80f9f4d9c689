// The main job end to end on a tiny preset: scripts/demo runs search -> retraining with seeds -> grid -> scaled
// family -> report on an MNIST folder the test writes, is killed part-way and run again, and must finish with every study
// complete once (nothing lost, nothing repeated), a report with its charts, and a database Optuna reads.

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>
#include <set>

#include "dataset_files.h"
#include "effscale/store/sqlite_storage.h"
#include "run_command.h"
#include "temp_dir.h"

using namespace effscale::store;
using namespace effscale::testing;

namespace {

// A preset a few seconds long: a few hundred images, one epoch per run, the quick preset's proxy network with the
// evidence preset's channel divisor (2), so that grid points realise their cost.
std::string tiny_preset(const TempDir& dir, const std::string& data) {
  return dir.write("tiny.ini", "dataset = mnist\ndata-dir = " + data +
                                   "\ntrain-limit = 192\nval-fraction = 0.25\nepochs = 1\nbatch-size = 32\n"
                                   "optimizer = sgd\nlr = 0.2\nlabel-smoothing = 0\nwarmup-epochs = 0\nema-decay = 0\n"
                                   "bn-recalibrate = 2\nbn-momentum = 0.1\ncrop-min-area = 1.0\neval-crop = 1.0\nthreads = 2\n"
                                   "proxy-resolution = 28\nproxy-width = 0.25\nproxy-depth = 0.25\nproxy-divisor = 2\nin-channels = 1\n");
}

std::string demo_command(const TempDir& dir, const std::string& preset) {
  return "EFFSCALE_DEMO_SKIP_SETUP=1 EFFSCALE_BUILD_DIR=" + shell_quote(EFFSCALE_BUILD_ROOT) + " EFFSCALE_DEMO_TRIALS=3 EFFSCALE_DEMO_SEEDS=2 EFFSCALE_DEMO_GRID_SEEDS=2 EFFSCALE_DEMO_FAMILY_SEEDS=2"
         " EFFSCALE_DEMO_PHI=2" +
         " EFFSCALE_DEMO_PRESET=" + shell_quote(preset) + " EFFSCALE_DEMO_DIR=" + shell_quote(dir.file("demo")) + " " +
         shell_quote(std::string(EFFSCALE_SOURCE_ROOT) + "/scripts/demo");
}

// state -> count over a study's trials, and the set of a key's values among COMPLETE trials.
std::map<TrialState, int> states_of(SqliteStorage& storage, const std::string& study) {
  std::map<TrialState, int> counts;
  for (const Trial& t : storage.get_trials(storage.find_study(study)->study_id, {})) ++counts[t.state];
  return counts;
}

}  // namespace

TEST_CASE("the main job runs end to end, survives a kill, and writes its report", "[apps][pipeline][slow]") {
  TempDir dir;
  const std::string data = write_mnist_folder(dir.file("mnist"), 256, 64, true, true);
  const std::string preset = tiny_preset(dir, data);
  const std::string db = dir.file("demo/study.db");

  // Start it, wait until the grid has begun, kill the whole process group, then run it again.
  const std::string kill = "setsid sh -c " + shell_quote(demo_command(dir, preset) + " >" + dir.file("first.log") + " 2>&1") +
                           " & pid=$!; for i in $(seq 1200); do [ -d " + shell_quote(dir.file("demo/grid")) +
                           " ] && break; sleep 0.1; done; sleep 1; kill -9 -- -$pid; wait $pid; [ -d " +
                           shell_quote(dir.file("demo/grid")) + " ]";
  const auto killed = run_command(kill);
  INFO(read_file(dir.file("first.log")));
  REQUIRE(killed.exit_status == 0);
  const auto finished = run_command(demo_command(dir, preset));
  INFO(finished.out);
  INFO(finished.err);
  REQUIRE(finished.exit_status == 0);

  SqliteStorage storage(db);
  auto search = states_of(storage, "demo-search");
  CHECK(search[TrialState::Complete] == 6);  // three candidates, two seeds each (the demo's default)
  CHECK(search[TrialState::Running] == 0);
  auto compare = states_of(storage, "demo-compare");  // the found baseline, MobileNetV2 and B0, two seeds each
  CHECK(compare[TrialState::Complete] == 6);
  CHECK(compare[TrialState::Running] == 0);
  auto grid = states_of(storage, "demo-grid");
  CHECK(grid[TrialState::Complete] >= 2);  // as many points as the found baseline's realised costs admit, two seeds each
  CHECK(grid[TrialState::Running] + grid[TrialState::Waiting] == 0);
  std::multiset<double> phis;
  for (const Trial& t : storage.get_trials(storage.find_study("demo-scaled")->study_id, {TrialState::Complete}))
    phis.insert(t.user_attrs["phi"].get<double>());
  CHECK(phis == std::multiset<double>{0, 0, 1, 1, 2, 2});
  // The family trains with seeds after those that chose the baseline (search seeds 0-1) and the coefficients (grid
  // seeds 0-1): phi 0 and phi 1 are not measured by the runs that selected them.
  std::multiset<double> family_seeds;
  for (const Trial& t : storage.get_trials(storage.find_study("demo-scaled")->study_id, {TrialState::Complete}))
    family_seeds.insert(t.user_attrs["seed"].get<double>());
  CHECK(family_seeds == std::multiset<double>{2, 2, 2, 3, 3, 3});
  CHECK(states_of(storage, "demo-scaled")[TrialState::Running] == 0);

  // Grid runs are distinct: no point trained twice with the same seed.
  std::set<std::string> points;
  for (const Trial& t : storage.get_trials(storage.find_study("demo-grid")->study_id, {TrialState::Complete}))
    points.insert(std::to_string(t.params.at("alpha").internal) + "/" + std::to_string(t.params.at("beta").internal) +
                  "/" + std::to_string(t.params.at("gamma").internal) + "/" + std::to_string(t.system_attrs.value("seed_index", 0)));
  CHECK(int(points.size()) == grid[TrialState::Complete]);

  const std::string report = read_file(dir.file("demo/report/report.md"));
  for (const char* part : {"## 1. Baseline search", "Chosen baseline: step", "over 2 seeds", "## 2. The found baseline beside the reference",
                           "## 3. Compound-coefficient grid", "## 4. The scaled family", "paper top-1", "Machine:",
                           "Trials recorded:", "`seed`: `0`", "reward vs chosen", "search_pareto.svg", "search_history.svg",
                           "compare.svg", "grid.svg", "scaled_family.svg", "scaled_curves.svg"})
    CHECK(report.find(part) != std::string::npos);
  for (const char* svg : {"search_pareto.svg", "search_history.svg", "compare.svg", "grid.svg", "scaled_family.svg", "scaled_curves.svg"})
    CHECK(read_file(dir.file(std::string("demo/report/") + svg)).rfind("<svg", 0) == 0);

  // The same database in Optuna.
  const auto optuna = run_command("/usr/bin/python3 -c " +
                                  shell_quote("import sys, optuna; optuna.logging.set_verbosity(optuna.logging.WARNING); "
                                              "s = optuna.load_study(study_name='demo-compare', storage='sqlite:///' + sys.argv[1]); "
                                              "print(len([t for t in s.trials if t.state.name == 'COMPLETE']))") +
                                  " " + db);
  INFO(optuna.err);
  CHECK(optuna.out == "6\n");
}
