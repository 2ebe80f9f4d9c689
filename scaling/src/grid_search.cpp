#include "effscale/scaling/grid_search.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "effscale/base/cpu_runtime.h"
#include "effscale/models/spec_json.h"
#include "effscale/scaling/scaled_model.h"
#include "effscale/store/best_trial.h"
#include "effscale/store/trial_progress.h"
#include "effscale/trainers/recorded_training.h"

namespace effscale::scaling {

namespace st = effscale::store;
namespace tr = effscale::trainers;
using nlohmann::json;

ScaledModel trained_model(const models::ArchSpec& trained_baseline, const Coefficients& c) {
  return scale_model(trained_baseline, c, 1.0, 1);
}

std::vector<GridPoint> grid_points(const GridDefinition& grid) {
  std::vector<GridPoint> points = admissible_grid(grid.alpha, grid.beta, grid.gamma, grid.tolerance);
  if (!grid.trained_baseline) return points;
  points.erase(std::remove_if(points.begin(), points.end(), [&](const GridPoint& p) {
                 return std::abs(trained_model(*grid.trained_baseline, p.coefficients).macs_ratio / 2.0 - 1.0) > grid.macs_tolerance;
               }), points.end());
  return points;
}

std::string no_point_reason(const GridDefinition& grid) {
  const std::vector<GridPoint> nominal = admissible_grid(grid.alpha, grid.beta, grid.gamma, grid.tolerance);
  if (nominal.empty() || !grid.trained_baseline)
    return "no grid point satisfies |alpha beta^2 gamma^2 - 2| <= tolerance; widen the ranges";
  double low = 1e300, high = 0;
  for (const GridPoint& p : nominal) {
    const double r = trained_model(*grid.trained_baseline, p.coefficients).macs_ratio;
    low = std::min(low, r);
    high = std::max(high, r);
  }
  char text[320];
  std::snprintf(text, sizeof text,
                "no grid point realises 2x the baseline's multiply-adds within %.0f%% at the trained proxy (the %zu points "
                "with alpha beta^2 gamma^2 near 2 realise %.2fx-%.2fx after rounding); widen the ranges or the tolerance, "
                "or train a larger proxy", grid.macs_tolerance * 100, nominal.size(), low, high);
  return text;
}

json grid_settings(const GridDefinition& grid) {
  json settings = {{"baseline", models::spec_to_json_value(grid.baseline)}, {"alpha_range", grid_range_text(grid.alpha)},
                   {"beta_range", grid_range_text(grid.beta)}, {"gamma_range", grid_range_text(grid.gamma)},
                   {"tolerance", grid.tolerance}};
  if (grid.seeds > 1) settings["seeds"] = grid.seeds;  // one seed: the settings of grids from before seeds existed
  if (grid.trained_baseline) settings["macs_tolerance"] = grid.macs_tolerance;
  return settings;
}

size_t prepare_grid_study(st::Storage& storage, int64_t study_id, const GridDefinition& grid) {
  const std::vector<GridPoint> points = grid_points(grid);
  if (points.empty()) throw std::invalid_argument(no_point_reason(grid));
  if (grid.seeds < 1) throw std::invalid_argument("seeds per point " + std::to_string(grid.seeds) + ": expected at least 1");
  const json settings = grid_settings(grid);
  auto same_grid = [&](const json& stored) {  // a grid stored before realised-MACs admissibility matches without it
    json mine = settings;
    if (!stored.contains("macs_tolerance")) mine.erase("macs_tolerance");
    return stored == mine;
  };
  if (!storage.compare_and_set_study_attrs(study_id, "grid_settings", nullptr, {{"grid_settings", settings}}, false) &&
      !same_grid(storage.study_attrs(study_id, false)["grid_settings"]))
    throw std::invalid_argument("the study holds a grid with other settings (baseline, ranges or tolerance)");
  std::vector<st::Storage::EnqueueRequest> requests;
  for (int seed = 0; seed < grid.seeds; ++seed)  // seed-major: every point once before any point twice
    for (const GridPoint& p : points) {
      auto param = [](double v, const GridRange& r) { return st::ParamValue{v, st::Distribution::float_range(r.low, r.high, r.step)}; };
      json attrs = {{"grid_id", p.id}};
      if (grid.seeds > 1) attrs["seed_index"] = seed;
      requests.push_back({{{"alpha", param(p.coefficients.alpha, grid.alpha)},
                           {"beta", param(p.coefficients.beta, grid.beta)},
                           {"gamma", param(p.coefficients.gamma, grid.gamma)}},
                          attrs});
    }
  return storage.enqueue_trials_once(study_id, "grid_enqueued", requests) ? requests.size() : 0;
}

namespace {

Coefficients coefficients_of(const st::Trial& trial) {
  return {trial.params.at("alpha").internal, trial.params.at("beta").internal, trial.params.at("gamma").internal};
}

// Trains the phi = 1 model of a claimed point on the proxy and finishes its trial; the log goes to train.log.
void train_point(const GridJob& job, st::Storage& storage, const st::Trial& trial) {
  const std::string id = trial.system_attrs.at("grid_id").get<std::string>();
  const Coefficients c = coefficients_of(trial);
  const ScaledModel target = scale_model(job.baseline, c, 1.0, 8);  // the full-size phi = 1 model
  const ScaledModel trained = trained_model(tr::trained_spec(job.baseline, job.training, job.data->num_classes), c);
  const models::ArchSpec& spec = trained.spec;
  const int seed_index = trial.system_attrs.value("seed_index", 0);
  std::filesystem::path run_path = std::filesystem::path(job.out_dir) / id;
  if (seed_index > 0) run_path /= "seed" + std::to_string(seed_index);
  const std::string run_dir = run_path.string();
  tr::TrainerOptions options = tr::options_for_run(job.training.recipe, spec, run_dir);
  options.seed += uint64_t(seed_index);  // weights and data order; the data split stays the same for every seed
  options.resume = true;  // a re-queued point continues from its last checkpoint
  const json attrs = {{"grid_id", id}, {"seed_index", seed_index}, {"flops_factor", flops_factor(c)},
                      {"target_macs", target.macs}, {"target_params", target.params},
                      {"target_resolution", target.spec.resolution}, {"macs_ratio", trained.macs_ratio}};
  std::filesystem::create_directories(run_dir);
  std::ofstream log((std::filesystem::path(run_dir) / "train.log").string(), std::ios::app);
  const std::unique_ptr<st::Pruner> pruner = st::make_pruner(job.pruner);
  tr::run_recorded_training(&storage, trial, spec, *job.data, options, run_dir, attrs, log, nullptr, pruner.get());
}

// How many of the grid's points are finished (their latest attempt, as trials come in number order), and how many
// points there are.
std::pair<int, int> finished_points(const std::vector<st::Trial>& trials) {
  std::map<std::pair<std::string, int>, st::TrialState> latest;  // per point and seed
  for (const st::Trial& t : trials) latest[{t.system_attrs.value("grid_id", ""), t.system_attrs.value("seed_index", 0)}] = t.state;
  const auto finished = std::count_if(latest.begin(), latest.end(), [](const auto& p) { return st::is_finished(p.second); });
  return {int(finished), int(latest.size())};
}

// Says, in Optuna's words, how the claimed point `trial_id` ended, with the grid's progress and the time left.
void report_point(const GridJob& job, st::Storage& storage, int64_t trial_id, const st::ProgressClock& clock) {
  if (!job.log) return;
  const std::vector<st::Trial> trials = storage.get_trials(job.study_id, {});
  const auto [finished, total] = finished_points(trials);
  const st::Study study{job.study_id, "", {st::StudyDirection::Maximize}};
  const st::Trial trial = storage.get_trial(trial_id);
  job.log(trial.system_attrs.value("grid_id", "") + ": " +
          st::trial_finished_line(trial, st::best_trial(study, trials), finished, total, clock.eta_seconds(finished, total)));
}

}  // namespace

int run_grid_worker(const GridJob& job, int threads) {
  effscale::base::limit_thread_intra_op(threads);
  const std::unique_ptr<st::Storage> storage = job.connect();
  auto train = [&](const st::Trial& trial) { train_point(job, *storage, trial); };
  const st::ProgressClock clock(finished_points(storage->get_trials(job.study_id, {})).first);
  int done = 0;
  while (true) {
    if (const auto claimed = st::claim_and_run(*storage, job.study_id, job.claim, train, tr::training_failure_reason)) {
      done += claimed->failure ? 0 : 1;
      report_point(job, *storage, claimed->trial.trial_id, clock);
      continue;
    }
    if (storage->get_trials(job.study_id, {st::TrialState::Running}).empty()) return done;
    // Other workers hold points: wait for them. A dead worker's point comes back through the claim step's sweeps
    // (at once when the worker ran on this host, after the stale limit otherwise) and is trained here.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

namespace {

// The grid's points with a COMPLETE seed, best mean first (ties: the earlier point).
std::vector<PointResult> point_results(const std::vector<st::Trial>& trials) {
  std::map<std::string, PointResult> by_id;
  for (const st::Trial& t : trials) {
    if (t.state != st::TrialState::Complete || t.values.empty()) continue;
    PointResult& p = by_id[t.system_attrs.value("grid_id", "")];
    if (p.first_trial < 0) p = {t.system_attrs.value("grid_id", ""), coefficients_of(t), {}, {}, t.number};
    p.values.push_back(t.values[0]);
  }
  std::vector<PointResult> points;
  for (auto& [id, p] : by_id) {
    p.summary = st::summarize(p.values);
    points.push_back(p);
  }
  std::stable_sort(points.begin(), points.end(), [](const PointResult& a, const PointResult& b) {
    return a.summary.mean > b.summary.mean || (a.summary.mean == b.summary.mean && a.first_trial < b.first_trial);
  });
  return points;
}

}  // namespace

GridOutcome conclude_grid(st::Storage& storage, int64_t study_id) {
  GridOutcome outcome;
  const std::vector<st::Trial> trials = storage.get_trials(study_id, {});
  outcome.ranked = st::rank_by_value(trials, st::StudyDirection::Maximize);
  outcome.points = point_results(trials);
  outcome.all_done = std::all_of(trials.begin(), trials.end(), [](const st::Trial& t) { return st::is_finished(t.state); });
  if (!outcome.all_done || outcome.points.empty()) return outcome;
  const PointResult& best = outcome.points[0];
  json summary = {{"alpha", best.coefficients.alpha}, {"beta", best.coefficients.beta}, {"gamma", best.coefficients.gamma},
                  {"val_top1", best.summary.mean}, {"trial", best.first_trial}, {"seeds", best.summary.n}};
  if (outcome.points.size() > 1) {
    summary["runner_up"] = outcome.points[1].grid_id;
    summary["distinguishable"] = st::distinguishable(best.values, outcome.points[1].values);
  }
  outcome.best = summary;
  storage.set_study_attr(study_id, "best_coefficients", *outcome.best, false);
  return outcome;
}

}  // namespace effscale::scaling
