#pragma once
// TrialRecorder: one run reported to its RUNNING trial, from the attributes it starts with to one atomic finish.

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "effscale/store/pruner.h"
#include "effscale/store/storage.h"
#include "effscale/store/trial_heartbeat.h"

namespace effscale::store {

// Records a run into a RUNNING trial. Construction writes the start attributes in one transaction and starts
// a heartbeat; finish() writes the final attributes, values and state in one more (Storage::finish_trial), so a
// kill at any moment leaves the trial either RUNNING with its start attributes (a rerun or a stale-trial sweep
// takes it over) or finished with everything. `storage` must outlive the recorder. Not thread-safe: one run
// reports from one thread (the heartbeat has its own).
class TrialRecorder {
 public:
  // Starts recording `trial`: sets every key of the JSON object `start_attrs` as a user attribute (one
  // transaction) and beats every `heartbeat_every`. Throws StoreInputError when the trial is not RUNNING.
  TrialRecorder(Storage& storage, const Trial& trial, const nlohmann::json& start_attrs,
                std::chrono::milliseconds heartbeat_every = std::chrono::seconds(2));
  // Stops the heartbeat. An unfinished trial stays RUNNING (a worker's failure is recorded by fail()).
  ~TrialRecorder();
  TrialRecorder(const TrialRecorder&) = delete;
  TrialRecorder& operator=(const TrialRecorder&) = delete;

  // The trial being recorded.
  const Trial& trial() const { return trial_; }

  // Records `value` as the intermediate value of `step`, then asks `pruner` (none when null) whether the run
  // should stop there; a run at its `last_step` is never pruned. Returns true to stop.
  bool report(int64_t step, double value, Pruner* pruner, bool last_step);

  // Finishes the trial with `state`, `values` and the user attributes of the object `final_attrs`, in one
  // transaction, after stopping the heartbeat. Throws StoreInputError as Storage::finish_trial does.
  void finish(TrialState state, const std::vector<double>& values, const nlohmann::json& final_attrs);

  // finish(FAIL, {}, {"fail_reason": reason}).
  void fail(const std::string& reason);

 private:
  Storage& storage_;
  Trial trial_;
  std::unique_ptr<TrialHeartbeat> heartbeat_;
};

}  // namespace effscale::store
