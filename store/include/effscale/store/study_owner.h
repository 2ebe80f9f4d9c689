#pragma once
// Study ownership: a study belongs to the effscale command that made it (nas_search, grid_alpha_beta_gamma,
// train_model, scale_models), so one command's trials never land in another's study.

#include <string>
#include <vector>

#include "effscale/store/storage.h"

namespace effscale::store {

// The system attribute naming a study's owning command.
inline constexpr const char* kStudyOwnerAttr = "effscale_command";

// Opens the study `name` for `command`, creating it with `directions` when it does not exist. The first
// command to open a study owns it from then on (the system attribute kStudyOwnerAttr, set in one
// compare-and-set so two commands racing on a new study cannot both own it); a study from before
// ownership existed belongs to the command its settings show (grid_settings: grid_alpha_beta_gamma,
// search_settings: nas_search), or to the first command that opens it. Throws StoreInputError naming the
// owner when another command owns the study; nothing has been written then.
Study open_study_for(Storage& storage, const std::string& name, const std::vector<StudyDirection>& directions,
                     const std::string& command);

}  // namespace effscale::store
