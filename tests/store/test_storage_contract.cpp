// The Storage contract, run over every backend (a SQLite file, SQLite in memory, a PostgreSQL database):
// studies, trial numbering, params, values, intermediate values, attributes, claiming, heartbeats, retries.

#include <catch2/catch.hpp>

#include <cmath>
#include <atomic>
#include <filesystem>
#include <set>
#include <thread>

#include "effscale/store/postgres_storage.h"
#include "effscale/store/sqlite_storage.h"
#include "effscale/store/store_error.h"
#include "effscale/store/pruner.h"
#include "effscale/store/trial_heartbeat.h"
#include "postgres_server.h"
#include "temp_dir.h"

using namespace effscale::store;
using nlohmann::json;

namespace {

// Every backend the contract runs over (each a SqlStorage, whose extras beyond Storage are tested too).
std::unique_ptr<SqlStorage> make_backend(const std::string& kind, const effscale::testing::TempDir& dir) {
  if (kind == "memory") return std::make_unique<SqliteStorage>(":memory:");
  if (kind == "postgres") return std::make_unique<PostgresStorage>(effscale::testing::PostgresServer::shared().new_database());
  return std::make_unique<SqliteStorage>(dir.file("study.db"));
}

// A new database several workers can open: a SQLite file in `dir`, or a PostgreSQL database.
std::string shared_url(const std::string& kind, const effscale::testing::TempDir& dir) {
  if (kind == "postgres") return effscale::testing::PostgresServer::shared().new_database();
  return "sqlite:///" + dir.file("shared.db");
}

ParamValue float_param(double v) { return {v, Distribution::float_range(1.0, 1.4, 0.05)}; }

}  // namespace

