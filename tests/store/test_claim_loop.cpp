// The claim step both worker loops share, the trial recorder and the one "best trial", over an in-memory and a
// file SQLite database, with faults injected between the worker and the database.

#include <catch2/catch.hpp>

#include <atomic>
#include <cmath>
#include <stdexcept>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "effscale/store/best_trial.h"
#include "effscale/store/claim_loop.h"
#include "effscale/store/sample_statistics.h"
#include "effscale/store/sqlite_storage.h"
#include "effscale/store/store_error.h"
#include "effscale/store/study_owner.h"
#include "effscale/store/trial_progress.h"
#include "effscale/store/trial_recorder.h"
#include "faulty_storage.h"
#include "temp_dir.h"

using namespace effscale::store;
using effscale::testing::FaultyStorage;
using nlohmann::json;

namespace {

// An error the trial owns (as a diverged loss) and the policy that names it.
struct TrialOwnError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
std::optional<std::string> own_errors(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const TrialOwnError& e) {
    return std::string(e.what());
  } catch (...) {
    return std::nullopt;
  }
}

// A study holding `n` WAITING trials with params x = 0..n-1.
int64_t waiting_study(Storage& storage, int n) {
  const int64_t study = storage.create_or_load_study("s", {StudyDirection::Maximize}).study_id;
  std::vector<Storage::EnqueueRequest> requests;
  for (int i = 0; i < n; ++i) requests.push_back({{{"x", {double(i), Distribution::float_range(0, 10)}}}});
  storage.enqueue_trials_once(study, "enqueued", requests);
  return study;
}

// A backend the tests run over: SQLite in memory (shared by every FaultyStorage) or a SQLite file.
std::shared_ptr<Storage> backend(const std::string& kind, const effscale::testing::TempDir& dir) {
  if (kind == "memory") return std::make_shared<SqliteStorage>(":memory:");
  return std::shared_ptr<Storage>(open_storage("sqlite:///" + dir.file("claims.db")));
}

}  // namespace

TEST_CASE("claim_and_run runs each waiting trial once and turns the trial's own failures into FAIL trials",
          "[store][claim]") {
  const std::string kind = GENERATE(std::string("memory"), std::string("file"));
  INFO("backend " << kind);
  effscale::testing::TempDir dir;
  const std::shared_ptr<Storage> storage = backend(kind, dir);
  const int64_t study = waiting_study(*storage, 3);
  const ClaimSettings settings{30.0, 2};
  auto complete = [&](const Trial& t) { storage->finish_trial(t.trial_id, TrialState::Complete, {t.params.at("x").internal}); };

  const auto first = claim_and_run(*storage, study, settings, complete, own_errors);
  REQUIRE(first);
  CHECK(first->trial.number == 0);
  CHECK_FALSE(first->failure);

  const auto failed = claim_and_run(*storage, study, settings, [](const Trial&) { throw TrialOwnError("loss became nan"); }, own_errors);
  REQUIRE(failed);
  CHECK(failed->failure == std::optional<std::string>("loss became nan"));
  const Trial fail = storage->get_trial(failed->trial.trial_id);
  CHECK(fail.state == TrialState::Fail);
  CHECK(fail.user_attrs["fail_reason"] == "loss became nan");

  // An error that is not the trial's own stops the worker and leaves the trial RUNNING for a sweep.
  CHECK_THROWS_WITH(claim_and_run(*storage, study, settings, [](const Trial&) { throw std::logic_error("bad settings"); }, own_errors),
                    "bad settings");
  CHECK(storage->get_trials(study, {TrialState::Running}).size() == 1);
  CHECK_FALSE(claim_and_run(*storage, study, settings, complete, own_errors));  // nothing waiting
  CHECK_THROWS_AS(claim_and_run(*storage, study, {0.0, 2}, complete, own_errors), StoreInputError);
  CHECK_THROWS_AS(claim_and_run(*storage, study, {30.0, -1}, complete, own_errors), StoreInputError);
}

