#pragma once
// SqlStorage: Storage over a relational database in Optuna's schema, through a SqlConnection (SQLite or
// PostgreSQL); the concrete storages are in sqlite_storage.h and postgres_storage.h.

#include <memory>
#include <mutex>

#include "effscale/store/sql_connection.h"
#include "effscale/store/storage.h"

namespace effscale::store {

// Thread-safe (one connection behind a mutex); several processes (and, with PostgreSQL, hosts) may open
// the same database. Every change is one transaction holding the database's write lock (get_trials reads
// under it too, for one consistent view).
class SqlStorage : public Storage {
 public:
  // Creates Optuna's schema in an empty database or checks an existing one. Throws StoreInputError naming
  // the database when it has another schema or cannot be written; a failed open changes nothing.
  // With `create` false (opened to read) an empty database is refused, not given the schema, and a revision
  // newer than effscale knows is read with a warning (open_warning). A database it creates is at `revision`.
  explicit SqlStorage(std::unique_ptr<SqlConnection> db, bool create = true,
                      SchemaRevision revision = SchemaRevision::Optuna30);
  std::string open_warning() const override { return open_warning_; }

  Study create_or_load_study(const std::string& name, const std::vector<StudyDirection>& directions) override;
  std::optional<Study> find_study(const std::string& name) override;
  std::vector<Study> list_studies() override;
  void set_study_attr(int64_t study_id, const std::string& key, const nlohmann::json& value, bool system) override;
  bool compare_and_set_study_attrs(int64_t study_id, const std::string& guard_key, const nlohmann::json& expected,
                                   const nlohmann::json& updates, bool system) override;
  nlohmann::json study_attrs(int64_t study_id, bool system) override;
  TrialRef create_trial_with(int64_t study_id, const std::map<std::string, ParamValue>& params,
                             const nlohmann::json& system_attrs) override;
  bool enqueue_trials_once(int64_t study_id, const std::string& marker_key,
                           const std::vector<EnqueueRequest>& requests) override;
  std::optional<TrialRef> claim_waiting_trial(int64_t study_id) override;
  void report_intermediate(int64_t trial_id, int64_t step, double value) override;
  void set_trial_attrs(int64_t trial_id, const nlohmann::json& attrs, bool system) override;
  void finish_trial(int64_t trial_id, TrialState state, const std::vector<double>& values,
                    const nlohmann::json& user_attrs = nlohmann::json::object()) override;
  void heartbeat(int64_t trial_id) override;
  std::vector<TrialRef> fail_stale_trials(int64_t study_id, double grace_seconds, int max_retries,
                                          const std::vector<int64_t>& also = {}) override;
  Trial get_trial(int64_t trial_id) override;
  std::vector<Trial> get_trials(int64_t study_id, const std::vector<TrialState>& states = {}) override;

  // Beyond the Storage interface (no command needs them; tests and Optuna-style clients do):
  // Creates one WAITING trial holding `params` (also as Optuna's `fixed_params`) and `system_attrs`.
  TrialRef enqueue_trial(int64_t study_id, const std::map<std::string, ParamValue>& params,
                         const nlohmann::json& system_attrs = nlohmann::json::object());
  // Sets a parameter of a RUNNING or WAITING trial (Optuna's suggest). Throws StoreInputError for a finished trial.
  void set_param(int64_t trial_id, const std::string& name, const ParamValue& value);

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
  std::string open_warning_;

 protected:
  std::unique_ptr<SqlConnection> db_;
};

// Current time as Optuna stores it: naive UTC "YYYY-MM-DD HH:MM:SS.ffffff".
std::string utc_now_string(double seconds_offset = 0.0);

}  // namespace effscale::store
