// Chart construction over stored trials with SvgPlot.

#include "effscale/report/study_charts.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "effscale/report/svg_plot.h"
#include "effscale/report/study_analysis.h"
#include "effscale/report/trial_groups.h"

namespace effscale::report {
namespace st = effscale::store;
using effscale::report::PlotSeries;
using effscale::report::SvgPlot;

const std::vector<std::string>& chart_kinds() {
  static const std::vector<std::string> kKinds = {"pareto", "history", "curves", "grid", "family", "models"};
  return kKinds;
}

namespace {

// The marked trial as its own series (empty when absent).
PlotSeries marked_series(const std::vector<st::Trial>& complete, std::optional<int64_t> marked, const std::string& label) {
  PlotSeries series{label, {}, {}, "#2ca02c"};
  for (const st::Trial& t : complete)
    if (marked && t.number == *marked) {
      series.x.push_back(trial_macs(t));
      series.y.push_back(t.values[0]);
    }
  return series;
}

void add_pareto(SvgPlot& plot, const st::Study& study, const std::vector<st::Trial>& complete) {
  PlotSeries trials{"trials", {}, {}, "#999999"}, front{"Pareto front", {}, {}, "#d62728", true, true};
  for (const st::Trial& t : complete) {
    trials.x.push_back(trial_macs(t));
    trials.y.push_back(t.values[0]);
  }
  std::vector<st::Trial> f = pareto_front(study, complete);
  std::sort(f.begin(), f.end(), [](const st::Trial& a, const st::Trial& b) { return trial_macs(a) < trial_macs(b); });
  for (const st::Trial& t : f) {
    front.x.push_back(trial_macs(t));
    front.y.push_back(t.values[0]);
  }
  plot.add(trials);
  plot.add(front);
}

void add_history(SvgPlot& plot, const st::Study& study, const std::vector<st::Trial>& complete) {
  PlotSeries values{"value"}, best{"best so far", {}, {}, "#d62728", false, true};
  const bool maximize = study.directions[0] == st::StudyDirection::Maximize;
  double running = maximize ? -INFINITY : INFINITY;
  for (const st::Trial& t : complete) {
    values.x.push_back(t.number);
    values.y.push_back(t.values[0]);
    running = maximize ? std::max(running, t.values[0]) : std::min(running, t.values[0]);
    best.x.push_back(t.number);
    best.y.push_back(running);
  }
  plot.add(values);
  plot.add(best);
}

void add_curves(SvgPlot& plot, const std::vector<st::Trial>& trials) {
  int n = 0;
  for (const st::Trial& t : trials) {
    if (t.intermediate_values.empty() || n >= 8) continue;
    std::string label = "trial " + std::to_string(t.number);
    if (t.user_attrs.contains("model") && t.user_attrs["model"].is_string()) label = t.user_attrs["model"].get<std::string>();
    PlotSeries curve{label, {}, {}, effscale::report::series_color(n++), true, true};
    for (const auto& [step, v] : t.intermediate_values) {
      curve.x.push_back(double(step));
      curve.y.push_back(v);
    }
    plot.add(curve);
  }
}

// A point per group at its mean with the 95% interval of its seeds as an error bar (none for one seed).
void add_mean(PlotSeries& series, double x, const TrialGroup& g) {
  series.x.push_back(x);
  series.y.push_back(g.value.mean);
  series.y_low.push_back(g.value.n >= 2 ? g.value.ci_low : NAN);
  series.y_high.push_back(g.value.n >= 2 ? g.value.ci_high : NAN);
}

void add_grid(SvgPlot& plot, const std::vector<st::Trial>& trials) {
  const std::vector<TrialGroup> points = grid_point_groups(trials);
  int n = 0;
  for (const char* name : {"alpha", "beta", "gamma"}) {
    PlotSeries series{name, {}, {}, effscale::report::series_color(n++)};
    for (const TrialGroup& g : points)
      if (g.trials[0].params.count(name)) add_mean(series, g.trials[0].params.at(name).internal, g);
    plot.add(series);
  }
}

void add_family(SvgPlot& plot, const std::vector<st::Trial>& trials) {
  PlotSeries family{"scaled family (phi order)", {}, {}, "#1f77b4", true, true};
  for (const TrialGroup& g : family_groups(trials)) add_mean(family, g.macs, g);
  plot.add(family);
}

// One series per model (its own colour and legend entry): nominal MACs against mean value.
void add_models(SvgPlot& plot, const std::vector<st::Trial>& trials) {
  int n = 0;
  for (const TrialGroup& g : model_groups(trials)) {
    PlotSeries series{g.key, {}, {}, effscale::report::series_color(n++)};
    add_mean(series, g.macs, g);
    plot.add(series);
  }
}

}  // namespace

std::string study_chart_svg(const st::Study& study, const std::vector<st::Trial>& trials, const std::string& kind,
                            std::optional<int64_t> marked, const std::string& marked_label) {
  const std::vector<st::Trial> complete = complete_trials(trials);
  const std::string title = "study " + study.name;
  std::optional<SvgPlot> plot;
  if (kind == "pareto") {
    plot.emplace(title + ": value vs MACs", "multiply-adds", "value", true);
    add_pareto(*plot, study, complete);
  } else if (kind == "history") {
    plot.emplace(title + ": value per trial", "trial", "value");
    add_history(*plot, study, complete);
  } else if (kind == "curves") {
    plot.emplace(title + ": learning curves", "epoch", "validation value");
    add_curves(*plot, trials);
  } else if (kind == "grid") {
    plot.emplace(title + ": value vs coefficient (mean and 95% interval over seeds)", "coefficient value", "value");
    add_grid(*plot, trials);
  } else if (kind == "family") {
    plot.emplace(title + ": value vs MACs (mean and 95% interval over seeds)", "multiply-adds", "value", true);
    add_family(*plot, trials);
  } else if (kind == "models") {
    plot.emplace(title + ": value vs nominal MACs (mean and 95% interval over seeds)", "multiply-adds", "value", true);
    add_models(*plot, trials);
  } else {
    throw std::invalid_argument("chart kind '" + kind + "': expected pareto, history, curves, grid, family or models");
  }
  if (kind == "pareto" || kind == "family") {
    PlotSeries mark = marked_series(complete, marked, marked_label);
    if (!mark.x.empty()) plot->add(mark);
  }
  try {
    return plot->render();
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument("study '" + study.name + "': " + e.what());
  }
}

}  // namespace effscale::report
