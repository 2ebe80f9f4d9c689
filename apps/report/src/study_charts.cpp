// Chart construction over stored trials with SvgPlot.

#include "effscale/report/study_charts.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "effscale/report/svg_plot.h"
#include "effscale/report/study_analysis.h"

namespace effscale::report {
namespace st = effscale::store;
using effscale::report::PlotSeries;
using effscale::report::SvgPlot;

const std::vector<std::string>& chart_kinds() {
  static const std::vector<std::string> kKinds = {"pareto", "history", "curves", "grid", "family"};
  return kKinds;
}

namespace {

double user_number(const st::Trial& t, const char* key) {
  return t.user_attrs.contains(key) && t.user_attrs[key].is_number() ? t.user_attrs[key].get<double>() : NAN;
}

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

void add_grid(SvgPlot& plot, const std::vector<st::Trial>& complete) {
  int n = 0;
  for (const char* name : {"alpha", "beta", "gamma"}) {
    PlotSeries series{name, {}, {}, effscale::report::series_color(n++)};
    for (const st::Trial& t : complete)
      if (t.params.count(name)) {
        series.x.push_back(t.params.at(name).internal);
        series.y.push_back(t.values[0]);
      }
    plot.add(series);
  }
}

void add_family(SvgPlot& plot, std::vector<st::Trial> complete) {
  std::sort(complete.begin(), complete.end(),
            [](const st::Trial& a, const st::Trial& b) { return user_number(a, "phi") < user_number(b, "phi"); });
  PlotSeries family{"scaled family (phi order)", {}, {}, "#1f77b4", true, true};
  for (const st::Trial& t : complete) {
    family.x.push_back(trial_macs(t));
    family.y.push_back(t.values[0]);
  }
  plot.add(family);
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
    plot.emplace(title + ": value vs coefficient", "coefficient value", "value");
    add_grid(*plot, complete);
  } else if (kind == "family") {
    plot.emplace(title + ": value vs MACs", "multiply-adds", "value", true);
    add_family(*plot, complete);
  } else {
    throw std::invalid_argument("chart kind '" + kind + "': expected pareto, history, curves, grid or family");
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
