// nas_search run as users run it: a tiny search on a tiny dataset, killed and resumed to exactly the
// requested number of trials, its export read by model_info, and its decisions read by python3-optuna.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>

#include "dataset_files.h"
#include "effscale/store/sqlite_storage.h"
#include "run_command.h"
#include "temp_dir.h"

using namespace effscale::store;
using namespace effscale::testing;
using nlohmann::json;

namespace {

std::string search_command(const TempDir& dir, const std::string& data, int trials) {
  return std::string(EFFSCALE_NAS_SEARCH) + " --controller evolution --trials " + std::to_string(trials) +
         " --study s --storage " + shell_quote("sqlite:///" + dir.file("search.db")) + " --dataset mnist --data-dir " +
         shell_quote(data) + " --proxy-resolution 12 --proxy-width 0.25 --proxy-depth 0.25 --in-channels 1 --epochs 1" +
         " --batch-size 16 --threads 1 --bn-momentum 0.1 --seed 3 --out-dir " + shell_quote(dir.file("runs")) + " --format json";
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
  std::set<int64_t> steps;
  int complete = 0;
  for (const Trial& t : trials) {
    complete += t.state == TrialState::Complete;
    CHECK(steps.insert(t.system_attrs["controller_step"].get<int64_t>()).second);  // no step recorded twice
    CHECK(t.params.at("b0_op").distribution.kind == Distribution::Kind::Categorical);
  }
  CHECK(complete == 4);
  CHECK(trials.size() == 4);
  // Running it again does nothing more.
  REQUIRE(run_command(search_command(dir, data, 4)).exit_status == 0);
  CHECK(storage.get_trials(storage.find_study("s")->study_id, {}).size() == 4);

  const auto info = run_command(std::string(EFFSCALE_MODEL_INFO) + " --model " + shell_quote(dir.file("runs/best.json")) + " --format json");
  REQUIRE(info.exit_status == 0);
  CHECK(json::parse(info.out)["model"] == "searched");

  const auto optuna = run_command("/usr/bin/python3 -c " + shell_quote(
      "import sys, optuna\noptuna.logging.set_verbosity(optuna.logging.ERROR)\n"
      "s = optuna.load_study(study_name='s', storage='sqlite:///' + sys.argv[1])\n"
      "t = s.best_trial\nprint(type(t.distributions['b3_kernel']).__name__, t.params['b0_op'] in ('dsconv', 'mbconv3', 'mbconv6'), len(t.params))") +
      " " + shell_quote(dir.file("search.db")));
  INFO(optuna.err);
  REQUIRE(optuna.exit_status == 0);
  CHECK(optuna.out == "CategoricalDistribution True 42\n");
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
  };
  for (const Case& c : cases) {
    INFO(c.args);
    const auto r = run_command(base + c.args);
    CHECK(r.exit_status == 2);
    CHECK_THAT(r.err, Catch::StartsWith("nas_search: error: ") && Catch::Contains(c.message));
  }
}
