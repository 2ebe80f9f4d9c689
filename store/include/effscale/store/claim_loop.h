#pragma once
// The claim step every worker loop shares (the search's candidates, the grid's points): re-queue the trials of
// dead workers, claim one WAITING trial, run it, and turn the failures that belong to the trial into FAIL trials.

#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "effscale/store/storage.h"

namespace effscale::store {

// What every claim loop is configured by.
struct ClaimSettings {
  double stale_after_s = 30;  // a RUNNING trial whose heartbeat is older than this is failed and re-queued (> 0)
  int max_retries = 2;        // re-queued attempts a trial gets after its first before it stays FAIL (>= 0)
};

// Maps an exception escaping a trial's work to the reason that trial fails with (divergence, out of memory, bad
// data), or nothing when the error is not the trial's own and must stop the worker (storage trouble, bad
// settings). Called inside a catch block with std::current_exception().
using FailurePolicy = std::function<std::optional<std::string>(const std::exception_ptr&)>;

// What became of one claimed trial.
struct ClaimedTrial {
  Trial trial;                          // as it was claimed
  std::optional<std::string> failure;   // the reason, when the work failed by the policy (the trial is FAIL)
};

// The RUNNING trials of the study held by a worker process of this host that no longer exists (system attributes
// worker_host and worker_pid, which claim_and_run records): their worker is known dead, so they need not wait for
// the stale limit. Trials of this process and of other hosts are never listed.
std::vector<int64_t> trials_of_dead_local_workers(Storage& storage, int64_t study_id);

// Fails and re-queues the study's stale trials (settings) and those of dead local workers, claims its oldest
// WAITING trial, records this worker on it (system attributes worker_host, worker_pid) and runs work(trial).
// Returns nothing when no trial was waiting. When work throws and `policy` gives a reason, the trial is finished
// as FAIL with the user attribute fail_reason (unless work already finished it) and the reason is returned;
// any other exception propagates and leaves the trial RUNNING, for a later sweep to re-queue. Throws
// StoreInputError for settings out of range.
std::optional<ClaimedTrial> claim_and_run(Storage& storage, int64_t study_id, const ClaimSettings& settings,
                                          const std::function<void(const Trial&)>& work, const FailurePolicy& policy);

// Throws StoreInputError naming the setting when `settings` is out of range.
void validate(const ClaimSettings& settings);

}  // namespace effscale::store