TEST_CASE("storage contract", "[store][contract]") {
  const std::string kind = GENERATE(std::string("file"), std::string("memory"), std::string("postgres"));
  INFO("backend " << kind);
  effscale::testing::TempDir dir;
  auto storage = make_backend(kind, dir);

  SECTION("studies are created once and keep their directions") {
    const Study s = storage->create_or_load_study("grid", {StudyDirection::Maximize});
    CHECK(storage->create_or_load_study("grid", {StudyDirection::Maximize}).study_id == s.study_id);
    CHECK_THROWS_WITH(storage->create_or_load_study("grid", {StudyDirection::Minimize}),
                      Catch::Contains("exists with directions MAXIMIZE"));
    CHECK_FALSE(storage->find_study("other").has_value());
    storage->create_or_load_study("other", {StudyDirection::Maximize, StudyDirection::Minimize});
    CHECK(storage->list_studies().size() == 2);
    storage->set_study_attr(s.study_id, "best", json{{"alpha", 1.2}}, false);
    CHECK(storage->study_attrs(s.study_id, false)["best"]["alpha"] == 1.2);
    CHECK_THROWS_AS(storage->set_study_attr(999, "k", 1, false), StoreInputError);
  }

  SECTION("a trial records params, intermediate values, attributes and final values") {
    const Study s = storage->create_or_load_study("s", {StudyDirection::Maximize, StudyDirection::Minimize});
    const TrialRef t = storage->create_trial(s.study_id);
    CHECK(t.number == 0);
    storage->set_param(t.trial_id, "alpha", float_param(1.2));
    storage->set_param(t.trial_id, "kernel", {1, Distribution::categorical({3, 5})});
    storage->set_param(t.trial_id, "layers", {2, Distribution::int_range(1, 4)});
    storage->report_intermediate(t.trial_id, 0, 0.5);
    storage->report_intermediate(t.trial_id, 1, std::nan(""));
    storage->report_intermediate(t.trial_id, 1, 0.75);  // a re-report replaces
    storage->set_trial_attr(t.trial_id, "macs", 385814752, false);
    storage->set_trial_attr(t.trial_id, "host", "a", true);
    storage->finish_trial(t.trial_id, TrialState::Complete, {0.9, INFINITY});
    const Trial got = storage->get_trial(t.trial_id);
    CHECK(got.state == TrialState::Complete);
    CHECK(got.params.at("alpha").internal == 1.2);
    CHECK(got.params.at("kernel").external() == 5);
    CHECK(got.params.at("layers").external() == 2);
    CHECK(got.intermediate_values == std::map<int64_t, double>{{0, 0.5}, {1, 0.75}});
    CHECK(got.values.size() == 2);
    CHECK(got.values[0] == 0.9);
    CHECK(std::isinf(got.values[1]));
    CHECK(got.user_attrs["macs"] == 385814752);
    CHECK(got.system_attrs["host"] == "a");
    CHECK_FALSE(got.datetime_complete.empty());
  }

  SECTION("a finish writes its attributes, values and state in one transaction, or nothing") {
    const Study s = storage->create_or_load_study("s", {StudyDirection::Maximize});
    const TrialRef t = storage->create_trial(s.study_id);
    storage->set_trial_attrs(t.trial_id, json{{"model", "b0"}, {"macs", 1000}}, false);
    CHECK_THROWS_AS(storage->set_trial_attrs(t.trial_id, json::array({1}), false), StoreInputError);
    CHECK_THROWS_AS(storage->finish_trial(t.trial_id, TrialState::Complete, {std::nan("")}, json{{"val_top1", 0.5}}),
                    StoreInputError);
    Trial got = storage->get_trial(t.trial_id);
    CHECK(got.state == TrialState::Running);  // the refused finish left nothing behind
    CHECK_FALSE(got.user_attrs.contains("val_top1"));
    CHECK(got.values.empty());
    storage->finish_trial(t.trial_id, TrialState::Complete, {0.5}, json{{"val_top1", 0.5}, {"wall_s", 3.5}});
    got = storage->get_trial(t.trial_id);
    CHECK(got.state == TrialState::Complete);
    CHECK(got.values == std::vector<double>{0.5});
    CHECK(got.user_attrs == json{{"model", "b0"}, {"macs", 1000}, {"val_top1", 0.5}, {"wall_s", 3.5}});
    CHECK_THROWS_AS(storage->finish_trial(t.trial_id, TrialState::Fail, {}, json{{"fail_reason", "late"}}), StoreInputError);
    CHECK_FALSE(storage->get_trial(t.trial_id).user_attrs.contains("fail_reason"));
  }

  SECTION("a trial can be created with its params and system attributes at once") {
    const Study s = storage->create_or_load_study("s", {StudyDirection::Maximize});
    const TrialRef t = storage->create_trial_with(s.study_id, {{"alpha", float_param(1.2)}}, json{{"step", 4}});
    const Trial got = storage->get_trial(t.trial_id);
    CHECK(got.state == TrialState::Running);
    CHECK(got.params.at("alpha").internal == 1.2);
    CHECK(got.system_attrs["step"] == 4);
    CHECK(storage->fail_stale_trials(s.study_id, 60.0, 0).empty());  // it has a heartbeat
  }

  SECTION("finished trials refuse changes") {
    const Study s = storage->create_or_load_study("s", {StudyDirection::Maximize});
    const TrialRef t = storage->create_trial(s.study_id);
    storage->finish_trial(t.trial_id, TrialState::Fail, {});
    CHECK_THROWS_WITH(storage->finish_trial(t.trial_id, TrialState::Complete, {1.0}), Catch::Contains("is FAIL, not RUNNING"));
    CHECK_THROWS_AS(storage->set_param(t.trial_id, "a", float_param(1.0)), StoreInputError);
    CHECK_THROWS_AS(storage->report_intermediate(t.trial_id, 0, 1.0), StoreInputError);
    CHECK_THROWS_AS(storage->finish_trial(t.trial_id, TrialState::Running, {}), StoreInputError);
    CHECK_THROWS_WITH(storage->get_trial(12345), Catch::Contains("no trial with id 12345"));
  }

  SECTION("waiting trials are claimed once each, in order") {
    const Study s = storage->create_or_load_study("grid", {StudyDirection::Maximize});
    storage->enqueue_trial(s.study_id, {{"alpha", float_param(1.2)}}, json{{"grid_id", "a1.20"}});
    storage->enqueue_trial(s.study_id, {{"alpha", float_param(1.3)}}, json::object());
    const auto first = storage->claim_waiting_trial(s.study_id);
    const auto second = storage->claim_waiting_trial(s.study_id);
    REQUIRE(first);
    REQUIRE(second);
    CHECK(first->number == 0);
    CHECK(second->number == 1);
    CHECK_FALSE(storage->claim_waiting_trial(s.study_id));
    const Trial t = storage->get_trial(first->trial_id);
    CHECK(t.state == TrialState::Running);
    CHECK(t.system_attrs["fixed_params"]["alpha"] == 1.2);
    CHECK(t.system_attrs["grid_id"] == "a1.20");
    CHECK(storage->get_trials(s.study_id, {TrialState::Waiting}).empty());
    CHECK(storage->get_trials(s.study_id).size() == 2);
  }

  SECTION("stale running trials fail and are re-queued up to the retry limit") {
    const Study s = storage->create_or_load_study("s", {StudyDirection::Maximize});
    const TrialRef t = storage->create_trial(s.study_id);
    storage->set_param(t.trial_id, "alpha", float_param(1.25));
    CHECK(storage->fail_stale_trials(s.study_id, 60.0, 2).empty());  // heartbeat is fresh
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE(storage->fail_stale_trials(s.study_id, 0.001, 2).size() == 1);
    CHECK(storage->get_trial(t.trial_id).state == TrialState::Fail);
    auto retry = storage->claim_waiting_trial(s.study_id);
    REQUIRE(retry);
    Trial r = storage->get_trial(retry->trial_id);
    CHECK(r.params.at("alpha").internal == 1.25);
    CHECK(r.system_attrs["failed_trial"] == 0);
    CHECK(r.system_attrs["retry_history"] == json::array({0}));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    storage->fail_stale_trials(s.study_id, 0.001, 2);  // second attempt fails: one more retry
    retry = storage->claim_waiting_trial(s.study_id);
    REQUIRE(retry);
    CHECK(storage->get_trial(retry->trial_id).system_attrs["retry_history"] == json::array({0, 1}));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    storage->fail_stale_trials(s.study_id, 0.001, 2);  // third failure: limit reached
    CHECK_FALSE(storage->claim_waiting_trial(s.study_id));
    CHECK(storage->get_trials(s.study_id, {TrialState::Fail}).size() == 3);
  }
}

