#pragma once
// Seed statistics over a RunTable: per-group means with 95% intervals, which series leads within each group
// and whether the lead is outside the noise, and a chart of means with error bars (a paper's figure form).

#include <map>
#include <string>
#include <vector>

#include "effscale/report/run_table.h"
#include "effscale/store/sample_statistics.h"

namespace effscale::report {

// The runs that share the values of the group columns.
struct RunGroup {
  std::vector<std::string> key;                       // the group columns' values
  std::map<std::string, std::vector<double>> samples;  // per value column: its finite values
  std::map<std::string, store::SampleSummary> summary; // per value column: mean, sd, 95% interval
};

// The groups of `table` by `group_columns`, in order of first appearance, with `value_columns` summarised.
// An empty or NaN value cell is a run without that value (left out); a cell that is not a number at all throws.
// Throws std::invalid_argument naming a column the table lacks, or the row and column of a value cell that is text.
std::vector<RunGroup> group_runs(const RunTable& table, const std::vector<std::string>& group_columns,
                                 const std::vector<std::string>& value_columns);

// The groups as a table: the group columns, n, then per value column VALUE_mean, VALUE_sd, VALUE_ci_low and
// VALUE_ci_high (empty where unknown: one run has no spread).
RunTable summary_table(const std::vector<RunGroup>& groups, const std::vector<std::string>& group_columns,
                       const std::vector<std::string>& value_columns);

// Within each value of `within_column`, the series (values of `series_column`) ranked by the mean of
// `value_column`: columns WITHIN, leader, leader_mean, leader_ci, runner_up, runner_up_mean, runner_up_ci,
// gap (leader minus runner-up) and separated ("yes" when Welch's test at 5% tells them apart, "no" when the gap
// is inside the noise, "unknown" with fewer than two runs on either side).
RunTable leader_table(const RunTable& table, const std::string& within_column, const std::string& series_column,
                      const std::string& value_column);

// What a chart of group means shows.
struct ChartSpec {
  std::string x_column, y_column;  // numeric columns; each point is the mean of both over a group
  std::string series_column;       // one line per value (empty: one series)
  std::string point_column;        // the runs of one point share this column's value (with the series')
  std::string title, x_label, y_label;
  bool log_x = false;
};

// An SVG chart: per series, one point per group at (mean x, mean y) joined by a line in order of x, with a
// vertical bar for the 95% interval of y. Throws std::invalid_argument for a missing column or nothing to draw.
std::string run_chart_svg(const RunTable& table, const ChartSpec& spec);

}  // namespace effscale::report
