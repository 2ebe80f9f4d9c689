// nas_search run as users run it: a tiny search on a tiny dataset, killed and resumed to exactly the
// requested number of trials, its export read by model_info, and its decisions read by python3-optuna.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "dataset_files.h"
#include "effscale/store/sqlite_storage.h"
#include "effscale/store/study_owner.h"
#include "run_command.h"
#include "temp_dir.h"

using namespace effscale::store;
using namespace effscale::testing;
using nlohmann::json;

namespace {

std::string search_command(const TempDir& dir, const std::string& data, int trials, const std::string& db = "search.db",
                           const std::string& runs = "runs") {
  return std::string(EFFSCALE_NAS_SEARCH) + " --controller evolution --trials " + std::to_string(trials) +
         " --study s --storage " + shell_quote("sqlite:///" + dir.file(db)) + " --dataset mnist --data-dir " +
         shell_quote(data) + " --proxy-resolution 12 --proxy-width 0.25 --proxy-depth 0.25 --in-channels 1 --epochs 1" +
         " --batch-size 16 --threads 1 --bn-momentum 0.1 --seed 3 --batch 2 --stale-after 6 --out-dir " +
         shell_quote(dir.file(runs)) + " --format json";
}

// The controller's stored step and state, and the stages trained at each step (COMPLETE trials).
struct SearchOutcome {
  json step, state;
  std::map<int64_t, json> stages;
  int complete = 0;
};

SearchOutcome outcome_of(const std::string& db) {
  SqliteStorage storage(db);
  const int64_t study = storage.find_study("s")->study_id;
  SearchOutcome out;
  const json attrs = storage.study_attrs(study, true);
  out.step = attrs.value("controller_step", json(nullptr));
  out.state = attrs.value("controller_state", json(nullptr));
  for (const Trial& t : storage.get_trials(study, {TrialState::Complete})) {
    ++out.complete;
    const int64_t step = t.system_attrs["controller_step"].get<int64_t>();
    CHECK(out.stages.count(step) == 0);  // one COMPLETE trial per step: nothing trained twice
    out.stages[step] = t.user_attrs["searched_stages"];
  }
  return out;
}

}  // namespace

TEST_CASE("nas_search completes exactly N trials across a kill and exports a usable baseline", "[apps][nas_search]") {
  TempDir dir;
  const std::string data = write_mnist_folder(dir.file("mnist"), 96, 32, false, true);
  // Kill the search once its second candidate has a checkpoint, then run it again to the end.
  const std::string ckpt = shell_quote(dir.file("runs/1/checkpoint.pt"));
  const std::string kill = search_command(dir, data, 4) + " >/dev/null 2>&1 & pid=$!; for i in $(seq 600); do [ -f " + ckpt +
                           " ] && break; sleep 0.05; done; kill -9 $pid; wait $pid; [ -f " + ckpt + " ]";
  REQUIRE(run_command(kill).exit_status == 0);
  const auto resumed = run_command(search_command(dir, data, 4));
  INFO(resumed.err);
  REQUIRE(resumed.exit_status == 0);
  CHECK(json::parse(resumed.out).size() == 4);

  SqliteStorage storage(dir.file("search.db"));
  const auto trials = storage.get_trials(storage.find_study("s")->study_id, {});
  for (const Trial& t : trials) {
    CHECK(t.params.at("b0_op").distribution.kind == Distribution::Kind::Categorical);
    // the killed candidate's trial is FAIL and re-queued with its step; nothing else is left unfinished
    CHECK((t.state == TrialState::Complete || t.state == TrialState::Fail));
  }
  const SearchOutcome resumed_outcome = outcome_of(dir.file("search.db"));
  CHECK(resumed_outcome.complete == 4);
  // Running it again does nothing more.
  const size_t recorded = trials.size();
  REQUIRE(run_command(search_command(dir, data, 4)).exit_status == 0);
  CHECK(storage.get_trials(storage.find_study("s")->study_id, {}).size() == recorded);

  // An uninterrupted run of the same search proposes the same candidates and reaches the same controller state.
  REQUIRE(run_command(search_command(dir, data, 4, "straight.db", "straight")).exit_status == 0);
  const SearchOutcome straight = outcome_of(dir.file("straight.db"));
  CHECK(straight.stages == resumed_outcome.stages);
  CHECK(straight.step == resumed_outcome.step);
  CHECK(straight.step == 2);  // the first round of 2 was told; the second finished the budget
  CHECK(straight.state == resumed_outcome.state);

  const auto info = run_command(std::string(EFFSCALE_MODEL_INFO) + " --model " + shell_quote(dir.file("runs/best.json")) + " --format json");
  REQUIRE(info.exit_status == 0);
  CHECK(json::parse(info.out)["model"] == "searched");

  const auto optuna = run_command("/usr/bin/python3 -c " + shell_quote(
      "import sys, optuna\noptuna.logging.set_verbosity(optuna.logging.ERROR)\n"
      "s = optuna.load_study(study_name='s', storage='sqlite:///' + sys.argv[1])\n"
      "t = s.best_trial\nprint(type(t.distributions['b3_kernel']).__name__, t.params['b0_op'] in ('dsconv', 'mbconv3', 'mbconv6', 'conv'), len(t.params))") +
      " " + shell_quote(dir.file("search.db")));
  INFO(optuna.err);
  REQUIRE(optuna.exit_status == 0);
  CHECK(optuna.out == "CategoricalDistribution True 42\n");
}

