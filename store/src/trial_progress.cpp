#include "effscale/store/trial_progress.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace effscale::store {

namespace {

// A value as Python prints it in Optuna's line: strings quoted, numbers as the shortest round trip.
std::string python_repr(const nlohmann::json& value) {
  if (value.is_string()) return "'" + value.get<std::string>() + "'";
  if (value.is_boolean()) return value.get<bool>() ? "True" : "False";
  if (value.is_null()) return "None";
  return value.dump();
}

std::string parameters(const Trial& trial) {
  std::string out = "{";
  for (const auto& [name, param] : trial.params)
    out += (out.size() > 1 ? ", '" : "'") + name + "': " + python_repr(param.external());
  return out + "}";
}

}  // namespace

ProgressClock::ProgressClock(int done_at_start)
    : started_(std::chrono::steady_clock::now()), done_at_start_(done_at_start) {}

double ProgressClock::eta_seconds(int done, int total) const {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return elapsed / std::max(1, done - done_at_start_) * std::max(0, total - done);
}

std::string short_duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  std::ostringstream out;
  if (s < 60) out << s << "s";
  else if (s < 3600) out << s / 60 << "m" << (s % 60 < 10 ? "0" : "") << s % 60 << "s";
  else out << s / 3600 << "h" << ((s % 3600) / 60 < 10 ? "0" : "") << (s % 3600) / 60 << "m";
  return out.str();
}

std::string trial_finished_line(const Trial& trial, const std::optional<Trial>& best, int done, int total,
                                double eta_seconds) {
  std::ostringstream line;
  line << "Trial " << trial.number;
  if (trial.state == TrialState::Pruned) {
    line << " pruned.";
  } else if (trial.state == TrialState::Fail) {
    line << " failed: " << trial.user_attrs.value("fail_reason", std::string("unknown reason")) << ".";
  } else {
    line << " finished with value: " << (trial.values.empty() ? nlohmann::json(nullptr) : nlohmann::json(trial.values[0])).dump()
         << " and parameters: " << parameters(trial) << ".";
  }
  if (best && !best->values.empty())
    line << " Best is trial " << best->number << " with value: " << nlohmann::json(best->values[0]).dump() << ".";
  if (total > 0) {
    line << " [" << done << "/" << total << " done";
    if (eta_seconds >= 0) line << ", ETA " << short_duration(eta_seconds);
    line << "]";
  }
  return line.str();
}

}  // namespace effscale::store
