#include "effscale/report/run_summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>

#include "effscale/report/svg_plot.h"

namespace effscale::report {

namespace {

std::string fixed(double v, int digits = 4) {
  if (!std::isfinite(v)) return "";
  char buffer[48];
  std::snprintf(buffer, sizeof buffer, "%.*f", digits, v);
  return buffer;
}

std::string interval_text(const store::SampleSummary& s) {
  if (!std::isfinite(s.ci_low)) return "";
  return "[" + fixed(s.ci_low) + ", " + fixed(s.ci_high) + "]";
}

}  // namespace

std::vector<RunGroup> group_runs(const RunTable& table, const std::vector<std::string>& group_columns,
                                 const std::vector<std::string>& value_columns) {
  std::vector<size_t> keys, values;
  for (const std::string& c : group_columns) keys.push_back(table.column(c));
  for (const std::string& c : value_columns) values.push_back(table.column(c));
  std::vector<RunGroup> groups;
  for (size_t r = 0; r < table.rows.size(); ++r) {
    std::vector<std::string> key;
    for (size_t k : keys) key.push_back(table.rows[r][k]);
    auto it = std::find_if(groups.begin(), groups.end(), [&](const RunGroup& g) { return g.key == key; });
    if (it == groups.end()) it = groups.insert(groups.end(), RunGroup{key, {}, {}});
    for (size_t v = 0; v < values.size(); ++v) {
      std::vector<double>& sample = it->samples[value_columns[v]];
      const std::string& cell = table.rows[r][values[v]];
      const std::optional<double> x = number_in(cell);
      if (!x && !cell.empty())
        throw std::invalid_argument("row " + std::to_string(r + 1) + " (CSV line " + std::to_string(r + 2) + "), column '" +
                                    value_columns[v] + "': '" + cell + "' is not a number");
      if (x && std::isfinite(*x)) sample.push_back(*x);
    }
  }
  for (RunGroup& g : groups)
    for (const std::string& c : value_columns) g.summary[c] = store::summarize(g.samples[c]);
  return groups;
}

RunTable summary_table(const std::vector<RunGroup>& groups, const std::vector<std::string>& group_columns,
                       const std::vector<std::string>& value_columns) {
  RunTable out{group_columns, {}};
  out.columns.push_back("n");
  for (const std::string& v : value_columns)
    for (const char* suffix : {"_mean", "_sd", "_ci_low", "_ci_high"}) out.columns.push_back(v + suffix);
  for (const RunGroup& g : groups) {
    std::vector<std::string> row = g.key;
    row.push_back(std::to_string(value_columns.empty() ? 0 : g.summary.at(value_columns[0]).n));
    for (const std::string& v : value_columns) {
      const store::SampleSummary& s = g.summary.at(v);
      for (double x : {s.mean, s.sd, s.ci_low, s.ci_high}) row.push_back(s.n > 0 ? fixed(x) : "");
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

RunTable leader_table(const RunTable& table, const std::string& within_column, const std::string& series_column,
                      const std::string& value_column) {
  const std::vector<RunGroup> groups = group_runs(table, {within_column, series_column}, {value_column});
  RunTable out{{within_column, "leader", "leader_mean", "leader_ci", "runner_up", "runner_up_mean", "runner_up_ci", "gap",
                "separated"}, {}};
  std::vector<std::string> withins;
  for (const RunGroup& g : groups)
    if (std::find(withins.begin(), withins.end(), g.key[0]) == withins.end()) withins.push_back(g.key[0]);
  for (const std::string& w : withins) {
    std::vector<const RunGroup*> ranked;
    for (const RunGroup& g : groups)
      if (g.key[0] == w && g.summary.at(value_column).n > 0) ranked.push_back(&g);
    if (ranked.empty()) continue;
    std::stable_sort(ranked.begin(), ranked.end(), [&](const RunGroup* a, const RunGroup* b) {
      return a->summary.at(value_column).mean > b->summary.at(value_column).mean;
    });
    const store::SampleSummary& lead = ranked[0]->summary.at(value_column);
    std::vector<std::string> row{w, ranked[0]->key[1], fixed(lead.mean), interval_text(lead)};
    if (ranked.size() < 2) {
      row.insert(row.end(), {"", "", "", "", ""});
    } else {
      const store::SampleSummary& next = ranked[1]->summary.at(value_column);
      const auto& a = ranked[0]->samples.at(value_column);
      const auto& b = ranked[1]->samples.at(value_column);
      const std::string separated = a.size() < 2 || b.size() < 2 ? "unknown" : store::distinguishable(a, b) ? "yes" : "no";
      row.insert(row.end(), {ranked[1]->key[1], fixed(next.mean), interval_text(next), fixed(lead.mean - next.mean), separated});
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

std::string run_chart_svg(const RunTable& table, const ChartSpec& spec) {
  std::vector<std::string> keys;
  if (!spec.series_column.empty()) keys.push_back(spec.series_column);
  if (!spec.point_column.empty()) keys.push_back(spec.point_column);
  const std::vector<RunGroup> groups = group_runs(table, keys, {spec.x_column, spec.y_column});
  std::vector<std::string> series_names;
  for (const RunGroup& g : groups) {
    const std::string name = spec.series_column.empty() ? spec.y_column : g.key[0];
    if (std::find(series_names.begin(), series_names.end(), name) == series_names.end()) series_names.push_back(name);
  }
  SvgPlot plot(spec.title, spec.x_label.empty() ? spec.x_column : spec.x_label,
               spec.y_label.empty() ? spec.y_column : spec.y_label, spec.log_x);
  for (size_t s = 0; s < series_names.size(); ++s) {
    std::vector<const RunGroup*> points;
    for (const RunGroup& g : groups)
      if ((spec.series_column.empty() ? spec.y_column : g.key[0]) == series_names[s]) points.push_back(&g);
    std::sort(points.begin(), points.end(), [&](const RunGroup* a, const RunGroup* b) {
      return a->summary.at(spec.x_column).mean < b->summary.at(spec.x_column).mean;
    });
    PlotSeries series{series_names[s], {}, {}, series_color(s), true, true};
    for (const RunGroup* g : points) {
      const store::SampleSummary& y = g->summary.at(spec.y_column);
      series.x.push_back(g->summary.at(spec.x_column).mean);
      series.y.push_back(y.n > 0 ? y.mean : NAN);
      series.y_low.push_back(y.ci_low);
      series.y_high.push_back(y.ci_high);
    }
    plot.add(std::move(series));
  }
  return plot.render();
}

}  // namespace effscale::report
