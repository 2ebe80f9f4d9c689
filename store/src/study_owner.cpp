#include "effscale/store/study_owner.h"

#include "effscale/store/store_error.h"

namespace effscale::store {
namespace {

// The owner recorded for a study, or the one its settings imply; empty when nothing says.
std::string recorded_owner(Storage& storage, int64_t study_id) {
  const nlohmann::json system = storage.study_attrs(study_id, true);
  if (system.contains(kStudyOwnerAttr) && system[kStudyOwnerAttr].is_string()) return system[kStudyOwnerAttr];
  if (system.contains("search_settings")) return "nas_search";
  if (storage.study_attrs(study_id, false).contains("grid_settings")) return "grid_alpha_beta_gamma";
  return "";
}

void refuse_unless(const std::string& owner, const std::string& command, const std::string& name) {
  if (!owner.empty() && owner != command)
    throw StoreInputError("study '" + name + "' belongs to " + owner + "; " + command +
                          " does not write into another command's study: give it another study name");
}

}  // namespace

Study open_study_for(Storage& storage, const std::string& name, const std::vector<StudyDirection>& directions,
                     const std::string& command) {
  if (const std::optional<Study> existing = storage.find_study(name))
    refuse_unless(recorded_owner(storage, existing->study_id), command, name);
  const Study study = storage.create_or_load_study(name, directions);
  if (!storage.compare_and_set_study_attrs(study.study_id, kStudyOwnerAttr, nullptr, {{kStudyOwnerAttr, command}}, true))
    refuse_unless(recorded_owner(storage, study.study_id), command, name);  // another command won the race
  return study;
}

}  // namespace effscale::store
