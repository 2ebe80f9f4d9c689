#pragma once
// Questions about a study's trials that several commands ask: MACs a trial is judged by, the Pareto
// front, durations.

#include <optional>
#include <string>
#include <vector>

#include "effscale/store/storage.h"

namespace effscale::report {

// The user attribute `key` of a trial as a number; NaN when absent or not a number.
double user_number(const store::Trial& trial, const char* key);

// The MACs a trial is judged by: `target_macs` (the full-size model of a proxy run) when recorded, else
// `macs`; NaN when neither is a number.
double trial_macs(const store::Trial& trial);

// Complete trials with at least one value, in number order.
std::vector<store::Trial> complete_trials(const std::vector<store::Trial>& trials);

// Trials of `complete` that no other trial dominates. Two-objective studies use their two values and
// directions; a single-objective study is judged on value (its direction) vs trial_macs (fewer is better);
// trials without MACs are left out.
std::vector<store::Trial> pareto_front(const store::Study& study, const std::vector<store::Trial>& complete);


// Seconds since the epoch of an Optuna datetime ("2026-11-25 19:43:06.123456", UTC); nullopt when
// the text is empty or malformed.
std::optional<double> parse_optuna_time(const std::string& text);

// Seconds between a trial's start and completion; nullopt when either is missing.
std::optional<double> trial_seconds(const store::Trial& trial);

}  // namespace effscale::report
