// Rounds of candidates over the study database: plan, enqueue, train, tell, advance.

#include "effscale/search/search_loop.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "effscale/models/counts.h"
#include "effscale/base/cpu_runtime.h"
#include "effscale/models/spec_json.h"
#include "effscale/store/best_trial.h"
#include "effscale/store/storage.h"
#include "effscale/store/trial_progress.h"
#include "effscale/store/store_error.h"
#include "effscale/trainers/recorded_training.h"

namespace effscale::search {
namespace m = effscale::models;
namespace st = effscale::store;
namespace tr = effscale::trainers;
using nlohmann::json;

int evaluated_count(const std::vector<st::Trial>& trials) {
  return int(std::count_if(trials.begin(), trials.end(), [](const st::Trial& t) {
    return t.state == st::TrialState::Complete || t.state == st::TrialState::Pruned;
  }));
}

namespace {

// What a round does with one candidate.
struct Plan {
  enum class Kind { Rejected, Known, Train, SameAs } kind = Kind::Train;
  double known = 0;        // Known: the reward of the identical architecture trained in an earlier round
  size_t same_as = 0;      // SameAs: the earlier candidate of this round with identical stages
  int64_t macs = 0;
  json stages;
};

struct Round {
  int64_t first_step = 0;
  std::unique_ptr<Controller> controller;  // at the stored state, having asked for the round's candidates
  std::vector<Candidate> candidates;
  std::vector<Plan> plans;
};

int64_t step_of(const st::Trial& t) { return t.system_attrs.value("controller_step", int64_t{-1}); }

// The latest trial of a step's seed (retries come after the attempts they replace), if any.
const st::Trial* latest_trial(const std::vector<st::Trial>& recorded, int64_t step, int seed) {
  const st::Trial* latest = nullptr;
  for (const st::Trial& t : recorded)
    if (step_of(t) == step && seed_index_of(t) == seed && (!latest || t.number > latest->number)) latest = &t;
  return latest;
}

// The reward a finished trial gives its candidate: COMPLETE its value, PRUNED the reward of its last
// validation accuracy, FAIL 0. Null while it is waiting or running.
std::optional<double> trial_reward(const SearchJob& job, const st::Trial& t, int64_t macs) {
  switch (t.state) {
    case st::TrialState::Complete: return t.values.empty() ? 0.0 : t.values[0];
    case st::TrialState::Pruned: {
      const json acc = t.user_attrs.value("val_top1", json(nullptr));
      return acc.is_number() ? reward(acc.get<double>(), double(macs), job.reward) : 0.0;
    }
    case st::TrialState::Fail: return 0.0;
    default: return std::nullopt;
  }
}

// A trained step's reward, the mean over its seeds' latest trials, or nothing while one is unfinished or not yet
// enqueued.
std::optional<double> step_reward(const SearchJob& job, const std::vector<st::Trial>& recorded, int64_t step, int64_t macs) {
  double sum = 0;
  for (int seed = 0; seed < job.seeds; ++seed) {
    const st::Trial* t = latest_trial(recorded, step, seed);
    const auto r = t ? trial_reward(job, *t, macs) : std::nullopt;
    if (!r) return std::nullopt;
    sum += *r;
  }
  return sum / job.seeds;
}

json stages_of(const m::ArchSpec& spec) { return m::spec_to_json_value(spec)["stages"]; }

// The controller at the stored state, and the round it proposes from there.
Round plan_round(const SearchJob& job, const json& attrs, const std::vector<st::Trial>& recorded) {
  Round round;
  round.first_step = attrs.value("controller_step", int64_t{0});
  round.controller = job.make_controller();
  if (attrs.contains("controller_state")) round.controller->load_state(attrs["controller_state"]);
  for (int i = 0; i < job.batch; ++i) {
    Plan plan;
    const Candidate candidate = round.controller->ask();
    const m::ArchSpec spec = job.space->decode(candidate);
    plan.macs = m::count_macs(spec);
    plan.stages = stages_of(spec);
    if (job.max_macs > 0 && double(plan.macs) > job.max_macs) {
      plan.kind = Plan::Kind::Rejected;
    } else {
      for (const st::Trial& t : recorded)  // identical architectures of earlier rounds are not trained again
        if (t.state == st::TrialState::Complete && !t.values.empty() && step_of(t) < round.first_step &&
            t.user_attrs.value("searched_stages", json()) == plan.stages) {
          plan.kind = Plan::Kind::Known;  // its round was told, so every seed of it is finished
          plan.known = step_reward(job, recorded, step_of(t), plan.macs).value_or(t.values[0]);
          break;
        }
      for (size_t j = 0; j < round.plans.size() && plan.kind == Plan::Kind::Train; ++j)
        if (round.plans[j].kind == Plan::Kind::Train && round.plans[j].stages == plan.stages) {
          plan.kind = Plan::Kind::SameAs;
          plan.same_as = j;
        }
    }
    round.candidates.push_back(candidate);
    round.plans.push_back(plan);
  }
  return round;
}

// Enqueues the round's candidates that need training, in step order, with one trial per seed, while the study
// still needs trials (evaluated + pending < trials x seeds); each step at most once, whoever calls.
void enqueue_needed(const SearchJob& job, st::Storage& storage, const Round& round, const std::vector<st::Trial>& recorded) {
  int pending = 0;
  for (const st::Trial& t : recorded) pending += t.state == st::TrialState::Running || t.state == st::TrialState::Waiting;
  int room = job.trials * job.seeds - evaluated_count(recorded) - pending;
  for (size_t i = 0; i < round.plans.size() && room > 0; ++i) {
    const int64_t step = round.first_step + int64_t(i);
    if (round.plans[i].kind != Plan::Kind::Train || latest_trial(recorded, step, 0)) continue;
    st::Storage::EnqueueRequest request;
    for (size_t d = 0; d < round.candidates[i].size(); ++d)
      request.params[job.space->decisions()[d].name] = {double(round.candidates[i][d]),
                                                         st::Distribution::categorical(job.space->decisions()[d].choices)};
    request.system_attrs = {{"controller_step", step}};
    std::vector<st::Storage::EnqueueRequest> requests(size_t(job.seeds), request);
    if (job.seeds > 1)  // one seed: the trials of searches before seeds
      for (int seed = 0; seed < job.seeds; ++seed) requests[size_t(seed)].system_attrs["seed_index"] = seed;
    storage.enqueue_trials_once(job.study_id, "search_step_" + std::to_string(step), requests);
    room -= job.seeds;
  }
}

// Every candidate's reward in step order, or nothing while some trained candidate is unfinished or not
// yet enqueued.
std::optional<std::vector<double>> round_rewards(const SearchJob& job, const Round& round, const std::vector<st::Trial>& recorded) {
  std::vector<double> rewards;
  for (size_t i = 0; i < round.plans.size(); ++i) {
    const Plan& plan = round.plans[i];
    if (plan.kind == Plan::Kind::Rejected) rewards.push_back(0.0);
    else if (plan.kind == Plan::Kind::Known) rewards.push_back(plan.known);
    else if (plan.kind == Plan::Kind::SameAs) rewards.push_back(rewards[plan.same_as]);
    else {
      const auto r = step_reward(job, recorded, round.first_step + int64_t(i), plan.macs);
      if (!r) return std::nullopt;
      rewards.push_back(*r);
    }
  }
  return rewards;
}

// Tells the round's controller the rewards and stores the state after it, unless another worker already did.
void advance(const SearchJob& job, st::Storage& storage, Round& round, const std::vector<double>& rewards) {
  Controller& controller = *round.controller;
  for (size_t i = 0; i < round.candidates.size(); ++i) controller.tell(round.candidates[i], rewards[i]);
  const json expected = round.first_step == 0 ? json(nullptr) : json(round.first_step);
  storage.compare_and_set_study_attrs(job.study_id, "controller_step", expected,
                                      {{"controller_step", round.first_step + int64_t(round.candidates.size())},
                                       {"controller_state", controller.state()}},
                                      true);
}

// Writes one progress line through the job's sink, when it has one.
void say(const SearchJob& job, const std::string& line) {
  if (job.log) job.log(line);
}

// Trains the candidate of a claimed trial on the proxy with the trial's seed and finishes the trial with its
// reward. Its run folder is OUT_DIR/<step> (seed 0) or OUT_DIR/<step>/seed<k>, with train.log in it.
void train_candidate(const SearchJob& job, st::Storage& storage, const st::Trial& trial) {
  const int64_t step = step_of(trial);
  const int seed = seed_index_of(trial);
  m::ArchSpec spec = job.space->decode(candidate_of(*job.space, trial));
  spec.name = "candidate-" + std::to_string(step);
  const int64_t macs = m::count_macs(spec);
  const m::ArchSpec proxy = tr::trained_spec(spec, job.training, job.data->num_classes);
  std::filesystem::path run_path = std::filesystem::path(job.out_dir) / std::to_string(step);
  if (seed > 0) run_path /= "seed" + std::to_string(seed);
  const std::string run_dir = run_path.string();
  tr::TrainerOptions options = tr::options_for_run(job.training.recipe, proxy, run_dir);
  options.resume = true;  // a re-queued candidate continues from its last checkpoint
  options.seed += uint64_t(seed);  // weights and data order; every candidate gets the same seeds (common random numbers)
  json extra = {{"searched_stages", stages_of(spec)}, {"target_macs", macs}, {"target_params", m::count_params(spec)}};
  if (job.seeds > 1) extra["seed_index"] = seed;
  auto score = [&](const json& row) { return reward(row["val_top1"].get<double>(), double(macs), job.reward); };
  std::ostringstream line;
  line << "step " << step << (job.seeds > 1 ? " seed " + std::to_string(seed) : std::string()) << " trial " << trial.number
       << ", " << double(macs) / 1e6 << "M MACs";
  say(job, line.str());
  std::filesystem::create_directories(run_dir);
  std::ofstream log((std::filesystem::path(run_dir) / "train.log").string(), std::ios::app);
  const std::unique_ptr<st::Pruner> pruner = st::make_pruner(job.pruner);
  tr::run_recorded_training(&storage, trial, proxy, *job.data, options, run_dir, extra, log, score, pruner.get());
}

// Says, in Optuna's words, how a claimed trial ended, with the search's progress and the time left.
void report_finished(const SearchJob& job, st::Storage& storage, int64_t trial_id, const st::ProgressClock& clock) {
  if (!job.log) return;
  const std::vector<st::Trial> trials = storage.get_trials(job.study_id, {});
  const int done = evaluated_count(trials);
  const st::Study study{job.study_id, "", {st::StudyDirection::Maximize}};
  const int total = job.trials * job.seeds;
  say(job, st::trial_finished_line(storage.get_trial(trial_id), st::best_trial(study, trials), done, total,
                                   clock.eta_seconds(done, total)));
}

}  // namespace

int seed_index_of(const st::Trial& trial) { return trial.system_attrs.value("seed_index", 0); }

std::vector<CandidateResult> rank_candidates(const std::vector<st::Trial>& trials, int seeds) {
  std::set<int64_t> steps;
  for (const st::Trial& t : trials)
    if (step_of(t) >= 0) steps.insert(step_of(t));
  std::vector<CandidateResult> ranked;
  for (const int64_t step : steps) {
    CandidateResult result;
    result.step = step;
    for (int seed = 0; seed < seeds; ++seed) {
      const st::Trial* t = latest_trial(trials, step, seed);
      if (!t || t->state != st::TrialState::Complete || t->values.empty()) break;
      if (seed == 0) result.first = t;
      result.rewards.push_back(t->values[0]);
      const json acc = t->user_attrs.value("val_top1", json());
      result.val_top1.push_back(acc.is_number() ? acc.get<double>() : std::nan(""));  // NaN: not recorded
    }
    if (int(result.rewards.size()) != seeds) continue;
    double sum = 0;
    for (double r : result.rewards) sum += r;
    result.reward = sum / seeds;
    result.accuracy = st::summarize(result.val_top1);
    ranked.push_back(std::move(result));
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const CandidateResult& a, const CandidateResult& b) { return a.reward > b.reward; });
  return ranked;
}

