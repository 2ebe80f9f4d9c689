// Rounds of candidates over the study database: plan, enqueue, train, tell, advance.

#include "effscale/search_loop/search_rounds.h"

#include <c10/util/Exception.h>

#include <algorithm>
#include <new>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "effscale/app_training/recorded_run.h"
#include "effscale/models/counts.h"
#include "effscale/models/cpu_runtime.h"
#include "effscale/models/spec_json.h"
#include "effscale/store/storage.h"
#include "effscale/trainers/trainer.h"

namespace effscale::search_loop {
namespace m = effscale::models;
namespace se = effscale::search;
namespace st = effscale::store;
namespace apt = effscale::app_training;
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
  std::unique_ptr<se::Controller> controller;  // at the stored state, having asked for the round's candidates
  std::vector<se::Candidate> candidates;
  std::vector<Plan> plans;
};

int64_t step_of(const st::Trial& t) { return t.system_attrs.value("controller_step", int64_t{-1}); }

json stages_of(const m::ArchSpec& spec) { return json::parse(m::spec_to_json(spec))["stages"]; }

// The controller at the stored state, and the round it proposes from there.
Round plan_round(const SearchJob& job, const json& attrs, const std::vector<st::Trial>& recorded) {
  Round round;
  round.first_step = attrs.value("controller_step", int64_t{0});
  round.controller = job.make_controller();
  if (attrs.contains("controller_state")) round.controller->load_state(attrs["controller_state"]);
  for (int i = 0; i < job.batch; ++i) {
    Plan plan;
    const se::Candidate candidate = round.controller->ask();
    const m::ArchSpec spec = job.space->decode(candidate);
    plan.macs = m::count_macs(spec);
    plan.stages = stages_of(spec);
    if (job.max_macs > 0 && double(plan.macs) > job.max_macs) {
      plan.kind = Plan::Kind::Rejected;
    } else {
      for (const st::Trial& t : recorded)  // identical architectures of earlier rounds are not trained again
        if (t.state == st::TrialState::Complete && !t.values.empty() && step_of(t) < round.first_step &&
            t.user_attrs.value("searched_stages", json()) == plan.stages) {
          plan.kind = Plan::Kind::Known;
          plan.known = t.values[0];
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

// The latest trial of a step (retries come after the attempts they replace), if any.
const st::Trial* latest_trial(const std::vector<st::Trial>& recorded, int64_t step) {
  const st::Trial* latest = nullptr;
  for (const st::Trial& t : recorded)
    if (step_of(t) == step && (!latest || t.number > latest->number)) latest = &t;
  return latest;
}

// Enqueues the round's candidates that need training, in step order, while the study still needs trials
// (evaluated + pending < trials); each step at most once, whoever calls.
void enqueue_needed(const SearchJob& job, st::Storage& storage, const Round& round, const std::vector<st::Trial>& recorded) {
  int pending = 0;
  for (const st::Trial& t : recorded) pending += t.state == st::TrialState::Running || t.state == st::TrialState::Waiting;
  int room = job.trials - evaluated_count(recorded) - pending;
  for (size_t i = 0; i < round.plans.size() && room > 0; ++i) {
    const int64_t step = round.first_step + int64_t(i);
    if (round.plans[i].kind != Plan::Kind::Train || latest_trial(recorded, step)) continue;
    st::Storage::EnqueueRequest request;
    for (size_t d = 0; d < round.candidates[i].size(); ++d)
      request.params[job.space->decisions()[d].name] = {double(round.candidates[i][d]),
                                                         st::Distribution::categorical(job.space->decisions()[d].choices)};
    request.system_attrs = {{"controller_step", step}};
    storage.enqueue_trials_once(job.study_id, "search_step_" + std::to_string(step), {request});
    --room;
  }
}

// The reward a finished trial gives its candidate: COMPLETE its value, PRUNED the reward of its last
// validation accuracy, FAIL 0. Null while it is waiting or running.
std::optional<double> trial_reward(const SearchJob& job, const st::Trial& t, int64_t macs) {
  switch (t.state) {
    case st::TrialState::Complete: return t.values.empty() ? 0.0 : t.values[0];
    case st::TrialState::Pruned: {
      const json acc = t.user_attrs.value("val_top1", json(nullptr));
      return acc.is_number() ? se::reward(acc.get<double>(), double(macs), job.reward) : 0.0;
    }
    case st::TrialState::Fail: return 0.0;
    default: return std::nullopt;
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
      const st::Trial* t = latest_trial(recorded, round.first_step + int64_t(i));
      const auto r = t ? trial_reward(job, *t, plan.macs) : std::nullopt;
      if (!r) return std::nullopt;
      rewards.push_back(*r);
    }
  }
  return rewards;
}

// Tells the round's controller the rewards and stores the state after it, unless another worker already did.
void advance(const SearchJob& job, st::Storage& storage, Round& round, const std::vector<double>& rewards) {
  se::Controller& controller = *round.controller;
  for (size_t i = 0; i < round.candidates.size(); ++i) controller.tell(round.candidates[i], rewards[i]);
  const json expected = round.first_step == 0 ? json(nullptr) : json(round.first_step);
  storage.compare_and_set_study_attrs(job.study_id, "controller_step", expected,
                                      {{"controller_step", round.first_step + int64_t(round.candidates.size())},
                                       {"controller_state", controller.state()}},
                                      true);
}

// Finishes a candidate's RUNNING trial as FAIL with `reason` (the search goes on; its reward is 0).
void fail_candidate(st::Storage& storage, const st::Trial& trial, const std::string& reason, std::mutex& log_mutex) {
  storage.set_trial_attr(trial.trial_id, "fail_reason", reason, false);
  storage.finish_trial(trial.trial_id, st::TrialState::Fail, {});
  std::lock_guard lock(log_mutex);
  std::cerr << "nas_search: trial " << trial.number << " failed: " << reason << "\n";
}

// Trains the candidate of a claimed trial on the proxy and finishes the trial with its reward; a candidate that
// diverges or runs out of memory becomes a FAIL trial with the reason.
void train_candidate(const SearchJob& job, st::Storage& storage, const st::Trial& trial, std::mutex& log_mutex) {
  se::Candidate candidate;
  for (const se::Decision& d : job.space->decisions()) candidate.push_back(int(trial.params.at(d.name).internal));
  const int64_t step = step_of(trial);
  m::ArchSpec spec = job.space->decode(candidate);
  spec.name = "candidate-" + std::to_string(step);
  const int64_t macs = m::count_macs(spec);
  const m::ArchSpec proxy = apt::adapt_spec(apt::proxy_spec(spec, *job.vm), *job.vm, job.data->num_classes);
  const std::string run_dir = (std::filesystem::path(job.out_dir) / std::to_string(step)).string();
  trainers::TrainerOptions options = apt::trainer_options_from(*job.vm, proxy, (std::filesystem::path(run_dir) / "checkpoint.pt").string());
  options.resume = true;  // a re-queued candidate continues from its last checkpoint
  const json extra = {{"searched_stages", stages_of(spec)}, {"target_macs", macs}, {"target_params", m::count_params(spec)}};
  auto score = [&](const json& row) { return se::reward(row["val_top1"].get<double>(), double(macs), job.reward); };
  {
    std::lock_guard lock(log_mutex);
    std::cerr << "nas_search: step " << step << " trial " << trial.number << ", " << double(macs) / 1e6 << "M MACs\n";
  }
  std::ostringstream log;
  const std::unique_ptr<st::Pruner> pruner = st::make_pruner((*job.vm)["pruner"].as<std::string>());
  try {
    apt::run_recorded_training(&storage, trial, proxy, *job.data, options, run_dir, extra, log, score, pruner.get());
  } catch (const trainers::TrainingDiverged& e) {  // run_recorded_training has failed the trial with the reason
    std::lock_guard lock(log_mutex);
    std::cerr << "nas_search: candidate " << step << " failed: " << e.what() << "\n";
  } catch (const std::bad_alloc&) {
    fail_candidate(storage, trial, "out of memory (host allocation failed)", log_mutex);
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    const bool memory = dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr ||
                        what.find("allocate memory") != std::string::npos || what.find("out of memory") != std::string::npos;
    if (!memory) throw;
    fail_candidate(storage, trial, "out of memory: " + what.substr(0, what.find('\n')), log_mutex);
  }
}

}  // namespace

void run_search_worker(const SearchJob& job, int threads, std::mutex& log_mutex) {
  m::limit_thread_intra_op(threads);
  auto storage = st::open_storage(job.storage_url);
  while (true) {
    const json attrs = storage->study_attrs(job.study_id, true);
    std::vector<st::Trial> recorded = storage->get_trials(job.study_id, {});
    if (evaluated_count(recorded) >= job.trials) return;
    if (attrs.value("controller_step", int64_t{0}) > 50LL * job.trials + job.batch)
      throw std::runtime_error("the controller keeps proposing known or rejected architectures; stopping");
    Round round = plan_round(job, attrs, recorded);
    enqueue_needed(job, *storage, round, recorded);
    if (const auto claimed = storage->claim_waiting_trial(job.study_id)) {
      train_candidate(job, *storage, storage->get_trial(claimed->trial_id), log_mutex);
      continue;
    }
    recorded = storage->get_trials(job.study_id, {});
    if (const auto rewards = round_rewards(job, round, recorded)) {
      advance(job, *storage, round, *rewards);
      continue;
    }
    if (evaluated_count(recorded) >= job.trials) return;
    // Others are training this round's candidates: wait, and take over the trials of dead workers.
    storage->fail_stale_trials(job.study_id, job.stale_after_s, job.max_retries);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

}  // namespace effscale::search_loop