TEST_CASE("a worker that crashes between claim and finish loses nothing: the trial comes back and finishes once",
          "[store][claim][faults]") {
  const std::string kind = GENERATE(std::string("memory"), std::string("file"));
  const std::string fault_at = GENERATE(std::string("claim reply lost"), std::string("finish write failed"));
  INFO("backend " << kind << ", " << fault_at);
  effscale::testing::TempDir dir;
  const std::shared_ptr<Storage> inner = backend(kind, dir);
  const int64_t study = waiting_study(*inner, 2);
  std::atomic<int> faults{0};
  FaultyStorage crashing(inner, [&](const std::string& method, bool after) {
    const bool hit = fault_at == "claim reply lost" ? method == "claim_waiting_trial" && after
                                                    : method == "finish_trial" && !after;
    if (hit && faults++ == 0) throw StoreFailure("connection lost (injected)");
  });
  auto complete = [](Storage& s) {
    return [&s](const Trial& t) { s.finish_trial(t.trial_id, TrialState::Complete, {t.params.at("x").internal}); };
  };
  CHECK_THROWS_AS(claim_and_run(crashing, study, {30.0, 2}, complete(crashing), own_errors), StoreFailure);
  REQUIRE(inner->get_trials(study, {TrialState::Running}).size() == 1);  // claimed, never finished

  // Another worker with a short stale limit takes the dead worker's trial over once its heartbeat is old.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  FaultyStorage healthy(inner, nullptr);
  int runs = 0;
  while (claim_and_run(healthy, study, {1.0, 2}, complete(healthy), own_errors)) ++runs;
  CHECK(runs == 2);  // the untouched trial and the re-queued one
  std::map<double, int> completed;
  for (const Trial& t : inner->get_trials(study, {TrialState::Complete})) ++completed[t.params.at("x").internal];
  CHECK(completed == std::map<double, int>{{0.0, 1}, {1.0, 1}});  // every point COMPLETE exactly once
  const auto failed = inner->get_trials(study, {TrialState::Fail});
  REQUIRE(failed.size() == 1);  // the dead worker's attempt, failed by the sweep
  CHECK(inner->get_trials(study, {TrialState::Running, TrialState::Waiting}).empty());
}

TEST_CASE("TrialRecorder opens with its attributes and finishes in one write", "[store][recorder]") {
  auto storage = std::make_shared<SqliteStorage>(":memory:");
  const int64_t study = storage->create_or_load_study("s", {StudyDirection::Maximize}).study_id;
  const Trial running = storage->get_trial(storage->create_trial(study).trial_id);
  std::vector<std::string> calls;
  FaultyStorage watched(storage, [&](const std::string& method, bool after) {
    if (after && method != "heartbeat" && method != "get_trial" && method != "get_trials") calls.push_back(method);
  });
  {
    TrialRecorder recorder(watched, running, json{{"model", "b0"}, {"macs", 5}}, std::chrono::milliseconds(50));
    CHECK(storage->get_trial(running.trial_id).user_attrs == json{{"model", "b0"}, {"macs", 5}});
    CHECK_FALSE(recorder.report(1, 0.4, nullptr, false));
    recorder.finish(TrialState::Complete, {0.6}, json{{"val_top1", 0.6}, {"wall_s", 2.0}});
  }
  CHECK(calls == std::vector<std::string>{"set_trial_attrs", "report_intermediate", "finish_trial"});
  const Trial done = storage->get_trial(running.trial_id);
  CHECK(done.state == TrialState::Complete);
  CHECK(done.intermediate_values.at(1) == 0.4);
  CHECK(done.user_attrs["val_top1"] == 0.6);
  CHECK_THROWS_AS(TrialRecorder(*storage, done, json::object()), StoreInputError);  // not RUNNING

  const Trial other = storage->get_trial(storage->create_trial(study).trial_id);
  TrialRecorder failing(*storage, other, json::object());
  failing.fail("out of memory");
  CHECK(storage->get_trial(other.trial_id).user_attrs["fail_reason"] == "out of memory");
  CHECK(storage->get_trial(other.trial_id).state == TrialState::Fail);
}

