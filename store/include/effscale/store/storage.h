#pragma once
// Storage: the narrow interface every study backend implements (in the spirit of Optuna's
// BaseStorage). Every method is one transaction; errors: StoreInputError for a missing study or trial
// or a change the trial's state forbids, StoreFailure when the backend fails.
// Implementations are safe to use from several threads and processes at once.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "effscale/store/optuna_schema.h"
#include "effscale/store/trial.h"

namespace effscale::store {

// Identity of a trial just created or claimed.
struct TrialRef {
  int64_t trial_id = 0;
  int number = 0;
};

class Storage {
 public:
  virtual ~Storage() = default;

  // Returns the study named `name`, creating it with `directions` when it does not exist. Throws
  // StoreInputError when it exists with other directions, or when directions is empty.
  virtual Study create_or_load_study(const std::string& name, const std::vector<StudyDirection>& directions) = 0;
  // The study named `name`, or nothing.
  virtual std::optional<Study> find_study(const std::string& name) = 0;
  // Every study, by id.
  virtual std::vector<Study> list_studies() = 0;
  // Sets (inserts or replaces) a study attribute; user attributes are the user's, system ones effscale's.
  virtual void set_study_attr(int64_t study_id, const std::string& key, const nlohmann::json& value, bool system) = 0;
  // In one transaction: when the study attribute `guard_key` equals `expected` (null: the attribute is absent),
  // sets every key of the JSON object `updates` and returns true; otherwise changes nothing and returns false.
  // Workers that each computed the same next state use it so that exactly one state advance lands.
  virtual bool compare_and_set_study_attrs(int64_t study_id, const std::string& guard_key, const nlohmann::json& expected,
                                           const nlohmann::json& updates, bool system) = 0;
  // All user (or system) attributes of a study as a JSON object.
  virtual nlohmann::json study_attrs(int64_t study_id, bool system) = 0;

  // Creates a RUNNING trial with the next number and a heartbeat now, holding `params` and `system_attrs`
  // from the start: one transaction, so a worker killed while creating it leaves no half-made trial.
  virtual TrialRef create_trial_with(int64_t study_id, const std::map<std::string, ParamValue>& params,
                                     const nlohmann::json& system_attrs) = 0;
  // create_trial_with(study_id, {}, {}): a RUNNING trial with nothing yet.
  TrialRef create_trial(int64_t study_id);
  // A trial to enqueue: its params and system attributes.
  struct EnqueueRequest {
    std::map<std::string, ParamValue> params;
    nlohmann::json system_attrs = nlohmann::json::object();
  };
  // In one transaction: unless the study already has the system attribute `marker_key`, enqueues every
  // request as a WAITING trial holding its params (also written as Optuna's `fixed_params` system attribute,
  // so Optuna runs it with them) and system attributes, and sets the marker to true. Returns whether it
  // enqueued. Any number of workers can call this at once; exactly one enqueues.
  virtual bool enqueue_trials_once(int64_t study_id, const std::string& marker_key,
                                   const std::vector<EnqueueRequest>& requests) = 0;
  // Claims the oldest WAITING trial of the study by a compare-and-set of its state to RUNNING (also
  // setting its start time and heartbeat), or returns nothing when none is waiting. Two workers never
  // claim the same trial.
  virtual std::optional<TrialRef> claim_waiting_trial(int64_t study_id) = 0;

  // Records the intermediate value of `step` (replacing an earlier report of the same step).
  virtual void report_intermediate(int64_t trial_id, int64_t step, double value) = 0;
  // Sets (inserts or replaces) every key of the JSON object `attrs` as a trial attribute (user or system), in
  // one transaction. Throws StoreInputError when `attrs` is not an object or there is no such trial.
  virtual void set_trial_attrs(int64_t trial_id, const nlohmann::json& attrs, bool system) = 0;
  // Sets one trial attribute: set_trial_attrs with a one-key object.
  void set_trial_attr(int64_t trial_id, const std::string& key, const nlohmann::json& value, bool system);
  // Finishes a RUNNING trial with `state` (COMPLETE, PRUNED or FAIL), its values and the user attributes of
  // the JSON object `user_attrs`, in one transaction (Optuna's set_trial_state_values): nothing of the finish is
  // visible before all of it is. Throws StoreInputError when the trial is not RUNNING, the state is not a
  // finished one or a value is NaN; the trial is then unchanged.
  virtual void finish_trial(int64_t trial_id, TrialState state, const std::vector<double>& values,
                            const nlohmann::json& user_attrs = nlohmann::json::object()) = 0;

  // Records that a RUNNING trial is alive now.
  virtual void heartbeat(int64_t trial_id) = 0;
  // What the caller should tell the user about the database it opened (a schema revision newer than effscale
  // knows, read only); empty when nothing.
  virtual std::string open_warning() const { return ""; }
  // Fails every RUNNING trial of the study whose heartbeat is older than `grace_seconds`, and those of the
  // RUNNING trials `also` (ids; e.g. held by a worker known to be dead), and re-queues each as a WAITING trial
  // with the same params and system attributes `failed_trial` (the failed trial's number) and `retry_history`
  // (numbers of every earlier attempt), unless it already has `max_retries` attempts behind it. One
  // transaction. Returns the trials it failed.
  virtual std::vector<TrialRef> fail_stale_trials(int64_t study_id, double grace_seconds, int max_retries,
                                                  const std::vector<int64_t>& also = {}) = 0;

  // One trial. Throws StoreInputError when there is no trial with that id.
  virtual Trial get_trial(int64_t trial_id) = 0;
  // Every trial of the study in number order, optionally only those in `states`.
  virtual std::vector<Trial> get_trials(int64_t study_id, const std::vector<TrialState>& states = {}) = 0;
};

// Opens the storage a URL names: "sqlite:///relative/path.db", "sqlite:////absolute/path.db" (SQLAlchemy's
// spelling, as Optuna takes it) or "sqlite:///:memory:". A missing database is created when `create`.
// Throws StoreInputError naming the URL when the scheme is not supported, or the database does not exist
// (and !create) or cannot be opened as a study database. A database given the schema is at `revision`.
std::unique_ptr<Storage> open_storage(const std::string& url, bool create = true,
                                      SchemaRevision revision = SchemaRevision::Optuna30);

// The storage URL used when none is given: $EFFSCALE_STORAGE if set, else $OPTUNA_STORAGE (as Optuna's CLI
// reads it) if set, else "sqlite:///effscale.db".
std::string default_storage_url();

}  // namespace effscale::store
