// store_worker: a separate process working on a study, for the multi-process store tests.
//   store_worker URL STUDY drain            claim WAITING trials until none is left; finish each COMPLETE
//                                           with its number as value; print how many it finished
//   store_worker URL STUDY create N         create and finish N trials
//   store_worker URL STUDY enqueue N        enqueue N WAITING trials (once per study), in one transaction
//   store_worker URL STUDY hang             claim one WAITING trial, print "claimed NUMBER", then sleep
//                                           until killed (never heartbeats again)
//   store_worker URL STUDY reap GRACE MAX   fail stale trials (grace seconds, retry limit); print the count

#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "effscale/store/storage.h"

using namespace effscale::store;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: store_worker URL STUDY drain|create N|enqueue N|hang|reap GRACE MAX\n";
    return 2;
  }
  try {
    auto storage = open_storage(argv[1]);
    const int64_t study = storage->create_or_load_study(argv[2], {StudyDirection::Maximize}).study_id;
    const std::string mode = argv[3];
    if (mode == "drain") {
      int finished = 0;
      while (auto t = storage->claim_waiting_trial(study)) {
        storage->set_trial_attr(t->trial_id, "worker", static_cast<int64_t>(::getpid()), true);
        storage->finish_trial(t->trial_id, TrialState::Complete, {static_cast<double>(t->number)});
        ++finished;
      }
      std::cout << finished << "\n";
    } else if (mode == "create" && argc == 5) {
      for (int i = 0; i < std::stoi(argv[4]); ++i)
        storage->finish_trial(storage->create_trial(study).trial_id, TrialState::Complete, {-1.0});
    } else if (mode == "enqueue" && argc == 5) {
      std::vector<Storage::EnqueueRequest> requests(static_cast<size_t>(std::stoi(argv[4])));
      storage->enqueue_trials_once(study, "store_worker_enqueued", requests);
    } else if (mode == "hang") {
      auto t = storage->claim_waiting_trial(study);
      if (!t) return 1;
      std::cout << "claimed " << t->number << std::endl;
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    } else if (mode == "reap" && argc == 6) {
      std::cout << storage->fail_stale_trials(study, std::stod(argv[4]), std::stoi(argv[5])).size() << "\n";
    } else {
      std::cerr << "store_worker: unknown mode\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "store_worker: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
