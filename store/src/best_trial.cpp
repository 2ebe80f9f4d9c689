#include "effscale/store/best_trial.h"

#include <algorithm>

namespace effscale::store {

std::vector<Trial> rank_by_value(std::vector<Trial> trials, StudyDirection direction) {
  const bool maximize = direction == StudyDirection::Maximize;
  std::stable_sort(trials.begin(), trials.end(), [maximize](const Trial& a, const Trial& b) {
    if (a.values.empty() || b.values.empty()) return !a.values.empty() && b.values.empty();
    return maximize ? a.values[0] > b.values[0] : a.values[0] < b.values[0];
  });
  return trials;
}

std::optional<Trial> best_trial(const Study& study, const std::vector<Trial>& trials) {
  std::vector<Trial> complete;
  for (const Trial& t : trials)
    if (t.state == TrialState::Complete && !t.values.empty()) complete.push_back(t);
  if (complete.empty()) return std::nullopt;
  const StudyDirection direction = study.directions.empty() ? StudyDirection::Maximize : study.directions[0];
  return rank_by_value(std::move(complete), direction).front();
}

}  // namespace effscale::store