TEST_CASE("best_trial and rank_by_value follow the study's direction, valueless trials last, ties by number",
          "[store][best]") {
  SqliteStorage storage(":memory:");
  const Study max = storage.create_or_load_study("max", {StudyDirection::Maximize});
  const Study min = storage.create_or_load_study("min", {StudyDirection::Minimize});
  for (const Study& s : {max, min}) {
    for (double v : {0.5, 0.9, 0.1, 0.9}) storage.finish_trial(storage.create_trial(s.study_id).trial_id, TrialState::Complete, {v});
    storage.finish_trial(storage.create_trial(s.study_id).trial_id, TrialState::Fail, {});
    storage.create_trial(s.study_id);  // RUNNING
  }
  CHECK(best_trial(max, storage.get_trials(max.study_id, {}))->number == 1);
  CHECK(best_trial(min, storage.get_trials(min.study_id, {}))->number == 2);
  std::vector<int> order;
  for (const Trial& t : rank_by_value(storage.get_trials(max.study_id, {}), StudyDirection::Maximize)) order.push_back(t.number);
  CHECK(order == std::vector<int>{1, 3, 0, 2, 4, 5});
  const Study empty = storage.create_or_load_study("empty", {StudyDirection::Maximize});
  storage.create_trial(empty.study_id);
  CHECK_FALSE(best_trial(empty, storage.get_trials(empty.study_id, {})));
}

TEST_CASE("a finished trial is announced in Optuna's words with the study's progress", "[store][progress]") {
  SqliteStorage storage(":memory:");
  const Study s = storage.create_or_load_study("s", {StudyDirection::Maximize});
  const TrialRef a = storage.create_trial_with(
      s.study_id, {{"alpha", {1.2, Distribution::float_range(1.0, 1.4, 0.05)}}, {"op", {1, Distribution::categorical({"conv", "mbconv6"})}}},
      json::object());
  storage.finish_trial(a.trial_id, TrialState::Complete, {0.75});
  const Trial done = storage.get_trial(a.trial_id);
  CHECK(trial_finished_line(done, done, 1, 4, 95) ==
        "Trial 0 finished with value: 0.75 and parameters: {'alpha': 1.2, 'op': 'mbconv6'}. Best is trial 0 with value: 0.75. "
        "[1/4 done, ETA 1m35s]");
  const TrialRef b = storage.create_trial(s.study_id);
  storage.finish_trial(b.trial_id, TrialState::Fail, {}, json{{"fail_reason", "the loss became nan"}});
  CHECK(trial_finished_line(storage.get_trial(b.trial_id), std::nullopt, 0, 0, -1) == "Trial 1 failed: the loss became nan.");
  CHECK(short_duration(7300) == "2h01m");
  CHECK(short_duration(42.4) == "42s");
}

TEST_CASE("seed statistics: means, Student-t 95% intervals and Welch's test", "[store][statistics]") {
  CHECK(t_quantile_975(1) == Approx(12.706));
  CHECK(t_quantile_975(4) == Approx(2.776));
  CHECK(t_quantile_975(40) == Approx(2.021).margin(0.001));
  CHECK(t_quantile_975(1000) == Approx(1.962).margin(0.001));
  CHECK(t_quantile_975(4.5) == Approx(2.67).margin(0.02));  // Welch's fractional degrees of freedom
  CHECK_THROWS_AS(t_quantile_975(0.5), std::invalid_argument);

  const SampleSummary s = summarize({0.70, 0.72, 0.74, 0.76, 0.78});
  CHECK(s.n == 5);
  CHECK(s.mean == Approx(0.74));
  CHECK(s.sd == Approx(0.0316228).epsilon(1e-5));
  CHECK(s.ci_low == Approx(0.74 - 2.776 * 0.0316228 / std::sqrt(5.0)).epsilon(1e-5));
  CHECK(s.ci_high == Approx(0.74 + 2.776 * 0.0316228 / std::sqrt(5.0)).epsilon(1e-5));
  const SampleSummary one = summarize({0.5});
  CHECK(one.mean == 0.5);
  CHECK(std::isnan(one.sd));
  CHECK(std::isnan(one.ci_low));
  CHECK(summarize({}).n == 0);

  CHECK(distinguishable({0.80, 0.81, 0.82}, {0.70, 0.71, 0.72}));          // far apart, little spread
  CHECK_FALSE(distinguishable({0.80, 0.70, 0.75}, {0.76, 0.72, 0.74}));    // inside the noise
  CHECK_FALSE(distinguishable({0.8}, {0.7}));                              // one seed: spread unknown
  CHECK(distinguishable({0.8, 0.8}, {0.7, 0.7}));                          // no spread, different means
}

