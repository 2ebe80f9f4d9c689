#pragma once
// The line a worker loop prints when a trial finishes, in Optuna's words, with the study's progress.

#include <chrono>
#include <optional>
#include <string>

#include "effscale/store/trial.h"

namespace effscale::store {

// Optuna's log line for a finished trial, then the progress: "Trial 3 finished with value: 0.71 and
// parameters: {'alpha': 1.2, 'kernel': 5}. Best is trial 1 with value: 0.74. [4/10 done, ETA 1m30s]"; a PRUNED
// trial reads "Trial 3 pruned.", a FAIL one "Trial 3 failed: <fail_reason>.". The best part is left out when
// `best` is empty, the progress when `total` is 0, the ETA when `eta_seconds` is negative.
std::string trial_finished_line(const Trial& trial, const std::optional<Trial>& best, int done, int total,
                                double eta_seconds);

// The time a study's remaining trials need at the pace of all its workers since one of them started.
class ProgressClock {
 public:
  // Starts now, when `done_at_start` trials of the study were already finished.
  explicit ProgressClock(int done_at_start);
  // Seconds the `total - done` unfinished trials need at the pace since construction (0 when none is left).
  double eta_seconds(int done, int total) const;

 private:
  std::chrono::steady_clock::time_point started_;
  int done_at_start_;
};

// A duration as people read it: "45s", "3m05s", "2h10m".
std::string short_duration(double seconds);

}  // namespace effscale::store