Candidate candidate_of(const SearchSpace& space, const st::Trial& trial) {
  Candidate candidate;
  for (const Decision& d : space.decisions()) {
    const auto param = trial.params.find(d.name);
    if (param == trial.params.end())
      throw st::StoreInputError("trial " + std::to_string(trial.number) + " has no parameter '" + d.name +
                                "' of the search space");
    candidate.push_back(int(param->second.internal));
  }
  return candidate;
}

void run_search_worker(const SearchJob& job, int threads) {
  effscale::base::limit_thread_intra_op(threads);
  const std::unique_ptr<st::Storage> storage = job.connect();
  auto train = [&](const st::Trial& trial) { train_candidate(job, *storage, trial); };
  const st::ProgressClock clock(evaluated_count(storage->get_trials(job.study_id, {})));
  while (true) {
    const json attrs = storage->study_attrs(job.study_id, true);
    std::vector<st::Trial> recorded = storage->get_trials(job.study_id, {});
    if (evaluated_count(recorded) >= job.trials * job.seeds) return;
    if (attrs.value("controller_step", int64_t{0}) > 50LL * job.trials + job.batch)
      throw std::runtime_error("the controller keeps proposing known or rejected architectures; stopping");
    Round round = plan_round(job, attrs, recorded);
    enqueue_needed(job, *storage, round, recorded);
    if (const auto claimed = st::claim_and_run(*storage, job.study_id, job.claim, train, tr::training_failure_reason)) {
      report_finished(job, *storage, claimed->trial.trial_id, clock);
      continue;
    }
    // Once the budget is met no round is told, whoever finished the last candidate: a worker that found the
    // final round complete here must not advance the controller past where a single worker stops (the next
    // search with a larger budget tells that round first).
    recorded = storage->get_trials(job.study_id, {});
    if (evaluated_count(recorded) >= job.trials * job.seeds) return;
    if (const auto rewards = round_rewards(job, round, recorded)) {
      advance(job, *storage, round, *rewards);
      continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // others are training this round's candidates
  }
}

}  // namespace effscale::search
