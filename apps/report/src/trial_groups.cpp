// Grouping trials by configuration and summarising their seeds.

#include "effscale/report/trial_groups.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "effscale/report/study_analysis.h"

namespace effscale::report {
namespace st = effscale::store;

std::vector<TrialGroup> group_trials(const std::vector<st::Trial>& trials,
                                     const std::function<std::string(const st::Trial&)>& key_of) {
  std::vector<TrialGroup> groups;
  std::map<std::string, size_t> index;
  for (const st::Trial& t : complete_trials(trials)) {
    const std::string key = key_of(t);
    const auto [at, fresh] = index.emplace(key, groups.size());
    if (fresh) groups.push_back({key, {}, {}, {}, {}, trial_macs(t)});
    groups[at->second].trials.push_back(t);
    groups[at->second].values.push_back(t.values[0]);
  }
  for (TrialGroup& g : groups) {
    std::vector<double> tests;
    for (const st::Trial& t : g.trials)
      if (const double test = user_number(t, "test_top1"); !std::isnan(test)) tests.push_back(test);
    g.value = st::summarize(g.values);
    g.test_top1 = st::summarize(tests);
  }
  return groups;
}

std::vector<TrialGroup> grid_point_groups(const std::vector<st::Trial>& trials) {
  return group_trials(trials, [](const st::Trial& t) { return group_key(t, "grid_id"); });
}

std::vector<TrialGroup> model_groups(const std::vector<st::Trial>& trials) {
  return group_trials(trials, [](const st::Trial& t) { return group_key(t, "model"); });
}

std::vector<TrialGroup> family_groups(const std::vector<st::Trial>& trials) {
  std::vector<TrialGroup> models = model_groups(trials);
  std::stable_sort(models.begin(), models.end(), [](const TrialGroup& a, const TrialGroup& b) {
    return user_number(a.trials[0], "phi") < user_number(b.trials[0], "phi");
  });
  return models;
}

std::string trial_text(const st::Trial& trial, const std::string& name) {
  for (const nlohmann::json* attrs : {&trial.user_attrs, &trial.system_attrs}) {
    if (!attrs->contains(name)) continue;
    const nlohmann::json& v = (*attrs)[name];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number()) return fmt::format("{:g}", v.get<double>());
  }
  return "";
}

std::string group_key(const st::Trial& trial, const std::string& name) {
  const std::string text = trial_text(trial, name);
  return text.empty() ? "trial " + std::to_string(trial.number) : text;
}

std::string interval_text(const st::SampleSummary& s, int decimals) {
  if (s.n == 0) return "–";
  if (s.n == 1 || !std::isfinite(s.ci_low)) return fmt::format("{:.{}f}", s.mean, decimals);
  return fmt::format("{:.{}f} [{:.{}f}, {:.{}f}]", s.mean, decimals, s.ci_low, decimals, s.ci_high, decimals);
}

std::string separation_text(const TrialGroup& a, const TrialGroup& b) {
  if (a.values.size() < 2 || b.values.size() < 2) return "one seed: unknown";
  return st::distinguishable(a.values, b.values) ? "separated" : "inside the noise";
}

}  // namespace effscale::report
