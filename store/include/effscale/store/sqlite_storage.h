#pragma once
// SqliteStorage: Storage over one SQLite file in Optuna's schema (WAL mode, busy timeout).

#include <memory>
#include <mutex>

#include "effscale/store/sqlite_db.h"
#include "effscale/store/storage.h"

namespace effscale::store {

// Opens a study database (creating it when absent and `create`); ":memory:" gives a private in-memory
// one. Thread-safe (one connection behind a mutex); several processes may open the same file. Throws
// StoreInputError naming the path when it does not exist (and !create), is not a SQLite database, has
// another schema, or cannot be written; a failed open leaves an existing file unchanged.
class SqliteStorage : public Storage {
 public:
  explicit SqliteStorage(const std::string& path, bool create = true, int busy_timeout_ms = 60000);

  Study create_or_load_study(const std::string& name, const std::vector<StudyDirection>& directions) override;
  std::optional<Study> find_study(const std::string& name) override;
  std::vector<Study> list_studies() override;
  void set_study_attr(int64_t study_id, const std::string& key, const nlohmann::json& value, bool system) override;
  bool compare_and_set_study_attrs(int64_t study_id, const std::string& guard_key, const nlohmann::json& expected,
                                   const nlohmann::json& updates, bool system) override;
  nlohmann::json study_attrs(int64_t study_id, bool system) override;
  TrialRef create_trial(int64_t study_id) override;
  TrialRef create_trial_with(int64_t study_id, const std::map<std::string, ParamValue>& params,
                             const nlohmann::json& system_attrs) override;
  TrialRef enqueue_trial(int64_t study_id, const std::map<std::string, ParamValue>& params,
                         const nlohmann::json& system_attrs) override;
  bool enqueue_trials_once(int64_t study_id, const std::string& marker_key,
                           const std::vector<EnqueueRequest>& requests) override;
  std::optional<TrialRef> claim_waiting_trial(int64_t study_id) override;
  void set_param(int64_t trial_id, const std::string& name, const ParamValue& value) override;
  void report_intermediate(int64_t trial_id, int64_t step, double value) override;
  void set_trial_attr(int64_t trial_id, const std::string& key, const nlohmann::json& value, bool system) override;
  void finish_trial(int64_t trial_id, TrialState state, const std::vector<double>& values) override;
  void heartbeat(int64_t trial_id) override;
  std::vector<TrialRef> fail_stale_trials(int64_t study_id, double grace_seconds, int max_retries) override;
  Trial get_trial(int64_t trial_id) override;
  std::vector<Trial> get_trials(int64_t study_id, const std::vector<TrialState>& states) override;

 private:
  // Helpers run inside a transaction the caller holds (mutex_ locked).
  Study load_study(int64_t study_id);
  TrialRef insert_trial(int64_t study_id, TrialState state);
  TrialRef insert_waiting_trial(int64_t study_id, const std::map<std::string, ParamValue>& params,
                                const nlohmann::json& system_attrs);
  TrialState trial_state(int64_t trial_id);
  void write_param(int64_t trial_id, const std::string& name, const ParamValue& value);
  void write_attr(const char* table, const char* owner, int64_t id, const std::string& key, const nlohmann::json& value);
  void write_heartbeat(int64_t trial_id);
  Trial read_trial(int64_t trial_id);

  std::mutex mutex_;
  SqliteDb db_;
};

// Current time as Optuna stores it: naive UTC "YYYY-MM-DD HH:MM:SS.ffffff".
std::string utc_now_string(double seconds_offset = 0.0);

}  // namespace effscale::store
