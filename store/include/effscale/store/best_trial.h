#pragma once
// The one definition of "best" every command uses: by the first objective, in the study's first direction.

#include <optional>
#include <vector>

#include "effscale/store/trial.h"

namespace effscale::store {

// `trials` ordered best first by their first value in `direction`: trials without a value come last; ties
// keep their order (so, from get_trials, the lower number first, as Optuna's best_trial picks).
std::vector<Trial> rank_by_value(std::vector<Trial> trials, StudyDirection direction);

// The COMPLETE trial of `trials` with the best first value in the study's first direction (maximize when
// the study has none), or nothing when no trial is COMPLETE with a value.
std::optional<Trial> best_trial(const Study& study, const std::vector<Trial>& trials);

}  // namespace effscale::store
