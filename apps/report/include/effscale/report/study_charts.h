#pragma once
// SVG charts of a study, shared by `query_results plot` and the report.

#include <optional>
#include <string>
#include <vector>

#include "effscale/store/storage.h"

namespace effscale::report {

// The chart kinds: pareto (value vs MACs, log scale, the front joined), history (value per trial and the
// best so far), curves (intermediate values per step, one line per trial, at most 8), grid (each grid point's
// mean value vs alpha, beta, gamma), family (each model's mean value vs MACs joined in order of the `phi` user
// attribute: a scaled family), models (each model's mean value vs MACs, one legend entry per model: retrained
// networks side by side). Where trials share a grid point or model (seeds), the point is their mean with an
// error bar for its 95% interval.
const std::vector<std::string>& chart_kinds();

// The SVG document of one chart of `study` over `trials`. `marked` (a trial number) is drawn as its own
// labelled point on pareto and family charts (the chosen baseline). Throws std::invalid_argument for an
// unknown kind or when the study has nothing to draw for it.
std::string study_chart_svg(const store::Study& study, const std::vector<store::Trial>& trials, const std::string& kind,
                            std::optional<int64_t> marked = std::nullopt, const std::string& marked_label = "chosen");

}  // namespace effscale::report
