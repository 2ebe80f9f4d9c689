#include "effscale/store/storage.h"

namespace effscale::store {

TrialRef Storage::create_trial(int64_t study_id) { return create_trial_with(study_id, {}, nlohmann::json::object()); }

void Storage::set_trial_attr(int64_t trial_id, const std::string& key, const nlohmann::json& value, bool system) {
  set_trial_attrs(trial_id, nlohmann::json{{key, value}}, system);
}

}  // namespace effscale::store
