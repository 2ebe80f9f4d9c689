#pragma once
// FaultyStorage: a Storage that forwards every call to another one and lets a test inject faults: a method
// that throws before it reaches the database (a failing write) or after it committed (a lost answer, e.g.
// a claim whose reply never arrived), as a crashed or disconnected worker would see it.

#include <functional>
#include <memory>
#include <string>

#include "effscale/store/storage.h"

namespace effscale::testing {

class FaultyStorage : public store::Storage {
 public:
  // When to fail: called with the method's name ("claim_waiting_trial", "finish_trial", ...) and whether the
  // call already went through (`after`); throwing from it makes the call throw that exception.
  using Fault = std::function<void(const std::string& method, bool after)>;

  // Forwards to `inner` (shared: several FaultyStorage may wrap one in-memory database), failing as `fault` says.
  FaultyStorage(std::shared_ptr<store::Storage> inner, Fault fault);

  store::Study create_or_load_study(const std::string& name, const std::vector<store::StudyDirection>& directions) override;
  std::optional<store::Study> find_study(const std::string& name) override;
  std::vector<store::Study> list_studies() override;
  void set_study_attr(int64_t study_id, const std::string& key, const nlohmann::json& value, bool system) override;
  bool compare_and_set_study_attrs(int64_t study_id, const std::string& guard_key, const nlohmann::json& expected,
                                   const nlohmann::json& updates, bool system) override;
  nlohmann::json study_attrs(int64_t study_id, bool system) override;
  store::TrialRef create_trial_with(int64_t study_id, const std::map<std::string, store::ParamValue>& params,
                                    const nlohmann::json& system_attrs) override;
  bool enqueue_trials_once(int64_t study_id, const std::string& marker_key,
                           const std::vector<EnqueueRequest>& requests) override;
  std::optional<store::TrialRef> claim_waiting_trial(int64_t study_id) override;
  void report_intermediate(int64_t trial_id, int64_t step, double value) override;
  void set_trial_attrs(int64_t trial_id, const nlohmann::json& attrs, bool system) override;
  void finish_trial(int64_t trial_id, store::TrialState state, const std::vector<double>& values,
                    const nlohmann::json& user_attrs) override;
  void heartbeat(int64_t trial_id) override;
  std::vector<store::TrialRef> fail_stale_trials(int64_t study_id, double grace_seconds, int max_retries,
                                                 const std::vector<int64_t>& also) override;
  store::Trial get_trial(int64_t trial_id) override;
  std::vector<store::Trial> get_trials(int64_t study_id, const std::vector<store::TrialState>& states) override;

 private:
  // Runs `call` on the inner storage between the fault's two checks.
  template <typename Call>
  auto forward(const char* method, Call&& call) -> decltype(call(std::declval<store::Storage&>()));

  std::shared_ptr<store::Storage> inner_;
  Fault fault_;
};

}  // namespace effscale::testing