TEST_CASE("nas_search processes and workers share one search without duplicating work", "[apps][nas_search]") {
  TempDir dir;
  const std::string data = write_mnist_folder(dir.file("mnist"), 96, 32, false, true);
  // Two processes on one study against one process alone: the same rounds, architectures and controller state.
  const std::string one = search_command(dir, data, 6, "shared.db", "shared");
  const auto both = run_command("(" + one + " >/dev/null 2>" + shell_quote(dir.file("a.log")) + " & " + one +
                                " >/dev/null 2>" + shell_quote(dir.file("b.log")) + " & wait)");
  INFO(read_file(dir.file("a.log")) + read_file(dir.file("b.log")));
  REQUIRE(both.exit_status == 0);
  REQUIRE(run_command(search_command(dir, data, 6, "alone.db", "alone")).exit_status == 0);
  const SearchOutcome shared = outcome_of(dir.file("shared.db")), alone = outcome_of(dir.file("alone.db"));
  CHECK(shared.complete == 6);
  CHECK(shared.stages == alone.stages);
  CHECK(shared.step == alone.step);
  CHECK(shared.state == alone.state);
  // Between them the two processes trained each candidate once (which of them trains how many depends on the
  // scheduler: one may finish all six before the other starts, so that is not asserted).
  const std::string log_a = read_file(dir.file("a.log")), log_b = read_file(dir.file("b.log"));
  auto steps = [](const std::string& text) {
    size_t n = 0;
    for (size_t at = text.find("nas_search: step "); at != std::string::npos; at = text.find("nas_search: step ", at + 1)) ++n;
    return n;
  };
  CHECK(steps(log_a) + steps(log_b) == 6);
  // Each finished candidate is announced in Optuna's words with the progress, on timestamped lines.
  const std::string log = log_a + log_b;
  CHECK(log.find("finished with value: ") != std::string::npos);
  CHECK(log.find(". Best is trial ") != std::string::npos);
  CHECK(log.find("/6 done, ETA ") != std::string::npos);
  CHECK(std::regex_search(log, std::regex(R"(\n20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ nas_search: Trial \d+ )")));

  // Threads in one process: each candidate trained once, exactly the budget, and (every model drawing its
  // weights and masks from its own generators) the same rewards, architectures and state as one worker.
  const auto threads = run_command(search_command(dir, data, 6, "threads.db", "threads") + " --workers 2");
  INFO(threads.err);
  REQUIRE(threads.exit_status == 0);
  const SearchOutcome threaded = outcome_of(dir.file("threads.db"));
  CHECK(threaded.complete == 6);
  CHECK(threaded.stages == alone.stages);
  CHECK(threaded.step == alone.step);
  CHECK(threaded.state == alone.state);
}

