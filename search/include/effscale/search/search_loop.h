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
#include "effscale/store/sample_statistics.h"
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
  int trials = 0;                 // stop when the study holds this many evaluated candidates (>= 1): trials x seeds
                                  // COMPLETE or PRUNED trials
  int batch = 8;                  // candidates per controller round (a study setting, >= 1)
  int seeds = 1;                  // trainings per candidate, seeds recipe.seed + 0 .. seeds - 1 on the same data (a
                                  // study setting, >= 1); the controller is told the mean of their rewards
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

// The number of COMPLETE or PRUNED trials (evaluated trainings; a candidate has one per seed) among `trials`.
int evaluated_count(const std::vector<store::Trial>& trials);

// The seed of a search trial: its system attribute seed_index, 0 when it has none (searches of one seed).
int seed_index_of(const store::Trial& trial);

// One candidate of a search over its seeds.
struct CandidateResult {
  int64_t step = 0;                  // its controller step
  std::vector<double> rewards;       // the reward of each seed, in seed order
  std::vector<double> val_top1;      // the validation top-1 of each seed, in seed order (NaN where not recorded)
  double reward = 0;                 // the mean of `rewards`: what the controller was told
  store::SampleSummary accuracy;     // the mean of `val_top1` and its 95% interval
  const store::Trial* first = nullptr;  // its trial of seed 0 (points into the trials given)
};

// The candidates of `trials` (a search's) whose `seeds` latest trials are all COMPLETE, best mean reward first
// (ties: the earlier step). The results point into `trials`, which must outlive them.
std::vector<CandidateResult> rank_candidates(const std::vector<store::Trial>& trials, int seeds);

// The candidate (choice indices in decision order) a search trial holds in its params. Throws StoreInputError
// when a decision of `space` is missing.
Candidate candidate_of(const SearchSpace& space, const store::Trial& trial);

}  // namespace effscale::search
