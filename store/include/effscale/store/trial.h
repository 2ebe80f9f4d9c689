#pragma once
// The data of a study and its trials, in Optuna's terms (docs/store.md).

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace effscale::store {

// Trial states; their names in the database are Optuna's ('RUNNING', 'COMPLETE', ...).
enum class TrialState { Running, Complete, Pruned, Fail, Waiting };

// "RUNNING", "COMPLETE", "PRUNED", "FAIL", "WAITING".
std::string state_name(TrialState state);
// Inverse of state_name; throws StoreInputError naming the bad value.
TrialState parse_state(const std::string& name);
// True for COMPLETE, PRUNED and FAIL.
bool is_finished(TrialState state);

// Objective direction of a study.
enum class StudyDirection { Minimize, Maximize };
std::string direction_name(StudyDirection direction);  // "MINIMIZE" / "MAXIMIZE"
StudyDirection parse_direction(const std::string& name);  // throws StoreInputError

// A parameter's distribution, stored as Optuna's distribution_json.
struct Distribution {
  enum class Kind { Float, Int, Categorical };
  Kind kind = Kind::Float;
  double low = 0, high = 0;                 // Float and Int
  std::optional<double> step;               // Float: optional; Int: required (default 1)
  bool log = false;                         // Float and Int
  std::vector<nlohmann::json> choices;      // Categorical: the choices (numbers, strings, bools, null)

  static Distribution float_range(double low, double high, std::optional<double> step = {}, bool log = false);
  static Distribution int_range(int64_t low, int64_t high, int64_t step = 1, bool log = false);
  static Distribution categorical(std::vector<nlohmann::json> choices);
};

// Optuna's JSON, e.g. {"name": "FloatDistribution", "attributes": {"step": 0.05, "low": 1.0, "high": 1.4,
// "log": false}} or {"name": "CategoricalDistribution", "attributes": {"choices": [3, 5]}}.
std::string distribution_to_json(const Distribution& d);
// Reads Optuna 3.x distribution JSON; throws StoreInputError on anything else.
Distribution distribution_from_json(const std::string& text);

// A parameter as stored: Optuna's internal value (the choice index for categoricals) and its distribution.
struct ParamValue {
  double internal = 0;
  Distribution distribution;
  // The value a user sees: the choice for a categorical, the number otherwise.
  nlohmann::json external() const;
};

// A trial read from the store.
struct Trial {
  int64_t trial_id = 0;                            // unique in the database
  int number = 0;                                  // 0, 1, 2, ... within its study
  int64_t study_id = 0;
  TrialState state = TrialState::Running;
  std::map<std::string, ParamValue> params;
  std::vector<double> values;                      // one per objective; empty until finished
  std::map<int64_t, double> intermediate_values;   // step -> value (NaN allowed)
  nlohmann::json user_attrs = nlohmann::json::object();
  nlohmann::json system_attrs = nlohmann::json::object();
  std::string datetime_start;                      // naive UTC "YYYY-MM-DD HH:MM:SS.ffffff"; empty if none
  std::string datetime_complete;                   // empty until finished
};

// A study's identity and directions.
struct Study {
  int64_t study_id = 0;
  std::string name;
  std::vector<StudyDirection> directions;
};

}  // namespace effscale::store