TEST_CASE("nas_search rejects bad input with exit status 2", "[apps][nas_search]") {
  TempDir dir;
  const std::string base = std::string(EFFSCALE_NAS_SEARCH) + " --study s --storage " + shell_quote("sqlite:///" + dir.file("x.db"));
  const std::string bad_space = dir.write("space.json", R"({"reference": "b0", "blocks": {"ops": ["conv9"]}})");
  struct Case {
    std::string args, message;
  };
  const Case cases[] = {
      {" --trials 0", "--trials must be at least 1"},
      {" --trials 2 --controller bandit", "--controller 'bandit'"},
      {" --trials 2 --space " + shell_quote(bad_space), "op 'conv9'"},
      {" --trials 2 --space " + shell_quote(dir.file("none.json")), "none.json"},
      {" --trials 2 --workers 0", "--workers '0': expected auto or a whole number from 1 to 64"},
      {" --trials 2 --workers two", "--workers 'two': expected auto"},
      {" --trials 2 --batch 0", "--batch must be at least 1"},
      {" --trials 2 --seeds 0", "--seeds must be from 1 to 100"},
      {" --trials 2 --controller evolution --population 1", "--population must be at least 2"},
      {" --trials 2 --controller evolution --population 4 --tournament 5", "--tournament must be from 1 to --population"},
      {" --trials 2 --reward-exponent nan", "reward exponent nan: expected a finite number"},
      {" --trials 2 --target-macs -5", "reward target -5"},
      {" --trials 2 --max-retries -1", "--max-retries must be 0 or more"},
      {" --trials 2 --proxy-resolution 0", "--proxy-resolution: 0: must be from 8 to 8192"},
      {" --trials 2 --in-channels 4", "--in-channels: 4: must be 1 (grey) or 3 (RGB)"},
      {" --trials 2 --export " + shell_quote(dir.file("")), "': it is a folder, not a file"},
      {" --trials 2 --export " + shell_quote(bad_space + "/best.json"), "': cannot make its folder: "},
  };
  for (const Case& c : cases) {
    INFO(c.args);
    const auto r = run_command(base + c.args);
    CHECK(r.exit_status == 2);
    CHECK_THAT(r.err, Catch::StartsWith("nas_search: error: ") && Catch::Contains(c.message));
  }
  CHECK_FALSE(std::filesystem::exists(dir.file("x.db")));  // refused before any study was touched
  // Proxy settings under which the space's networks cannot be built are refused before the study is opened too,
  // not by the first candidate's training.
  const std::string data = write_mnist_folder(dir.file("mnist"), 32, 8, false, true);
  const auto r = run_command(search_command(dir, data, 2, "y.db") + " --proxy-divisor 100000");
  CHECK(r.exit_status == 2);
  CHECK_THAT(r.err, Catch::StartsWith("nas_search: error: the search's networks at the proxy") &&
                        Catch::Contains("parameters, more than the 4294967296 effscale builds"));
  CHECK_FALSE(std::filesystem::exists(dir.file("y.db")));
}

