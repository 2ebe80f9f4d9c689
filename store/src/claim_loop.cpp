#include "effscale/store/claim_loop.h"

#include <cmath>

#include "effscale/store/store_error.h"

namespace effscale::store {

void validate(const ClaimSettings& settings) {
  if (!(settings.stale_after_s > 0) || !std::isfinite(settings.stale_after_s))
    throw StoreInputError("stale limit " + std::to_string(settings.stale_after_s) + " s: expected a positive number of seconds");
  if (settings.max_retries < 0)
    throw StoreInputError("max retries " + std::to_string(settings.max_retries) + ": expected 0 or more");
}

std::optional<ClaimedTrial> claim_and_run(Storage& storage, int64_t study_id, const ClaimSettings& settings,
                                          const std::function<void(const Trial&)>& work, const FailurePolicy& policy) {
  validate(settings);
  storage.fail_stale_trials(study_id, settings.stale_after_s, settings.max_retries);
  const std::optional<TrialRef> claimed = storage.claim_waiting_trial(study_id);
  if (!claimed) return std::nullopt;
  ClaimedTrial outcome{storage.get_trial(claimed->trial_id), std::nullopt};
  try {
    work(outcome.trial);
  } catch (...) {
    outcome.failure = policy ? policy(std::current_exception()) : std::nullopt;
    if (!outcome.failure) throw;
    if (storage.get_trial(outcome.trial.trial_id).state == TrialState::Running)
      storage.finish_trial(outcome.trial.trial_id, TrialState::Fail, {}, {{"fail_reason", *outcome.failure}});
  }
  return outcome;
}

}  // namespace effscale::store
