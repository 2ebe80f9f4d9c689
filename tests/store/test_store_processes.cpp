// The store under real processes, on a SQLite file and on a PostgreSQL database: several workers sharing
// one study, and a worker killed with SIGKILL in the middle of a trial.

#include <catch2/catch.hpp>

#include <set>

#include "effscale/store/storage.h"
#include "postgres_server.h"
#include "run_command.h"
#include "temp_dir.h"

using namespace effscale::store;
using effscale::testing::run_command;
using effscale::testing::shell_quote;

namespace {

// A new study database of each kind the test runs over.
std::string new_url(const effscale::testing::TempDir& dir) {
  const std::string kind = GENERATE(std::string("sqlite"), std::string("postgres"));
  if (kind == "postgres") return effscale::testing::PostgresServer::shared().new_database();
  return "sqlite:///" + dir.file("shared.db");
}

std::string worker(const std::string& url, const std::string& args) {
  return std::string(EFFSCALE_STORE_WORKER) + " " + shell_quote(url) + " s " + args;
}

}  // namespace

TEST_CASE("six processes share one database: every trial once, numbers without gaps", "[store][processes]") {
  effscale::testing::TempDir dir;
  const std::string url = new_url(dir);
  INFO(url);
  {
    const auto storage = open_storage(url);
    const int64_t study = storage->create_or_load_study("s", {StudyDirection::Maximize}).study_id;
    std::vector<Storage::EnqueueRequest> requests;
    for (int i = 0; i < 200; ++i) requests.push_back({{{"i", {double(i), Distribution::int_range(0, 199)}}}});
    storage->enqueue_trials_once(study, "enqueued", requests);
  }
  std::string script = "pids=; ";
  for (int w = 0; w < 4; ++w)
    script += worker(url, "drain") + " > " + shell_quote(dir.file("drain" + std::to_string(w))) + " & pids=\"$pids $!\"; ";
  for (int w = 0; w < 2; ++w) script += worker(url, "create 50") + " & pids=\"$pids $!\"; ";
  script += "fail=0; for p in $pids; do wait $p || fail=1; done; exit $fail";
  const auto r = run_command(script);
  INFO(r.err);
  REQUIRE(r.exit_status == 0);
  int drained = 0;
  for (int w = 0; w < 4; ++w) drained += std::stoi(effscale::testing::read_file(dir.file("drain" + std::to_string(w))));
  CHECK(drained == 200);

  const auto storage = open_storage(url);
  const auto trials = storage->get_trials(storage->find_study("s")->study_id, {});
  REQUIRE(trials.size() == 300);
  std::set<int64_t> enqueued_done;
  for (size_t n = 0; n < trials.size(); ++n) {
    CHECK(trials[n].number == static_cast<int>(n));
    CHECK(trials[n].state == TrialState::Complete);
    if (trials[n].params.count("i")) enqueued_done.insert(static_cast<int64_t>(trials[n].params.at("i").internal));
  }
  CHECK(enqueued_done.size() == 200);
}

TEST_CASE("a worker killed mid-trial is failed and re-queued after the grace period", "[store][processes]") {
  effscale::testing::TempDir dir;
  const std::string url = new_url(dir);
  INFO(url);
  {
    const auto storage = open_storage(url);
    const int64_t study = storage->create_or_load_study("s", {StudyDirection::Maximize}).study_id;
    storage->enqueue_trials_once(study, "enqueued", {{{{"alpha", {1.2, Distribution::float_range(1.0, 1.4, 0.05)}}}}});
  }
  const std::string out = shell_quote(dir.file("hang.out"));
  // Start a worker, wait until it holds the trial, SIGKILL it.
  const std::string kill_one = worker(url, "hang") + " > " + out + " & pid=$!; " +
                               "for i in $(seq 200); do grep -q claimed " + out + " && break; sleep 0.05; done; " +
                               "kill -9 $pid; wait $pid; grep -q claimed " + out;
  REQUIRE(run_command(kill_one).exit_status == 0);
  // Within the grace period nothing happens; after it the trial fails and comes back WAITING.
  CHECK(run_command(worker(url, "reap 60 1")).out == "0\n");
  run_command("sleep 0.2");
  CHECK(run_command(worker(url, "reap 0.1 1")).out == "1\n");
  {
    const auto storage = open_storage(url);
    const auto trials = storage->get_trials(storage->find_study("s")->study_id, {});
    REQUIRE(trials.size() == 2);
    CHECK(trials[0].state == TrialState::Fail);
    CHECK(trials[1].state == TrialState::Waiting);
    CHECK(trials[1].params.at("alpha").internal == 1.2);
    CHECK(trials[1].system_attrs["retry_history"] == nlohmann::json::array({0}));
  }
  // The retry is killed too: with a limit of one retry it is not queued again.
  REQUIRE(run_command(kill_one).exit_status == 0);
  run_command("sleep 0.2");
  CHECK(run_command(worker(url, "reap 0.1 1")).out == "1\n");
  const auto storage = open_storage(url);
  const auto study = storage->find_study("s")->study_id;
  CHECK(storage->get_trials(study, {TrialState::Waiting}).empty());
  CHECK(storage->get_trials(study, {TrialState::Fail}).size() == 2);
}
