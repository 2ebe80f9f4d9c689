#include "effscale/store/trial.h"

#include <cmath>

#include "effscale/store/store_error.h"

namespace effscale::store {

using nlohmann::json;

namespace {
const char* const kStateNames[] = {"RUNNING", "COMPLETE", "PRUNED", "FAIL", "WAITING"};
}

std::string state_name(TrialState state) { return kStateNames[static_cast<int>(state)]; }

TrialState parse_state(const std::string& name) {
  for (int i = 0; i < 5; ++i)
    if (name == kStateNames[i]) return static_cast<TrialState>(i);
  throw StoreInputError("trial state '" + name + "': expected RUNNING, COMPLETE, PRUNED, FAIL or WAITING");
}

bool is_finished(TrialState s) {
  return s == TrialState::Complete || s == TrialState::Pruned || s == TrialState::Fail;
}

std::string direction_name(StudyDirection d) { return d == StudyDirection::Maximize ? "MAXIMIZE" : "MINIMIZE"; }

StudyDirection parse_direction(const std::string& name) {
  if (name == "MAXIMIZE" || name == "maximize") return StudyDirection::Maximize;
  if (name == "MINIMIZE" || name == "minimize") return StudyDirection::Minimize;
  throw StoreInputError("study direction '" + name + "': expected MAXIMIZE or MINIMIZE");
}

Distribution Distribution::float_range(double low, double high, std::optional<double> step, bool log) {
  Distribution d;
  d.kind = Kind::Float;
  d.low = low;
  d.high = high;
  d.step = step;
  d.log = log;
  return d;
}

Distribution Distribution::int_range(int64_t low, int64_t high, int64_t step, bool log) {
  Distribution d = float_range(static_cast<double>(low), static_cast<double>(high), static_cast<double>(step), log);
  d.kind = Kind::Int;
  return d;
}

Distribution Distribution::categorical(std::vector<json> choices) {
  Distribution d;
  d.kind = Kind::Categorical;
  d.choices = std::move(choices);
  return d;
}

std::string distribution_to_json(const Distribution& d) {
  json attributes = json::object();
  std::string name;
  switch (d.kind) {
    case Distribution::Kind::Float:
      name = "FloatDistribution";
      attributes["step"] = d.step ? json(*d.step) : json(nullptr);
      attributes["low"] = d.low;
      attributes["high"] = d.high;
      attributes["log"] = d.log;
      break;
    case Distribution::Kind::Int:
      name = "IntDistribution";
      attributes["log"] = d.log;
      attributes["step"] = static_cast<int64_t>(d.step.value_or(1));
      attributes["low"] = static_cast<int64_t>(d.low);
      attributes["high"] = static_cast<int64_t>(d.high);
      break;
    case Distribution::Kind::Categorical:
      name = "CategoricalDistribution";
      attributes["choices"] = d.choices;
      break;
  }
  return json{{"name", name}, {"attributes", attributes}}.dump();
}

Distribution distribution_from_json(const std::string& text) {
  try {
    const json doc = json::parse(text);
    const std::string name = doc.at("name").get<std::string>();
    const json& a = doc.at("attributes");
    if (name == "CategoricalDistribution") return Distribution::categorical(a.at("choices").get<std::vector<json>>());
    if (name == "FloatDistribution") {
      std::optional<double> step;
      if (a.contains("step") && !a["step"].is_null()) step = a["step"].get<double>();
      return Distribution::float_range(a.at("low").get<double>(), a.at("high").get<double>(), step,
                                       a.value("log", false));
    }
    if (name == "IntDistribution")
      return Distribution::int_range(a.at("low").get<int64_t>(), a.at("high").get<int64_t>(),
                                     a.value("step", int64_t{1}), a.value("log", false));
  } catch (const json::exception& e) {
    throw StoreInputError("distribution " + text + ": " + e.what());
  }
  throw StoreInputError("distribution " + text + ": expected a Float, Int or Categorical distribution");
}

json ParamValue::external() const {
  switch (distribution.kind) {
    case Distribution::Kind::Categorical: {
      const auto index = static_cast<size_t>(std::llround(internal));
      return index < distribution.choices.size() ? distribution.choices[index] : json(nullptr);
    }
    case Distribution::Kind::Int:
      return static_cast<int64_t>(std::llround(internal));
    case Distribution::Kind::Float:
      break;
  }
  return internal;
}

}  // namespace effscale::store
