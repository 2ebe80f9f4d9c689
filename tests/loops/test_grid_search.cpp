// The grid loop driven directly (no command line): every admissible point trained once with its realised cost
// recorded, the best stored, the study's settings guarded, and a failing write recovered without loss.

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <thread>

#include "effscale/models/counts.h"
#include "effscale/models/official.h"
#include "effscale/scaling/grid_search.h"
#include "effscale/scaling/scaled_model.h"
#include "effscale/store/store_error.h"
#include "effscale/trainers/training_run.h"
#include "loop_fixtures.h"

using namespace effscale;
using namespace effscale::testing;
using nlohmann::json;

namespace {

// Three admissible points: alpha, beta, gamma in {1.0, 1.2} with |alpha beta^2 gamma^2 - 2| <= 0.3.
scaling::GridDefinition tiny_grid() {
  scaling::GridDefinition grid;
  grid.baseline = models::official("b0");
  grid.alpha = grid.beta = grid.gamma = scaling::parse_grid_range("1.0:1.2:0.2", "range");
  grid.tolerance = 0.3;
  return grid;
}

scaling::GridJob tiny_grid_job(const trainers::ProxyData& data, const std::string& out_dir, int64_t study) {
  scaling::GridJob job;
  job.study_id = study;
  job.baseline = models::official("b0");
  job.training = tiny_proxy_training();
  job.data = &data;
  job.out_dir = out_dir;
  return job;
}

// How many COMPLETE trials each grid point has.
std::map<std::string, int> completed_points(store::Storage& storage, int64_t study) {
  std::map<std::string, int> points;
  for (const store::Trial& t : storage.get_trials(study, {store::TrialState::Complete})) ++points[t.system_attrs["grid_id"]];
  return points;
}

}  // namespace

TEST_CASE("the grid loop trains every admissible point once, records its cost and stores the best", "[scaling][loop]") {
  TempDir dir;
  const trainers::ProxyData data = tiny_proxy_data();
  const auto backend = loop_backend("memory", dir);
  const int64_t study = backend->create_or_load_study("grid", {store::StudyDirection::Maximize}).study_id;
  CHECK(scaling::prepare_grid_study(*backend, study, tiny_grid()) == 3);
  CHECK(scaling::prepare_grid_study(*backend, study, tiny_grid()) == 0);  // a rerun enqueues nothing
  scaling::GridDefinition other = tiny_grid();
  other.tolerance = 0.5;
  CHECK_THROWS_WITH(scaling::prepare_grid_study(*backend, study, other), Catch::Contains("other settings"));
  CHECK(backend->study_attrs(study, false)["grid_settings"]["tolerance"] == 0.3);

  scaling::GridJob job = tiny_grid_job(data, dir.file("grid"), study);
  job.connect = connect_to(backend);
  const models::ArchSpec trained_baseline =
      trainers::adapt_spec(trainers::shrink_to_proxy(job.baseline, job.training.proxy), job.training.bn_momentum, data.num_classes);
  std::vector<std::string> lines;
  job.log = [&](const std::string& line) { lines.push_back(line); };
  CHECK(scaling::run_grid_worker(job, 1) == 3);
  CHECK(lines.size() == 3);
  CHECK(completed_points(*backend, study) == std::map<std::string, int>{{"a1.00_b1.20_g1.20", 1}, {"a1.20_b1.00_g1.20", 1}, {"a1.20_b1.20_g1.00", 1}});
  for (const store::Trial& t : backend->get_trials(study, {})) {
    const double a = t.params.at("alpha").internal, b = t.params.at("beta").internal, g = t.params.at("gamma").internal;
    CHECK(t.user_attrs["flops_factor"].get<double>() == Approx(a * b * b * g * g));
    CHECK(t.user_attrs["macs_ratio"].get<double>() > 1.0);  // realised: the trained network over the trained baseline
    CHECK(t.user_attrs["macs_ratio"].get<double>() ==
          Approx(t.user_attrs["macs"].get<double>() / double(models::count_macs(trained_baseline))));
    CHECK(t.user_attrs.contains("target_macs"));
    CHECK(std::filesystem::exists(std::filesystem::path(job.out_dir) / t.system_attrs["grid_id"].get<std::string>() / "train.log"));
  }
  const scaling::GridOutcome outcome = scaling::conclude_grid(*backend, study);
  CHECK(outcome.all_done);
  REQUIRE(outcome.best);
  CHECK((*outcome.best)["trial"] == outcome.ranked.front().number);
  CHECK(backend->study_attrs(study, false)["best_coefficients"] == *outcome.best);
}

TEST_CASE("a grid worker whose write fails at a point's start loses and duplicates nothing", "[scaling][loop][faults]") {
  TempDir dir;
  const trainers::ProxyData data = tiny_proxy_data();
  const auto backend = loop_backend("file", dir);
  const int64_t study = backend->create_or_load_study("grid", {store::StudyDirection::Maximize}).study_id;
  scaling::prepare_grid_study(*backend, study, tiny_grid());
  scaling::GridJob job = tiny_grid_job(data, dir.file("grid"), study);
  int writes = 0;  // per point: the claim records its worker, then the run its start attributes
  job.connect = connect_to(backend, [&](const std::string& method, bool after) {
    if (method == "set_trial_attrs" && !after && writes++ == 3) throw store::StoreFailure("disk I/O error (injected)");
  });
  CHECK_THROWS_AS(scaling::run_grid_worker(job, 1), store::StoreFailure);
  const auto running = backend->get_trials(study, {store::TrialState::Running});
  REQUIRE(running.size() == 1);
  CHECK_FALSE(running[0].user_attrs.contains("model"));  // nothing of the failed start was written
  CHECK_FALSE(scaling::conclude_grid(*backend, study).all_done);

  job.claim.stale_after_s = 1.0;  // the dead "worker" is this process, so only its silence tells it is gone
  CHECK(scaling::run_grid_worker(job, 1) == 2);  // the waiting point, then (after waiting) the dead worker's, re-queued
  CHECK(completed_points(*backend, study) == std::map<std::string, int>{{"a1.00_b1.20_g1.20", 1}, {"a1.20_b1.00_g1.20", 1}, {"a1.20_b1.20_g1.00", 1}});
  CHECK(scaling::conclude_grid(*backend, study).best);
}