TEST_CASE("a trial whose worker process on this host is gone comes back at once, without waiting for the stale limit",
          "[store][claim][faults]") {
  SqliteStorage storage(":memory:");
  const int64_t study = waiting_study(storage, 3);
  const ClaimSettings patient{3600.0, 2};  // an hour: only the dead-worker check can free the trial now
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  const pid_t child = fork();  // a process that has already exited: its pid names a dead worker
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  for (const auto& [pid, where] : std::vector<std::pair<int64_t, std::string>>{
           {int64_t(child), std::string(host)}, {int64_t(getppid()), std::string(host)}, {int64_t(child), "elsewhere"}}) {
    const TrialRef t = *storage.claim_waiting_trial(study);
    storage.set_trial_attrs(t.trial_id, json{{"worker_host", where}, {"worker_pid", pid}}, true);
  }
  const std::vector<int64_t> dead = trials_of_dead_local_workers(storage, study);
  REQUIRE(dead.size() == 1);  // not the live parent's, not the other host's
  CHECK(storage.get_trial(dead[0]).number == 0);
  int runs = 0;
  while (claim_and_run(storage, study, patient, [&](const Trial& t) {
    CHECK(t.system_attrs["failed_trial"] == 0);
    CHECK(t.system_attrs["worker_pid"] == int64_t(getpid()));
    storage.finish_trial(t.trial_id, TrialState::Complete, {1.0});
    ++runs;
  }, own_errors)) {
  }
  CHECK(runs == 1);
  CHECK(storage.get_trial(dead[0]).state == TrialState::Fail);
  CHECK(storage.get_trials(study, {TrialState::Running}).size() == 2);  // the live and the remote worker keep theirs
}

TEST_CASE("a study belongs to the command that made it, others are refused before they write", "[store][owner]") {
  SqliteStorage storage(":memory:");
  const std::vector<StudyDirection> maximize{StudyDirection::Maximize};
  const Study grid = open_study_for(storage, "g", maximize, "grid_alpha_beta_gamma");
  CHECK(open_study_for(storage, "g", maximize, "grid_alpha_beta_gamma").study_id == grid.study_id);  // its own: fine
  CHECK_THROWS_WITH(open_study_for(storage, "g", maximize, "train_model"),
                    Catch::Contains("study 'g' belongs to grid_alpha_beta_gamma"));
  // Studies from before ownership: their settings say whose they are.
  const int64_t old_grid = storage.create_or_load_study("old-grid", maximize).study_id;
  storage.set_study_attr(old_grid, "grid_settings", json::object(), false);
  CHECK_THROWS_AS(open_study_for(storage, "old-grid", maximize, "scale_models"), StoreInputError);
  CHECK_FALSE(storage.study_attrs(old_grid, true).contains(kStudyOwnerAttr));  // refused: unchanged
  const int64_t old_search = storage.create_or_load_study("old-search", maximize).study_id;
  storage.set_study_attr(old_search, "search_settings", json::object(), true);
  CHECK_THROWS_WITH(open_study_for(storage, "old-search", maximize, "grid_alpha_beta_gamma"), Catch::Contains("belongs to nas_search"));
  CHECK(open_study_for(storage, "old-search", maximize, "nas_search").study_id == old_search);
  CHECK(storage.study_attrs(old_search, true)[kStudyOwnerAttr] == "nas_search");
  // A study nobody claimed (made by Optuna, say) goes to the first command that opens it.
  storage.create_or_load_study("optuna-made", maximize);
  open_study_for(storage, "optuna-made", maximize, "train_model");
  CHECK_THROWS_AS(open_study_for(storage, "optuna-made", maximize, "nas_search"), StoreInputError);
}