TEST_CASE("concurrent workers get unique trial numbers and never share a claim", "[store][concurrency]") {
  effscale::testing::TempDir dir;
  const std::string kind = GENERATE(std::string("file"), std::string("postgres"));
  INFO("backend " << kind);
  const std::string url = shared_url(kind, dir);
  int64_t study_id = 0;
  {
    auto setup = open_storage(url);
    study_id = setup->create_or_load_study("s", {StudyDirection::Maximize}).study_id;
    std::vector<Storage::EnqueueRequest> requests;
    for (int i = 0; i < 40; ++i) requests.push_back({{{"alpha", float_param(1.0 + 0.01 * i)}}});
    setup->enqueue_trials_once(study_id, "enqueued", requests);
  }
  std::vector<std::vector<int>> claimed(4);
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&, w] {
      auto storage = open_storage(url);  // one connection per worker, as separate processes have
      while (auto t = storage->claim_waiting_trial(study_id)) {
        claimed[w].push_back(t->number);
        storage->finish_trial(t->trial_id, TrialState::Complete, {1.0});
        storage->create_trial(study_id);
      }
    });
  }
  for (auto& w : workers) w.join();
  std::set<int> all;
  size_t total = 0;
  for (const auto& c : claimed) {
    total += c.size();
    all.insert(c.begin(), c.end());
  }
  CHECK(total == 40);
  CHECK(all.size() == 40);
  auto storage = open_storage(url);
  const auto trials = storage->get_trials(study_id);
  REQUIRE(trials.size() == 80);
  for (size_t i = 0; i < trials.size(); ++i) CHECK(trials[i].number == static_cast<int>(i));
}

TEST_CASE("bad storage URLs and files get one clear message", "[store][errors]") {
  effscale::testing::TempDir dir;
  CHECK_THROWS_WITH(open_storage("mysql://x"), Catch::Contains("storage URL 'mysql://x'"));
  const std::string unreachable = "postgresql://user:secret@/x?host=" + dir.file("no-server");
  CHECK_THROWS_AS(open_storage(unreachable), StoreInputError);
  CHECK_THROWS_WITH(open_storage(unreachable), Catch::Contains("cannot connect to the study database 'postgresql://user:***@/x") &&
                                                   !Catch::Contains("secret"));
  CHECK_THROWS_WITH(open_storage("sqlite:///"), Catch::Contains("path is empty"));
  const std::string junk = dir.write("junk.db", std::string(4096, 'x'));
  CHECK_THROWS_AS(open_storage("sqlite:///" + junk), StoreInputError);
  CHECK_THROWS_WITH(open_storage("sqlite:///" + junk), Catch::Contains(junk));
  CHECK_THROWS_AS(open_storage("sqlite:///" + dir.file("no/such/dir/x.db")), StoreInputError);
  const std::string other = dir.file("other.db");
  {
    SqliteDb db(other, 1000);
    db.exec("CREATE TABLE unrelated (x INTEGER)");
  }
  CHECK_THROWS_WITH(open_storage("sqlite:///" + other), Catch::Contains("other tables and no Optuna study schema"));
  const std::string old = dir.file("old.db");
  {
    SqliteStorage created(old);
    SqliteDb db(old, 1000);
    db.exec("UPDATE version_info SET schema_version = 11");
  }
  const std::string before = effscale::testing::read_file(old);
  CHECK_THROWS_WITH(open_storage("sqlite:///" + old), Catch::Contains("schema version 11") &&
                                                      Catch::Contains("upgrade it with `optuna storage upgrade`"));
  CHECK(effscale::testing::read_file(old) == before);  // a failed open changes nothing
  const std::string newer = dir.file("newer.db");
  {
    SqliteStorage created(newer);
    SqliteDb(newer, 1000).exec("UPDATE alembic_version SET version_num = 'v9.9.9.z'");
  }
  CHECK_THROWS_WITH(open_storage("sqlite:///" + newer), Catch::Contains("alembic v9.9.9.z") &&
                                                        Catch::Contains("does not know; use a newer effscale"));
  CHECK_THROWS_WITH(open_storage("sqlite:///" + dir.file("absent.db"), /*create=*/false), Catch::Contains("absent.db"));
  const std::string empty = dir.write("empty.db", "");  // e.g. made by `touch`: opened to read, it stays empty
  CHECK_THROWS_WITH(open_storage("sqlite:///" + empty, /*create=*/false), Catch::Contains("is empty: it holds no study yet"));
  CHECK(std::filesystem::file_size(empty) == 0);
  CHECK_FALSE(std::filesystem::exists(dir.file("absent.db")));
}

