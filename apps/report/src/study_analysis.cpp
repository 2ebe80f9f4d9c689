// Pareto fronts, best trials and durations over stored trials.

#include "effscale/report/study_analysis.h"

#include <array>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace effscale::report {
namespace st = effscale::store;

double user_number(const st::Trial& t, const char* key) {
  return t.user_attrs.contains(key) && t.user_attrs[key].is_number() ? t.user_attrs[key].get<double>() : NAN;
}

double trial_macs(const st::Trial& t) {
  for (const char* key : {"target_macs", "macs"})
    if (const double v = user_number(t, key); !std::isnan(v)) return v;
  return NAN;
}

std::vector<st::Trial> complete_trials(const std::vector<st::Trial>& trials) {
  std::vector<st::Trial> out;
  for (const st::Trial& t : trials)
    if (t.state == st::TrialState::Complete && !t.values.empty()) out.push_back(t);
  return out;
}

namespace {

// True when `a` is at least as good as `b` on both objectives and better on one.
bool dominates(const std::array<double, 2>& a, const std::array<double, 2>& b) {
  return a[0] >= b[0] && a[1] >= b[1] && (a[0] > b[0] || a[1] > b[1]);
}

}  // namespace

std::vector<st::Trial> pareto_front(const st::Study& study, const std::vector<st::Trial>& complete) {
  // Objectives are turned into "higher is better".
  auto point = [&](const st::Trial& t) -> std::optional<std::array<double, 2>> {
    auto sign = [&](size_t i) { return study.directions[i] == st::StudyDirection::Maximize ? 1.0 : -1.0; };
    if (study.directions.size() >= 2 && t.values.size() >= 2) return std::array<double, 2>{sign(0) * t.values[0], sign(1) * t.values[1]};
    if (t.values.empty() || std::isnan(trial_macs(t))) return std::nullopt;
    return std::array<double, 2>{sign(0) * t.values[0], -trial_macs(t)};
  };
  std::vector<st::Trial> front;
  for (const st::Trial& t : complete) {
    const auto p = point(t);
    if (!p) continue;
    bool dominated = false;
    for (const st::Trial& other : complete) {
      const auto q = point(other);
      dominated = dominated || (q && dominates(*q, *p));
    }
    if (!dominated) front.push_back(t);
  }
  return front;
}

std::optional<double> parse_optuna_time(const std::string& text) {
  std::tm tm{};
  double seconds = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%d %d:%d:%lf", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                  &seconds) != 6)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) + seconds;
}

std::optional<double> trial_seconds(const st::Trial& t) {
  const auto a = parse_optuna_time(t.datetime_start), b = parse_optuna_time(t.datetime_complete);
  if (!a || !b) return std::nullopt;
  return *b - *a;
}

}  // namespace effscale::report