TEST_CASE("the training failure policy names divergence, memory and bad data, and nothing else", "[trainers][failure]") {
  auto reason = [](auto error) { return trainers::training_failure_reason(std::make_exception_ptr(error)); };
  CHECK(reason(trainers::TrainingDiverged("the loss became nan")) == std::optional<std::string>("the loss became nan"));
  CHECK(reason(std::bad_alloc()) == std::optional<std::string>("out of memory (host allocation failed)"));
  CHECK(reason(trainers::DataError("x.jpg: corrupt")) == std::optional<std::string>("bad data: x.jpg: corrupt"));
  CHECK_FALSE(reason(std::invalid_argument("epochs 0: must be at least 1")));
  CHECK_FALSE(reason(store::StoreFailure("database is locked")));
}

TEST_CASE("a grid with seeds trains each point once per seed on the same data and ranks points by their mean",
          "[scaling][loop][statistics]") {
  TempDir dir;
  const trainers::ProxyData data = tiny_proxy_data();
  const auto backend = loop_backend("memory", dir);
  const int64_t study = backend->create_or_load_study("grid", {store::StudyDirection::Maximize}).study_id;
  scaling::GridDefinition grid = tiny_grid();
  grid.seeds = 2;
  CHECK(scaling::prepare_grid_study(*backend, study, grid) == 6);
  CHECK(backend->study_attrs(study, false)["grid_settings"]["seeds"] == 2);
  CHECK_THROWS_WITH(scaling::prepare_grid_study(*backend, study, tiny_grid()), Catch::Contains("other settings"));
  scaling::GridJob job = tiny_grid_job(data, dir.file("grid"), study);
  job.connect = connect_to(backend);
  CHECK(scaling::run_grid_worker(job, 1) == 6);
  std::map<std::string, std::set<int>> seeds;
  for (const store::Trial& t : backend->get_trials(study, {store::TrialState::Complete}))
    seeds[t.system_attrs["grid_id"]].insert(t.user_attrs["seed"].get<int>() - 11);  // the recipe's seed is 11
  CHECK(seeds.size() == 3);
  for (const auto& [id, s] : seeds) CHECK(s == std::set<int>{0, 1});
  CHECK(std::filesystem::exists(dir.file("grid/a1.00_b1.20_g1.20/seed1/weights.pth")));

  const scaling::GridOutcome outcome = scaling::conclude_grid(*backend, study);
  REQUIRE(outcome.points.size() == 3);
  for (size_t i = 0; i + 1 < outcome.points.size(); ++i) CHECK(outcome.points[i].summary.mean >= outcome.points[i + 1].summary.mean);
  const scaling::PointResult& best = outcome.points[0];
  CHECK(best.summary.n == 2);
  CHECK(best.summary.mean == Approx((best.values[0] + best.values[1]) / 2));
  REQUIRE(outcome.best);
  CHECK((*outcome.best)["seeds"] == 2);
  CHECK((*outcome.best)["val_top1"].get<double>() == Approx(best.summary.mean));
  CHECK((*outcome.best)["runner_up"] == outcome.points[1].grid_id);
  CHECK((*outcome.best)["distinguishable"] == store::distinguishable(best.values, outcome.points[1].values));
}

TEST_CASE("grid points are admissible at the cost actually trained, after rounding at the proxy", "[scaling][grid]") {
  scaling::GridDefinition grid;
  grid.baseline = models::official("b0");
  grid.alpha = grid.beta = grid.gamma = scaling::parse_grid_range("1.0:1.4:0.05", "range");
  const std::vector<scaling::GridPoint> nominal = scaling::admissible_grid(grid.alpha, grid.beta, grid.gamma, grid.tolerance);
  CHECK(scaling::grid_points(grid).size() == nominal.size());  // without a trained baseline: the factor test alone

  auto ids = [](const std::vector<scaling::GridPoint>& points) {
    std::vector<std::string> out;
    for (const scaling::GridPoint& p : points) out.push_back(p.id);
    return out;
  };
  models::ArchSpec proxy = models::official("b0");  // the quick preset's proxy: 28 px, width and depth x 0.25, divisor 8
  proxy.resolution = 28;
  proxy.width_mult = 0.25;
  proxy.depth_mult = 0.25;
  grid.trained_baseline = proxy;
  const std::vector<scaling::GridPoint> kept = scaling::grid_points(grid);
  CHECK(kept.size() < nominal.size());
  const std::vector<std::string> kept_ids = ids(kept);
  for (const scaling::GridPoint& p : nominal) {
    const double ratio = scaling::scale_model(proxy, p.coefficients, 1.0, 1).macs_ratio;
    const bool in = std::find(kept_ids.begin(), kept_ids.end(), p.id) != kept_ids.end();
    INFO(p.id << " realises " << ratio);
    CHECK(in == (std::abs(ratio / 2 - 1) <= 0.1));
  }
  grid.macs_tolerance = 1e-9;
  CHECK(scaling::grid_points(grid).empty());
  CHECK_THAT(scaling::no_point_reason(grid), Catch::Contains("no grid point realises 2x the baseline's multiply-adds"));
}
