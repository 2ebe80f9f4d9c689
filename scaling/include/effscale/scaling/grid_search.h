#pragma once
// Step 1 of compound scaling as a loop over a study, for any number of threads and processes: enumerate the
// admissible (alpha, beta, gamma), enqueue each as a WAITING trial once, claim and train the phi = 1 model of
// each on the proxy task (the shared claim step: stale trials re-queued, the training failure policy), record
// its cost, and pick the best point once every point is done.

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "effscale/models/arch_spec.h"
#include "effscale/scaling/coefficients.h"
#include "effscale/scaling/scaled_model.h"
#include "effscale/store/claim_loop.h"
#include "effscale/store/pruner.h"
#include "effscale/store/sample_statistics.h"
#include "effscale/store/storage.h"
#include "effscale/trainers/training_run.h"

namespace effscale::scaling {

// What defines a grid: the baseline, the three ranges and the tolerance on alpha * beta^2 * gamma^2 - 2.
struct GridDefinition {
  models::ArchSpec baseline;
  GridRange alpha, beta, gamma;
  double tolerance = 0.1;  // keep points with |alpha beta^2 gamma^2 - 2| <= tolerance (>= 0)
  int seeds = 1;           // trainings per point, seeds recipe.seed + 0 .. seeds - 1 on the same data (>= 1)
  // The baseline as it is trained (shrunk to the proxy). When set, a point is admissible only when its phi = 1
  // network as actually trained (this spec scaled, after rounding, resolution divisor 1) realises 2x this spec's
  // multiply-adds within macs_tolerance (relative): equal cost where the accuracy is measured.
  std::optional<models::ArchSpec> trained_baseline;
  double macs_tolerance = 0.1;
};

// The phi = 1 network of `c` as a grid worker trains it: `trained_baseline` (the baseline shrunk to the proxy,
// trainers::trained_spec) scaled with resolution divisor 1. Its macs_ratio is what admissibility tests.
ScaledModel trained_model(const models::ArchSpec& trained_baseline, const Coefficients& c);

// The points of `grid` that are admissible: |alpha beta^2 gamma^2 - 2| <= tolerance and, with a trained
// baseline, realised multiply-adds within macs_tolerance of twice its own. Same order as admissible_grid.
std::vector<GridPoint> grid_points(const GridDefinition& grid);

// Why `grid` has no admissible point: the factor test alone, or how close the realised ratios come.
std::string no_point_reason(const GridDefinition& grid);

// The grid's identity as stored on its study (user attribute grid_settings): baseline, ranges, tolerance, the
// seeds per point when more than one, and macs_tolerance with a trained baseline. A study made before
// macs_tolerance existed keeps its points (its settings match without it).
nlohmann::json grid_settings(const GridDefinition& grid);

// Makes `study_id` the study of `grid`: stores its settings (unless they are there), then enqueues every
// admissible point once per study whoever calls, `seeds` trials each (system attributes grid_id and, with more
// than one seed, seed_index). Returns how many trials this call enqueued (0 when they were already). Throws
// std::invalid_argument when no point is admissible, or when the study holds a grid with other settings
// (baseline, ranges, tolerance or seeds); the study is then unchanged.
size_t prepare_grid_study(store::Storage& storage, int64_t study_id, const GridDefinition& grid);

// Everything a grid worker needs; shared read-only by the workers of one process.
struct GridJob {
  // Opens a connection to the study database; each worker calls it once (tests wrap it to inject faults).
  std::function<std::unique_ptr<store::Storage>()> connect;
  int64_t study_id = 0;
  models::ArchSpec baseline;     // the full-size baseline the coefficients scale
  trainers::ProxyTraining training;  // how every point's phi = 1 model is shrunk and trained
  store::PrunerKind pruner = store::PrunerKind::None;
  store::ClaimSettings claim{120.0, 2};  // stale limit and retries of a point
  const trainers::ProxyData* data = nullptr;  // not owned; outlives the workers
  std::string out_dir;           // OUT_DIR/<grid_id>/ holds each point's checkpoint, weights and train.log
  std::function<void(const std::string& line)> log;  // progress lines; called from any worker (thread-safe)
};

// Claims and trains points until every point is finished: while other workers hold points it waits, and trains
// those of dead workers once the claim step re-queues them. Uses `threads` intra-op threads; returns how many
// points this worker completed. Each trial records user attributes grid_id, flops_factor (alpha beta^2 gamma^2),
// target_macs, target_params, target_resolution (of the full-size phi = 1 model) and macs_ratio (the trained
// network's multiply-adds over the trained baseline's: realised, at the proxy) beside what every recorded run
// records, macs (of the trained network) among them. A
// point whose training diverges, runs out of memory or meets bad data is a FAIL trial with its fail_reason.
// Throws on storage failures.
int run_grid_worker(const GridJob& job, int threads);

// One point of the grid over its seeds.
struct PointResult {
  std::string grid_id;
  Coefficients coefficients;
  std::vector<double> values;        // validation top-1 of each COMPLETE seed
  store::SampleSummary summary;      // their mean and 95% interval
  int first_trial = -1;              // the number of its first trial
};

// The outcome of a grid so far.
struct GridOutcome {
  std::vector<store::Trial> ranked;  // every trial, best validation top-1 first, those without a value last
  std::vector<PointResult> points;   // every point with a COMPLETE seed, best mean first
  bool all_done = false;             // no point is waiting or running
  // When all are done and one completed: alpha, beta, gamma, val_top1 (the mean over seeds), trial (its first),
  // seeds, and with a runner-up: runner_up (its grid_id) and distinguishable (Welch's test at 5%; false with one
  // seed, where the spread is unknown).
  std::optional<nlohmann::json> best;
};

// Reads the grid's trials, ranks trials and points (by the mean over seeds), and when every point is done stores
// the best point as the study's user attribute best_coefficients (what scale_models --from-study reads).
GridOutcome conclude_grid(store::Storage& storage, int64_t study_id);

}  // namespace effscale::scaling
