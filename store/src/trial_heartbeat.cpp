#include "effscale/store/trial_heartbeat.h"

namespace effscale::store {

TrialHeartbeat::TrialHeartbeat(Storage& storage, int64_t trial_id, std::chrono::milliseconds interval)
    : storage_(storage), trial_id_(trial_id), interval_(interval), thread_([this] { run(); }) {}

TrialHeartbeat::~TrialHeartbeat() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::string TrialHeartbeat::last_error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void TrialHeartbeat::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    lock.unlock();
    std::string failure;
    try {
      storage_.heartbeat(trial_id_);
    } catch (const std::exception& e) {
      failure = e.what();
    }
    lock.lock();
    if (!failure.empty()) {
      error_ = failure;
      return;
    }
    wake_.wait_for(lock, interval_, [this] { return stop_; });
  }
}

}  // namespace effscale::store
