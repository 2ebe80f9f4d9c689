#include "effscale/store/claim_loop.h"

#include <cerrno>
#include <cmath>

#include <signal.h>
#include <unistd.h>

#include "effscale/store/store_error.h"

namespace effscale::store {

void validate(const ClaimSettings& settings) {
  if (!(settings.stale_after_s > 0) || !std::isfinite(settings.stale_after_s))
    throw StoreInputError("stale limit " + std::to_string(settings.stale_after_s) + " s: expected a positive number of seconds");
  if (settings.max_retries < 0)
    throw StoreInputError("max retries " + std::to_string(settings.max_retries) + ": expected 0 or more");
}

namespace {

std::string host_name() {
  char name[256] = {};
  return gethostname(name, sizeof name - 1) == 0 ? std::string(name) : std::string();
}

// Whether process `pid` exists on this host (a zombie counts: its parent has not reaped it yet).
bool process_exists(int64_t pid) { return pid > 0 && (kill(pid_t(pid), 0) == 0 || errno != ESRCH); }

}  // namespace

std::vector<int64_t> trials_of_dead_local_workers(Storage& storage, int64_t study_id) {
  const std::string host = host_name();
  const int64_t self = getpid();
  std::vector<int64_t> dead;
  for (const Trial& t : storage.get_trials(study_id, {TrialState::Running})) {
    const int64_t pid = t.system_attrs.value("worker_pid", int64_t{0});
    if (!host.empty() && t.system_attrs.value("worker_host", std::string()) == host && pid != self && !process_exists(pid))
      dead.push_back(t.trial_id);
  }
  return dead;
}

std::optional<ClaimedTrial> claim_and_run(Storage& storage, int64_t study_id, const ClaimSettings& settings,
                                          const std::function<void(const Trial&)>& work, const FailurePolicy& policy) {
  validate(settings);
  storage.fail_stale_trials(study_id, settings.stale_after_s, settings.max_retries,
                            trials_of_dead_local_workers(storage, study_id));
  const std::optional<TrialRef> claimed = storage.claim_waiting_trial(study_id);
  if (!claimed) return std::nullopt;
  storage.set_trial_attrs(claimed->trial_id, {{"worker_host", host_name()}, {"worker_pid", int64_t(getpid())}}, true);
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