TEST_CASE("a PostgreSQL database with other tables or another schema version is refused, unchanged",
          "[store][errors][postgres]") {
  auto& server = effscale::testing::PostgresServer::shared();
  const std::string other = server.new_database();
  PostgresDb(other).exec("CREATE TABLE unrelated (x INTEGER)");
  CHECK_THROWS_WITH(open_storage(other), Catch::Contains("other tables and no Optuna study schema"));
  CHECK(PostgresDb(other).table_names() == std::vector<std::string>{"unrelated"});
  const std::string old = server.new_database();
  PostgresStorage{old};
  PostgresDb(old).exec("UPDATE version_info SET schema_version = 11");
  CHECK_THROWS_WITH(open_storage(old), Catch::Contains("schema version 11"));
  PostgresStorage again = [&] {  // reopening a current database keeps its studies
    PostgresDb(old).exec("UPDATE version_info SET schema_version = 12");
    return PostgresStorage(old);
  }();
  again.create_or_load_study("kept", {StudyDirection::Minimize});
  CHECK(PostgresStorage(old).find_study("kept").has_value());
}

TEST_CASE("a PostgreSQL storage reconnects after the server restarts between calls", "[store][postgres]") {
  auto& server = effscale::testing::PostgresServer::shared();
  PostgresStorage storage(server.new_database());
  const int64_t study = storage.create_or_load_study("s", {StudyDirection::Maximize}).study_id;
  const TrialRef first = storage.create_trial(study);
  server.restart();  // every connection dropped, as a maintenance restart or a network cut does
  storage.heartbeat(first.trial_id);  // a write transaction: reconnects, then runs
  server.restart();
  CHECK(storage.find_study("s").has_value());  // a read outside a transaction: the same
  storage.finish_trial(first.trial_id, TrialState::Complete, {0.5});
  CHECK(storage.get_trials(study, {TrialState::Complete}).size() == 1);
}