TEST_CASE("nas_search --seeds trains every candidate with each seed, ranks by the mean and keeps its seeds", "[apps][nas_search]") {
  TempDir dir;
  const std::string data = write_mnist_folder(dir.file("mnist"), 96, 32, false, true);
  const auto r = run_command(search_command(dir, data, 2) + " --seeds 2");
  REQUIRE(r.exit_status == 0);
  const json rows = json::parse(r.out);
  REQUIRE(rows.size() == 2);  // one row per candidate, not per trial
  for (const json& row : rows) {
    CHECK(row["seeds"] == 2);
    CHECK(row["ci95_low"].get<double>() <= row["val_top1"].get<double>());
    CHECK(row["val_top1"].get<double>() <= row["ci95_high"].get<double>());
  }
  CHECK(rows[0]["reward"].get<double>() >= rows[1]["reward"].get<double>());
  CHECK_THAT(r.err, Catch::Contains("the mean over 2 seeds"));
  CHECK(std::filesystem::exists(dir.file("runs/best.json")));
  {
    SqliteStorage storage(dir.file("search.db"));
    CHECK(storage.get_trials(storage.find_study("s")->study_id, {TrialState::Complete}).size() == 4);
  }
  CHECK(run_command(search_command(dir, data, 2) + " --seeds 2").exit_status == 0);  // finished: nothing more to train
  const auto other = run_command(search_command(dir, data, 2) + " --seeds 3");
  CHECK(other.exit_status == 2);
  CHECK_THAT(other.err, Catch::Contains("batch or seeds; use another --study"));
  SqliteStorage storage(dir.file("search.db"));
  CHECK(storage.get_trials(storage.find_study("s")->study_id, {}).size() == 4);  // unchanged by either
}

TEST_CASE("nas_search refuses a study of an earlier effscale, whose conv op built other networks", "[apps][nas_search]") {
  TempDir dir;
  const std::string data = write_mnist_folder(dir.file("mnist"), 96, 32, false, true);
  {
    SqliteStorage storage(dir.file("search.db"));
    const int64_t study = open_study_for(storage, "s", {StudyDirection::Maximize}, "nas_search").study_id;
    storage.set_study_attr(study, "search_settings", json{{"controller", "evolution"}, {"seed", 3}}, true);  // no conv_op
  }
  const auto r = run_command(search_command(dir, data, 2));
  CHECK(r.exit_status == 2);
  CHECK_THAT(r.err, Catch::StartsWith("nas_search: error: study 's' holds a search of an earlier effscale") &&
                        Catch::Contains("now `fused`"));
  CHECK_FALSE(std::filesystem::exists(dir.file("runs/0")));  // nothing trained
}

TEST_CASE("every committed preset is read by nas_search --space-info, and a bad value in one is refused by name",
          "[apps][nas_search][presets]") {
  const std::filesystem::path presets = std::filesystem::path(EFFSCALE_SOURCE_ROOT) / "experiments" / "presets";
  int read = 0;
  for (const auto& entry : std::filesystem::directory_iterator(presets)) {
    if (entry.path().extension() != ".ini") continue;
    INFO(entry.path());
    const auto r = run_command(std::string(EFFSCALE_NAS_SEARCH) + " --space-info --config " +
                               shell_quote(entry.path().string()));
    CHECK(r.exit_status == 0);
    CHECK(r.out.find("distinct_networks") != std::string::npos);
    ++read;
  }
  CHECK(read >= 3);  // quick, evidence, evidence-quiet at least
  TempDir dir;
  const auto bad = run_command(std::string(EFFSCALE_NAS_SEARCH) + " --space-info --config " +
                               shell_quote(dir.write("bad.ini", "epochs = 1\nzero-init-residual = maybe\n")));
  CHECK(bad.exit_status == 2);
  CHECK_THAT(bad.err, Catch::Contains("--zero-init-residual: 'maybe': expected on or off"));
  CHECK(std::count(bad.err.begin(), bad.err.end(), '\n') == 1);
  // Every recipe flag spelled wrong is refused by name when the flags are read, not only when a command trains.
  const auto adam = run_command(std::string(EFFSCALE_NAS_SEARCH) + " --space-info --config " +
                                shell_quote(dir.write("adam.ini", "optimizer = adam\n")));
  CHECK(adam.exit_status == 2);
  CHECK_THAT(adam.err, Catch::Contains("--optimizer: optimizer 'adam'"));
}
