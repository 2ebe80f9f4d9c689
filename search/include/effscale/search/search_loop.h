#pragma once
// The search loop nas_search runs, safe for several threads and processes on one study. The controller
// proposes candidates in rounds of `batch`; a round's candidates are derived from the controller state stored
// on the study, so every worker computes the same round. Candidates that need training are enqueued once each
// (per-step markers), any worker claims and trains them (the shared claim step: stale trials re-queued, the
// training failure policy), and when the round is finished one worker tells the controller the rewards in step
// order and advances the stored state by a compare-and-set. The stream of candidates and the controller's state
// therefore do not depend on how many workers there are or on kills.

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "effscale/search/controller.h"
#include "effscale/search/reward.h"
#include "effscale/search/search_space.h"
#include "effscale/store/claim_loop.h"
#include "effscale/store/pruner.h"
#include "effscale/store/storage.h"
#include "effscale/store/trial.h"
#include "effscale/trainers/training_run.h"

namespace effscale::search {

// Everything a worker needs; shared read-only by the workers of one process.
struct SearchJob {
  // Opens a connection to the study database; each worker calls it once (tests wrap it to inject faults).
  std::function<std::unique_ptr<store::Storage>()> connect;
  int64_t study_id = 0;
  const SearchSpace* space = nullptr;   // not owned; outlives the workers
  RewardOptions reward;
  double max_macs = 0;            // > 0: candidates above are rejected before training (reward 0)
  int trials = 0;                 // stop when the study holds this many COMPLETE or PRUNED trials (>= 1)
  int batch = 8;                  // candidates per controller round (a study setting, >= 1)
  store::ClaimSettings claim;     // stale limit and retries of a candidate
  std::function<std::unique_ptr<Controller>()> make_controller;  // fresh, before load_state
  trainers::ProxyTraining training;  // how every candidate is trained on the proxy task
  store::PrunerKind pruner = store::PrunerKind::None;  // stops candidates behind the study after an epoch
  const trainers::ProxyData* data = nullptr;  // not owned; outlives the workers
  std::string out_dir;            // OUT_DIR/<step>/ holds each candidate's checkpoint, weights and train.log
  std::function<void(const std::string& line)> log;  // progress lines; called from any worker (must be thread-safe)
};

// Runs one worker until the study holds `trials` finished candidates, with `threads` intra-op threads. Throws
// on storage failures, or std::runtime_error when the controller keeps proposing known or rejected
// architectures; a candidate whose training diverges, runs out of memory or meets bad data is a FAIL trial with
// reward 0 and its fail_reason, not an error.
void run_search_worker(const SearchJob& job, int threads);

// The number of COMPLETE or PRUNED trials (evaluated candidates) among `trials`.
int evaluated_count(const std::vector<store::Trial>& trials);

// The candidate (choice indices in decision order) a search trial holds in its params. Throws StoreInputError
// when a decision of `space` is missing.
Candidate candidate_of(const SearchSpace& space, const store::Trial& trial);

}  // namespace effscale::search
