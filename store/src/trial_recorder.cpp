#include "effscale/store/trial_recorder.h"

#include "effscale/store/store_error.h"

namespace effscale::store {

TrialRecorder::TrialRecorder(Storage& storage, const Trial& trial, const nlohmann::json& start_attrs,
                             std::chrono::milliseconds heartbeat_every)
    : storage_(storage), trial_(trial) {
  if (storage_.get_trial(trial.trial_id).state != TrialState::Running)
    throw StoreInputError("trial " + std::to_string(trial.number) + " is not RUNNING; it cannot be recorded");
  storage_.set_trial_attrs(trial.trial_id, start_attrs, false);
  heartbeat_ = std::make_unique<TrialHeartbeat>(storage_, trial.trial_id, heartbeat_every);
}

TrialRecorder::~TrialRecorder() = default;

bool TrialRecorder::report(int64_t step, double value, Pruner* pruner, bool last_step) {
  storage_.report_intermediate(trial_.trial_id, step, value);
  return pruner != nullptr && !last_step && pruner->should_prune(storage_, trial_.study_id, trial_.trial_id, step, value);
}

void TrialRecorder::finish(TrialState state, const std::vector<double>& values, const nlohmann::json& final_attrs) {
  heartbeat_.reset();
  storage_.finish_trial(trial_.trial_id, state, values, final_attrs);
}

void TrialRecorder::fail(const std::string& reason) { finish(TrialState::Fail, {}, {{"fail_reason", reason}}); }

}  // namespace effscale::store
