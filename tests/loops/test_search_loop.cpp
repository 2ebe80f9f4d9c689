// The search loop driven directly (no command line): exact budgets, the same candidate stream whatever the
// number of workers, and no candidate lost or trained twice when a worker dies between claim and finish.

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>

#include "effscale/search/search_loop.h"
#include "effscale/store/store_error.h"
#include "effscale/trainers/worker_threads.h"
#include "loop_fixtures.h"

using namespace effscale;
using namespace effscale::testing;
using nlohmann::json;

namespace {

// A random search of `trials` candidates in rounds of 2 on the tiny proxy.
search::SearchJob tiny_search(const search::SearchSpace& space, const trainers::ProxyData& data, const std::string& out_dir,
                              int64_t study_id, int trials) {
  search::SearchJob job;
  job.study_id = study_id;
  job.space = &space;
  job.trials = trials;
  job.batch = 2;
  std::vector<int> counts;
  for (const search::Decision& d : space.decisions()) counts.push_back(int(d.choices.size()));
  job.make_controller = [counts] { return search::make_random_controller(counts, 3); };
  job.training = tiny_proxy_training();
  job.data = &data;
  job.out_dir = out_dir;
  return job;
}

// The stages each step trained (COMPLETE trials), checking that no step completed twice.
std::map<int64_t, json> completed_stages(store::Storage& storage, int64_t study) {
  std::map<int64_t, json> stages;
  for (const store::Trial& t : storage.get_trials(study, {store::TrialState::Complete})) {
    const int64_t step = t.system_attrs["controller_step"].get<int64_t>();
    CHECK(stages.count(step) == 0);
    stages[step] = t.user_attrs["searched_stages"];
  }
  return stages;
}

}  // namespace

TEST_CASE("the search loop evaluates exactly N candidates, the same ones with one worker or two", "[search][loop]") {
  TempDir dir;
  const search::SearchSpace space = search::SearchSpace::efficientnet_default();
  const trainers::ProxyData data = tiny_proxy_data();
  std::map<std::string, std::map<int64_t, json>> streams;
  for (const std::string kind : {"memory", "file"}) {
    const auto backend = loop_backend(kind, dir);
    const int64_t study = backend->create_or_load_study("s", {store::StudyDirection::Maximize}).study_id;
    search::SearchJob job = tiny_search(space, data, dir.file("runs-" + kind), study, 3);
    job.connect = connect_to(backend);
    const int workers = kind == "memory" ? 1 : 2;
    trainers::run_worker_threads(workers, workers, [&](int threads) { search::run_search_worker(job, threads); });
    const auto trials = backend->get_trials(study, {});
    CHECK(search::evaluated_count(trials) == 3);
    streams[kind] = completed_stages(*backend, study);
    for (const store::Trial& t : trials) {
      CHECK(t.user_attrs.contains("target_macs"));
      const int64_t step = t.system_attrs["controller_step"].get<int64_t>();
      CHECK(std::filesystem::exists(std::filesystem::path(job.out_dir) / std::to_string(step) / "train.log"));
    }
    CHECK(search::candidate_of(space, trials.front()).size() == space.decisions().size());
  }
  CHECK(streams["memory"] == streams["file"]);
}

TEST_CASE("a search worker that dies between claim and finish loses and duplicates nothing", "[search][loop][faults]") {
  TempDir dir;
  const search::SearchSpace space = search::SearchSpace::efficientnet_default();
  const trainers::ProxyData data = tiny_proxy_data();
  const auto straight_backend = loop_backend("memory", dir);
  const int64_t straight_study = straight_backend->create_or_load_study("s", {store::StudyDirection::Maximize}).study_id;
  search::SearchJob straight = tiny_search(space, data, dir.file("straight"), straight_study, 2);
  straight.connect = connect_to(straight_backend);
  search::run_search_worker(straight, 1);

  const auto backend = loop_backend("file", dir);
  const int64_t study = backend->create_or_load_study("s", {store::StudyDirection::Maximize}).study_id;
  search::SearchJob job = tiny_search(space, data, dir.file("killed"), study, 2);
  int finishes = 0;
  job.connect = connect_to(backend, [&](const std::string& method, bool after) {
    if (method == "finish_trial" && !after && finishes++ == 0) throw store::StoreFailure("worker killed (injected)");
  });
  CHECK_THROWS_AS(search::run_search_worker(job, 1), store::StoreFailure);
  CHECK(backend->get_trials(study, {store::TrialState::Running}).size() == 1);
  job.claim.stale_after_s = 1.0;  // the next worker takes the dead one's candidate over
  search::run_search_worker(job, 1);
  CHECK(completed_stages(*backend, study) == completed_stages(*straight_backend, straight_study));
  CHECK(backend->get_trials(study, {store::TrialState::Running, store::TrialState::Waiting}).empty());
  CHECK(backend->study_attrs(study, true)["controller_step"] == straight_backend->study_attrs(straight_study, true)["controller_step"]);
}
