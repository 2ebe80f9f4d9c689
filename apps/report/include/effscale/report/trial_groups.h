#pragma once
// The seeds of one configuration among a study's trials (a grid point, a scaled model, a retrained network):
// the trials that share a key, their accuracies summarised with 95% intervals, and whether two configurations
// differ by more than their seed-to-seed noise. The report's tables and error-bar charts read these.

#include <functional>
#include <string>
#include <vector>

#include "effscale/store/sample_statistics.h"
#include "effscale/store/storage.h"

namespace effscale::report {

// The COMPLETE trials that share one key.
struct TrialGroup {
  std::string key;
  std::vector<store::Trial> trials;  // in number order
  std::vector<double> values;        // each trial's values[0] (the study's objective)
  store::SampleSummary value;        // summary of `values`
  store::SampleSummary test_top1;    // summary of the user attribute test_top1 where recorded
  double macs = 0;                   // trial_macs of the first trial (the seeds train the same network)
};

// The COMPLETE trials with a value, grouped by key_of(trial), groups in order of first appearance.
std::vector<TrialGroup> group_trials(const std::vector<store::Trial>& trials,
                                     const std::function<std::string(const store::Trial&)>& key_of);

// What the report and the charts group by: the seeds of each grid point (attribute `grid_id`), of each model
// (attribute `model`), and the members of a scaled family (model groups in order of the `phi` user attribute).
// Each is group_trials with group_key of that attribute.
std::vector<TrialGroup> grid_point_groups(const std::vector<store::Trial>& trials);
std::vector<TrialGroup> model_groups(const std::vector<store::Trial>& trials);
std::vector<TrialGroup> family_groups(const std::vector<store::Trial>& trials);

// The user attribute (else the system attribute) `name` of a trial as text: a string as it is, a number as %g, "" when
// absent. Handy as a key.
std::string trial_text(const store::Trial& trial, const std::string& name);

// trial_text(trial, name), or "trial N" (its number) when the trial lacks that attribute: a key under which
// trials recorded without it each form their own group.
std::string group_key(const store::Trial& trial, const std::string& name);

// "0.8150 [0.8076, 0.8223]" for two values or more, "0.8150" for one, "–" for none (fixed `decimals`).
std::string interval_text(const store::SampleSummary& summary, int decimals = 4);

// How group `a` stands against group `b` on the objective: "separated" when Welch's test at 5% tells their
// seeds apart, "inside the noise" when it does not, "one seed: unknown" when either has fewer than two values.
std::string separation_text(const TrialGroup& a, const TrialGroup& b);

}  // namespace effscale::report
