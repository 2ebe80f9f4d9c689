// The search loop driven directly (no command line): exact budgets, the same candidate stream whatever the
// number of workers, and no candidate lost or trained twice when a worker dies between claim and finish.

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>

#include "effscale/models/reference_networks.h"
#include "effscale/search/search_loop.h"
#include "effscale/store/store_error.h"
#include "effscale/trainers/worker_threads.h"
#include "loop_fixtures.h"

using namespace effscale;
using namespace effscale::testing;
using nlohmann::json;

namespace {

// How many choices each decision of `space` has.
std::vector<int> choice_counts(const search::SearchSpace& space) {
  std::vector<int> counts;
  for (const search::Decision& d : space.decisions()) counts.push_back(int(d.choices.size()));
  return counts;
}

// A random search of `trials` candidates in rounds of 2 on the tiny proxy.
search::SearchJob tiny_search(const search::SearchSpace& space, const trainers::ProxyData& data, const std::string& out_dir,
                              int64_t study_id, int trials) {
  search::SearchJob job;
  job.study_id = study_id;
  job.space = &space;
  job.trials = trials;
  job.batch = 2;
  const std::vector<int> counts = choice_counts(space);
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

// The train_loss of the first epoch in a run's summary.csv (epoch,train_loss,...).
std::string train_loss_of(const std::filesystem::path& summary) {
  const std::string text = read_file(summary.string());
  const size_t row = text.find('\n') + 1, first = text.find(',', row) + 1;
  return text.substr(first, text.find(',', first) - first);
}

// A random controller that also keeps, in its state, every reward it was told (in the order told).
class RecordingController : public search::Controller {
 public:
  explicit RecordingController(std::vector<int> counts) : inner_(search::make_random_controller(std::move(counts), 3)) {}
  search::Candidate ask() override { return inner_->ask(); }
  void tell(const search::Candidate& candidate, double reward) override {
    inner_->tell(candidate, reward);
    told_.push_back(reward);
  }
  json state() const override { return {{"inner", inner_->state()}, {"told", told_}}; }
  void load_state(const json& state) override {
    inner_->load_state(state["inner"]);
    told_ = state["told"].get<std::vector<double>>();
  }

 private:
  std::unique_ptr<search::Controller> inner_;
  std::vector<double> told_;
};

// Proposes the candidates of a fixed list in turn, each the choice `i mod count` at every decision for the list's
// entry i, and keeps every reward it was told in its state.
class ScriptedController : public search::Controller {
 public:
  ScriptedController(std::vector<int> counts, std::vector<int> script) : counts_(std::move(counts)), script_(std::move(script)) {}
  search::Candidate ask() override {
    search::Candidate c;
    for (int count : counts_) c.push_back(script_[asked_ % script_.size()] % count);
    ++asked_;
    return c;
  }
  void tell(const search::Candidate&, double reward) override { told_.push_back(reward); }
  json state() const override { return {{"asked", asked_}, {"told", told_}}; }
  void load_state(const json& state) override {
    asked_ = state["asked"].get<size_t>();
    told_ = state["told"].get<std::vector<double>>();
  }

 private:
  std::vector<int> counts_, script_;
  size_t asked_ = 0;
  std::vector<double> told_;
};

}  // namespace

TEST_CASE("with several seeds, an architecture met again is given the mean of its seeds' rewards", "[search][loop]") {
  TempDir dir;
  const search::SearchSpace space = search::SearchSpace::efficientnet_default();
  const trainers::ProxyData data = tiny_proxy_data();
  const auto backend = loop_backend("memory", dir);
  const int64_t study = backend->create_or_load_study("s", {store::StudyDirection::Maximize}).study_id;
  search::SearchJob job = tiny_search(space, data, dir.file("runs"), study, 3);
  job.seeds = 2;
  job.training.recipe.epochs = 4;  // long enough for the two seeds to reach different accuracies
  const std::vector<int> counts = choice_counts(space);
  // Rounds of two: (A, A) trains A once (the second is the same network), (A, B) gives A its known reward and trains
  // B, (C, C) trains C; three candidates trained, two trials each.
  job.make_controller = [counts] { return std::make_unique<ScriptedController>(counts, std::vector<int>{0, 0, 0, 1, 2, 2}); };
  job.connect = connect_to(backend);
  search::run_search_worker(job, 1);

  const std::vector<store::Trial> trials = backend->get_trials(study, {});
  REQUIRE(trials.size() == 6);
  std::map<int64_t, std::vector<double>> values;  // per step, the seeds' rewards
  for (const store::Trial& t : trials) values[t.system_attrs["controller_step"].get<int64_t>()].push_back(t.values.at(0));
  REQUIRE(values.size() == 3);
  REQUIRE(values.count(0) == 1);
  REQUIRE(values.count(3) == 1);
  REQUIRE(values[0][0] != values[0][1]);  // the seeds differ, so one seed's reward is not the mean
  const double mean_a = (values[0][0] + values[0][1]) / 2, mean_b = (values[3][0] + values[3][1]) / 2;
  const std::vector<double> told = backend->study_attrs(study, true)["controller_state"]["told"].get<std::vector<double>>();
  REQUIRE(told.size() == 4);  // the first two rounds (the last is not told)
  CHECK(told[0] == Approx(mean_a).epsilon(1e-12));
  CHECK(told[1] == Approx(mean_a).epsilon(1e-12));
  CHECK(told[2] == Approx(mean_a).epsilon(1e-12));  // known from step 0: the mean, not one seed's reward
  CHECK(told[3] == Approx(mean_b).epsilon(1e-12));
}

TEST_CASE("a search of several seeds trains each candidate once per seed and tells the controller their mean", "[search][loop]") {
  TempDir dir;
  const search::SearchSpace space = search::SearchSpace::efficientnet_default();
  const trainers::ProxyData data = tiny_proxy_data();
  const auto backend = loop_backend("file", dir);
  const int64_t study = backend->create_or_load_study("s", {store::StudyDirection::Maximize}).study_id;
  search::SearchJob job = tiny_search(space, data, dir.file("runs"), study, 4);  // two rounds of two
  job.seeds = 2;
  const std::vector<int> counts = choice_counts(space);
  job.make_controller = [counts] { return std::make_unique<RecordingController>(counts); };
  job.connect = connect_to(backend);
  trainers::run_worker_threads(2, 1, [&](int threads) { search::run_search_worker(job, threads); });

  const std::vector<store::Trial> trials = backend->get_trials(study, {});
  REQUIRE(trials.size() == 8);
  CHECK(search::evaluated_count(trials) == 8);
  std::map<int64_t, std::map<int, const store::Trial*>> by_step;
  for (const store::Trial& t : trials) {
    REQUIRE(t.state == store::TrialState::Complete);
    by_step[t.system_attrs["controller_step"].get<int64_t>()][search::seed_index_of(t)] = &t;
    CHECK(t.user_attrs["seed_index"] == search::seed_index_of(t));
  }
  REQUIRE(by_step.size() == 4);
  // The first round was told; the last may be too (a second worker that sees it finished before the stop does).
  const std::vector<double> told = backend->study_attrs(study, true)["controller_state"]["told"].get<std::vector<double>>();
  REQUIRE(told.size() >= 2);
  for (const auto& [step, seeds] : by_step) {
    REQUIRE(seeds.size() == 2);
    CHECK(seeds.at(0)->user_attrs["searched_stages"] == seeds.at(1)->user_attrs["searched_stages"]);
    if (size_t(step) < told.size()) CHECK(told[size_t(step)] == Approx((seeds.at(0)->values[0] + seeds.at(1)->values[0]) / 2).epsilon(1e-12));
    const std::filesystem::path run = std::filesystem::path(job.out_dir) / std::to_string(step);
    CHECK(std::filesystem::exists(run / "train.log"));
    CHECK(std::filesystem::exists(run / "seed1" / "train.log"));
  }
  // The two seeds train differently (the seed moves weights and data order): their training losses differ.
  const std::filesystem::path run0 = std::filesystem::path(job.out_dir) / "0";
  CHECK(train_loss_of(run0 / "summary.csv") != train_loss_of(run0 / "seed1" / "summary.csv"));

  const std::vector<search::CandidateResult> ranked = search::rank_candidates(trials, 2);
  REQUIRE(ranked.size() == 4);
  for (size_t i = 0; i + 1 < ranked.size(); ++i) CHECK(ranked[i].reward >= ranked[i + 1].reward);
  for (const search::CandidateResult& c : ranked) {
    const auto& seeds = by_step.at(c.step);
    CHECK(c.reward == Approx((seeds.at(0)->values[0] + seeds.at(1)->values[0]) / 2).epsilon(1e-12));
    CHECK(c.accuracy.n == 2);
    CHECK(search::seed_index_of(*c.first) == 0);
  }
  CHECK(search::rank_candidates(trials, 3).empty());  // no candidate has a third seed
}

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

TEST_CASE("workers auto runs one worker per thread on the CPU (as many as are useful and memory holds) and one on CUDA",
          "[loop][workers]") {
  CHECK(trainers::auto_worker_count(4, false, 0, 100) == 4);
  CHECK(trainers::auto_worker_count(4, false, 0, 3) == 3);    // a round of 3 candidates
  CHECK(trainers::auto_worker_count(0, false, 0, 100) == 1);  // never none
  CHECK(trainers::auto_worker_count(8, true, 0, 100) == 1);
  const int64_t available = trainers::available_memory_bytes();
  REQUIRE(available > 0);
  CHECK(trainers::auto_worker_count(8, false, available / 5, 100) == 2);  // half the free memory holds 2.5
  CHECK(trainers::auto_worker_count(8, false, available, 100) == 1);
  // The estimate grows with the batch: activations per image times the batch, plus the parameters.
  const models::ArchSpec small = trainers::shrink_to_proxy(models::mobilenetv2_reference(), {28, 0.25, 1.0, 1, 2});
  const int64_t one = trainers::estimated_training_bytes(small, 1), many = trainers::estimated_training_bytes(small, 65);
  CHECK(many - one == 64 * (trainers::estimated_training_bytes(small, 2) - one));
}
