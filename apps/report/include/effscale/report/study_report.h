#pragma once
// The report of an end-to-end run: report.md plus SVG charts, written from the study database alone.

#include <optional>
#include <string>

#include "effscale/store/storage.h"

namespace effscale::report {

// Which studies the report covers and where it goes. Each study is optional; at least one is required.
struct ReportOptions {
  std::string search_study;             // nas_search study: candidates, Pareto front, reward history
  std::string compare_study;            // train_model study: the found baseline and others retrained with seeds
  std::string grid_study;               // grid_alpha_beta_gamma study: the coefficient grid
  std::string scaled_study;             // scale_models --train study: the scaled family
  std::string output_dir;               // report.md and the charts land here (created when missing)
  std::string title = "effscale run";   // the report's heading
  std::optional<double> wall_seconds;   // end-to-end wall time measured by the caller, if any
  std::string command;                  // how the run was started, quoted in the report when given
};

// Writes output_dir/report.md and its charts (search_pareto.svg, search_history.svg, compare.svg, grid.svg,
// scaled_family.svg, scaled_curves.svg; a chart with nothing to draw is left out and the report says so).
// The report states the title, date, machine, wall time, each study's settings and seed, then: the searched
// candidates (accuracy vs MACs with the Pareto front and the chosen baseline marked, reward per trial with the
// best so far, the top candidates, each marked inside the noise of the chosen one or not when the compare study
// measures the seed-to-seed spread), the retrained networks of the compare study (one group per `model` user
// attribute: mean and 95% interval over seeds, every pair said separated or inside the noise), the grid (one
// row per point with its seeds' mean and interval, told apart from the best or not), the scaled family's params,
// MACs and accuracy with intervals (each phi step separated or not) beside the paper's Table 1, and learning
// curves. Every file is written atomically, report.md last. Throws std::invalid_argument naming a study that
// does not exist, or when no study is given.
void write_study_report(store::Storage& storage, const ReportOptions& options);

}  // namespace effscale::report
