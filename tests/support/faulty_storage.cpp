#include "faulty_storage.h"

namespace effscale::testing {

using namespace effscale::store;
using nlohmann::json;

FaultyStorage::FaultyStorage(std::shared_ptr<Storage> inner, Fault fault) : inner_(std::move(inner)), fault_(std::move(fault)) {}

template <typename Call>
auto FaultyStorage::forward(const char* method, Call&& call) -> decltype(call(std::declval<Storage&>())) {
  if (fault_) fault_(method, false);
  if constexpr (std::is_void_v<decltype(call(*inner_))>) {
    call(*inner_);
    if (fault_) fault_(method, true);
  } else {
    auto result = call(*inner_);
    if (fault_) fault_(method, true);
    return result;
  }
}

Study FaultyStorage::create_or_load_study(const std::string& name, const std::vector<StudyDirection>& directions) {
  return forward("create_or_load_study", [&](Storage& s) { return s.create_or_load_study(name, directions); });
}
std::optional<Study> FaultyStorage::find_study(const std::string& name) {
  return forward("find_study", [&](Storage& s) { return s.find_study(name); });
}
std::vector<Study> FaultyStorage::list_studies() {
  return forward("list_studies", [&](Storage& s) { return s.list_studies(); });
}
void FaultyStorage::set_study_attr(int64_t study_id, const std::string& key, const json& value, bool system) {
  forward("set_study_attr", [&](Storage& s) { s.set_study_attr(study_id, key, value, system); });
}
bool FaultyStorage::compare_and_set_study_attrs(int64_t study_id, const std::string& guard_key, const json& expected,
                                                const json& updates, bool system) {
  return forward("compare_and_set_study_attrs",
                 [&](Storage& s) { return s.compare_and_set_study_attrs(study_id, guard_key, expected, updates, system); });
}
json FaultyStorage::study_attrs(int64_t study_id, bool system) {
  return forward("study_attrs", [&](Storage& s) { return s.study_attrs(study_id, system); });
}
TrialRef FaultyStorage::create_trial_with(int64_t study_id, const std::map<std::string, ParamValue>& params,
                                          const json& system_attrs) {
  return forward("create_trial_with", [&](Storage& s) { return s.create_trial_with(study_id, params, system_attrs); });
}
bool FaultyStorage::enqueue_trials_once(int64_t study_id, const std::string& marker_key,
                                        const std::vector<EnqueueRequest>& requests) {
  return forward("enqueue_trials_once", [&](Storage& s) { return s.enqueue_trials_once(study_id, marker_key, requests); });
}
std::optional<TrialRef> FaultyStorage::claim_waiting_trial(int64_t study_id) {
  return forward("claim_waiting_trial", [&](Storage& s) { return s.claim_waiting_trial(study_id); });
}
void FaultyStorage::report_intermediate(int64_t trial_id, int64_t step, double value) {
  forward("report_intermediate", [&](Storage& s) { s.report_intermediate(trial_id, step, value); });
}
void FaultyStorage::set_trial_attrs(int64_t trial_id, const json& attrs, bool system) {
  forward("set_trial_attrs", [&](Storage& s) { s.set_trial_attrs(trial_id, attrs, system); });
}
void FaultyStorage::finish_trial(int64_t trial_id, TrialState state, const std::vector<double>& values, const json& user_attrs) {
  forward("finish_trial", [&](Storage& s) { s.finish_trial(trial_id, state, values, user_attrs); });
}
void FaultyStorage::heartbeat(int64_t trial_id) {
  forward("heartbeat", [&](Storage& s) { s.heartbeat(trial_id); });
}
std::vector<TrialRef> FaultyStorage::fail_stale_trials(int64_t study_id, double grace_seconds, int max_retries,
                                                     const std::vector<int64_t>& also) {
  return forward("fail_stale_trials", [&](Storage& s) { return s.fail_stale_trials(study_id, grace_seconds, max_retries, also); });
}
Trial FaultyStorage::get_trial(int64_t trial_id) {
  return forward("get_trial", [&](Storage& s) { return s.get_trial(trial_id); });
}
std::vector<Trial> FaultyStorage::get_trials(int64_t study_id, const std::vector<TrialState>& states) {
  return forward("get_trials", [&](Storage& s) { return s.get_trials(study_id, states); });
}

}  // namespace effscale::testing
