// A study database the environment gets in the way of: read-only files, locks held by another program, a full disk.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

#include "effscale/store/sqlite_storage.h"
#include "effscale/store/store_error.h"
#include "file_size_limit.h"
#include "read_only_file.h"
#include "run_command.h"
#include "temp_dir.h"

using namespace effscale::store;
using effscale::testing::run_command;
using effscale::testing::shell_quote;

TEST_CASE("a read-only database is read, and refused by name before any write", "[store][faults]") {
  effscale::testing::TempDir dir;
  const std::string db = dir.file("study.db");
  {
    SqliteStorage storage(db);
    const int64_t study = storage.create_or_load_study("s", {StudyDirection::Maximize}).study_id;
    storage.finish_trial(storage.create_trial(study).trial_id, TrialState::Complete, {0.5});
  }
  const effscale::testing::ReadOnlyFile read_only(db);
  if (!read_only.made()) {
    WARN("cannot make a file read-only here (root without CAP_LINUX_IMMUTABLE); not tested");
    return;
  }
  const std::string before = effscale::testing::read_file(db);
  SqliteStorage reader(db, /*create=*/false);  // queries still work
  CHECK(reader.get_trials(reader.find_study("s")->study_id, {}).size() == 1);
  CHECK_THROWS_MATCHES(SqliteStorage(db), StoreInputError,
                       Catch::Matchers::Message("database '" + db + "' is read-only (file or folder permissions, an "
                                                "immutable flag or a read-only filesystem); this command records to "
                                                "it: make it writable or give another --storage"));
  CHECK(effscale::testing::read_file(db) == before);
}

TEST_CASE("a database locked by another program past the busy timeout fails naming the lock and the file",
          "[store][faults]") {
  effscale::testing::TempDir dir;
  const std::string db = dir.file("study.db");
  SqliteStorage storage(db, true, SchemaRevision::Optuna30, /*busy_timeout_ms=*/300);
  const int64_t study = storage.create_or_load_study("s", {StudyDirection::Maximize}).study_id;
  // Python's sqlite3 takes the write lock and holds it 8 s ("locked" on stdout once it does), far past the 300 ms
  // busy timeout: a write that waited for it would succeed, so only the refusal passes.
  const std::string holder = dir.write("hold.py", R"PY(
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(8)
c.execute("ROLLBACK")
)PY");
  const std::string ready = dir.file("ready");
  REQUIRE(run_command("(/usr/bin/python3 " + shell_quote(holder) + " " + shell_quote(db) + " > " + shell_quote(ready) +
                      " &) ; for i in $(seq 600); do grep -q locked " + shell_quote(ready) +
                      " 2>/dev/null && exit 0; sleep 0.05; done; exit 1")
              .exit_status == 0);
  const auto names_the_lock = Catch::Matchers::Predicate<StoreLocked>([&](const StoreLocked& e) {
    return std::string(e.what()).rfind("database '" + db + "' is locked: another program has held its lock for "
                                       "longer than the busy timeout", 0) == 0;
  });
  CHECK_THROWS_MATCHES(storage.create_trial(study), StoreLocked, names_the_lock);  // a write of an open storage
  CHECK_THROWS_MATCHES(SqliteStorage(db, true, SchemaRevision::Optuna30, 300), StoreLocked, names_the_lock);  // an open
}

TEST_CASE("a database on a full disk fails naming the disk, keeps its committed state and takes writes once there is "
          "room",
          "[store][faults]") {
  namespace fs = std::filesystem;
  effscale::testing::TempDir dir;
  const std::string db = dir.file("study.db");
  SqliteStorage storage(db);
  const int64_t study = storage.create_or_load_study("s", {StudyDirection::Maximize}).study_id;
  const int64_t trial = storage.create_trial(study).trial_id;
  storage.set_trial_attrs(trial, {{"small", 1}}, /*system=*/false);
  const nlohmann::json large = {{"large", std::string(1 << 20, 'x')}};  // needs more pages than the disk has
  {
    uint64_t longest = 0;  // no file of the database may grow: the disk is full
    for (const std::string& file : {db, db + "-wal", db + "-shm"})
      if (fs::exists(file)) longest = std::max<uint64_t>(longest, fs::file_size(file));
    const effscale::testing::FileSizeLimit full_disk(longest + 4096);
    CHECK_THROWS_MATCHES(storage.set_trial_attrs(trial, large, false), StoreDiskFailure,
                         Catch::Matchers::Predicate<StoreDiskFailure>([&](const StoreDiskFailure& e) {
                           const std::string message = e.what();
                           return message.rfind("database '" + db + "' ", 0) == 0 &&
                                  message.find("disk") != std::string::npos &&
                                  message.find("keeps its last committed state") != std::string::npos;
                         }));
    // Opening it again while the disk is full fails the same way, never as "not a study database".
    try {
      SqliteStorage again(db);
    } catch (const StoreInputError& e) {
      FAIL("a full disk was reported as bad input: " << e.what());
    } catch (const StoreFailure&) {
    }
  }
  CHECK(run_command("sqlite3 " + shell_quote(db) + " 'PRAGMA integrity_check'").out == "ok\n");
  const Trial kept = storage.get_trial(trial);
  CHECK(kept.user_attrs == nlohmann::json({{"small", 1}}));  // the failed write left nothing behind
  CHECK(kept.state == TrialState::Running);
  storage.set_trial_attrs(trial, large, false);  // room again: the same write succeeds
  storage.finish_trial(trial, TrialState::Complete, {0.5});
  CHECK(SqliteStorage(db).get_trial(trial).user_attrs["large"].get<std::string>().size() == size_t(1) << 20);
}
