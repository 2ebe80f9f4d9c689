#pragma once
// TrialHeartbeat: keeps a RUNNING trial's heartbeat fresh from a background thread while work runs.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "effscale/store/storage.h"

namespace effscale::store {

// Calls storage.heartbeat(trial_id) now and then every `interval` until destroyed. `storage` must outlive
// this object and be thread-safe (every Storage is). A failed heartbeat (the trial was failed by
// another worker, or the database is unreachable) stops the beats and is reported by last_error().
class TrialHeartbeat {
 public:
  TrialHeartbeat(Storage& storage, int64_t trial_id, std::chrono::milliseconds interval);
  // Stops the thread (waits at most one heartbeat call).
  ~TrialHeartbeat();
  TrialHeartbeat(const TrialHeartbeat&) = delete;
  TrialHeartbeat& operator=(const TrialHeartbeat&) = delete;
  // The message of the heartbeat that failed, or "" while all succeeded.
  std::string last_error() const;

 private:
  void run();

  Storage& storage_;
  const int64_t trial_id_;
  const std::chrono::milliseconds interval_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::string error_;
  std::thread thread_;
};

}  // namespace effscale::store
