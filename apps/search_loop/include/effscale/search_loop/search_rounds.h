#pragma once
// The search loop nas_search runs, safe for several threads and processes on one study. The controller
// proposes candidates in rounds of `batch`; a round's candidates are derived from the controller state stored
// on the study, so every worker computes the same round. Candidates that need training are enqueued once each
// (per-step markers), any worker claims and trains them, and when the round is finished one worker tells the
// controller the rewards in step order and advances the stored state by a compare-and-set. The stream of
// candidates and the controller's state therefore do not depend on how many workers there are or on kills.

#include <boost/program_options/variables_map.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "effscale/app_training/training_flags.h"
#include "effscale/search/controller.h"
#include "effscale/search/reward.h"
#include "effscale/search/search_space.h"
#include "effscale/store/trial.h"

namespace effscale::search_loop {

// Everything a worker needs; shared read-only by the workers of one process.
struct SearchJob {
  std::string storage_url;
  int64_t study_id = 0;
  const search::SearchSpace* space = nullptr;
  search::RewardOptions reward;
  double max_macs = 0;            // > 0: candidates above are rejected before training (reward 0)
  int trials = 0;                 // stop when the study holds this many COMPLETE or PRUNED trials
  int batch = 8;                  // candidates per controller round (a study setting)
  double stale_after_s = 30;      // a RUNNING trial without a heartbeat this long is failed and re-queued
  int max_retries = 2;            // attempts a candidate gets before it counts as failed
  std::function<std::unique_ptr<search::Controller>()> make_controller;  // fresh, before load_state
  const boost::program_options::variables_map* vm = nullptr;             // training options
  const app_training::ProxyData* data = nullptr;
  std::string out_dir;            // OUT_DIR/<step>/ holds each candidate's checkpoint and weights
};

// Runs one worker until the study holds `trials` finished candidates. `threads` is its intra-op thread
// count; `log_mutex` serialises progress lines on stderr. Throws on storage failures; a candidate whose
// training diverges is a FAIL trial with reward 0, not an error.
void run_search_worker(const SearchJob& job, int threads, std::mutex& log_mutex);

// The number of COMPLETE or PRUNED trials (evaluated candidates) among `trials`.
int evaluated_count(const std::vector<effscale::store::Trial>& trials);

}  // namespace effscale::search_loop