TEST_CASE("TrialHeartbeat keeps a trial alive until it stops", "[store][heartbeat]") {
  SqliteStorage storage(":memory:");
  const int64_t study = storage.create_or_load_study("s", {StudyDirection::Maximize}).study_id;
  const TrialRef t = storage.create_trial(study);
  {
    TrialHeartbeat beat(storage, t.trial_id, std::chrono::milliseconds(10));
    // A generous grace (1 s against 10 ms beats) keeps this robust on a loaded machine.
    for (int i = 0; i < 4; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(400));
      CHECK(storage.fail_stale_trials(study, 1.0, 0).empty());
    }
    CHECK(beat.last_error().empty());
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  CHECK(storage.fail_stale_trials(study, 1.0, 0).size() == 1);
  // Beating a trial that is no longer running records the failure and stops.
  TrialHeartbeat late(storage, t.trial_id, std::chrono::milliseconds(10));
  for (int i = 0; i < 100 && late.last_error().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK_THAT(late.last_error(), Catch::Contains("not running"));
}

TEST_CASE("enqueue_trials_once enqueues a batch exactly once across workers", "[store][contract]") {
  effscale::testing::TempDir dir;
  const std::string kind = GENERATE(std::string("file"), std::string("postgres"));
  INFO("backend " << kind);
  const std::string url = shared_url(kind, dir);
  int64_t study = open_storage(url)->create_or_load_study("grid", {StudyDirection::Maximize}).study_id;
  std::vector<Storage::EnqueueRequest> batch;
  for (int i = 0; i < 10; ++i) batch.push_back({{{"alpha", float_param(1.0 + 0.01 * i)}}, json{{"grid_id", i}}});
  std::atomic<int> enqueued{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w)
    workers.emplace_back([&] { enqueued += open_storage(url)->enqueue_trials_once(study, "grid_enqueued", batch); });
  for (auto& w : workers) w.join();
  CHECK(enqueued == 1);
  auto storage = open_storage(url);
  const auto trials = storage->get_trials(study, {TrialState::Waiting});
  REQUIRE(trials.size() == 10);
  CHECK(trials[3].system_attrs["grid_id"] == 3);
  CHECK(storage->study_attrs(study, true)["grid_enqueued"] == true);
}

TEST_CASE("compare_and_set_study_attrs lets exactly one of racing workers advance a state", "[store][contract]") {
  effscale::testing::TempDir dir;
  const std::string kind = GENERATE(std::string("file"), std::string("postgres"));
  INFO("backend " << kind);
  const std::string url = shared_url(kind, dir);
  int64_t study = open_storage(url)->create_or_load_study("search", {StudyDirection::Maximize}).study_id;
  // Eight workers each try to move step 0 -> 1 (the guard is absent at first, so null is expected).
  std::atomic<int> landed{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 8; ++w)
    workers.emplace_back([&, w] {
      landed += open_storage(url)->compare_and_set_study_attrs(study, "step", nullptr, json{{"step", 1}, {"state", w}}, true);
    });
  for (auto& w : workers) w.join();
  CHECK(landed == 1);
  auto storage = open_storage(url);
  CHECK(storage->study_attrs(study, true)["step"] == 1);
  // A stale writer (still expecting 0) changes nothing; the right guard advances.
  CHECK_FALSE(storage->compare_and_set_study_attrs(study, "step", 0, json{{"step", 5}, {"state", "old"}}, true));
  CHECK(storage->study_attrs(study, true)["step"] == 1);
  CHECK(storage->compare_and_set_study_attrs(study, "step", 1, json{{"step", 2}, {"state", "new"}}, true));
  CHECK(storage->study_attrs(study, true)["state"] == "new");
  CHECK(storage->study_attrs(study, false).empty());  // user attributes untouched
}

TEST_CASE("median and successive-halving pruners follow their rules", "[store][pruner]") {
  SqliteStorage storage(":memory:");
  const int64_t study = storage.create_or_load_study("s", {StudyDirection::Maximize}).study_id;
  // Five finished trials reported 0.1 .. 0.5 at step 1: the median is 0.3.
  for (int i = 1; i <= 5; ++i) {
    const TrialRef t = storage.create_trial(study);
    storage.report_intermediate(t.trial_id, 1, 0.1 * i);
    storage.finish_trial(t.trial_id, TrialState::Complete, {0.1 * i});
  }
  const TrialRef current = storage.create_trial(study);
  auto median = make_median_pruner(5, 0);
  CHECK(median->should_prune(storage, study, current.trial_id, 1, 0.25));
  CHECK_FALSE(median->should_prune(storage, study, current.trial_id, 1, 0.35));
  CHECK_FALSE(median->should_prune(storage, study, current.trial_id, 2, 0.0));   // nobody reported step 2
  CHECK_FALSE(make_median_pruner(6, 0)->should_prune(storage, study, current.trial_id, 1, 0.0));  // still starting up
  CHECK_FALSE(make_median_pruner(5, 3)->should_prune(storage, study, current.trial_id, 1, 0.0));  // warming up

  auto halving = make_successive_halving_pruner(1, 3);
  // At rung 1, six values in all: the best 6 / 3 = 2 go on (0.5 and 0.45), the rest stop.
  CHECK_FALSE(halving->should_prune(storage, study, current.trial_id, 1, 0.45));
  CHECK(halving->should_prune(storage, study, current.trial_id, 1, 0.35));
  CHECK_FALSE(halving->should_prune(storage, study, current.trial_id, 2, 0.0));  // 2 is not a rung (1, 3, 9, ...)
  CHECK_THROWS_WITH(make_pruner("hyperband"), Catch::Contains("pruner 'hyperband'"));
  CHECK(make_pruner("none") == nullptr);
}

