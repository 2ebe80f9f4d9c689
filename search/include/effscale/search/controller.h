#pragma once
// Controllers behind one ask/tell interface: a controller proposes candidates (one choice index per
// decision) and learns from their rewards. Its whole state is JSON, so a killed search resumes with the
// same controller and the same stream of samples.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace effscale::search {

using Candidate = std::vector<int>;

class Controller {
 public:
  virtual ~Controller() = default;
  // The next candidate to evaluate.
  virtual Candidate ask() = 0;
  // The reward of a candidate that ask() returned (in any order).
  virtual void tell(const Candidate& candidate, double reward) = 0;
  // Everything needed to continue exactly: load_state(state()) restores the same future behaviour.
  virtual nlohmann::json state() const = 0;
  // Throws std::invalid_argument when the state is not this controller's (or for another space).
  virtual void load_state(const nlohmann::json& state) = 0;
};

// Uniform random search over the choice counts.
std::unique_ptr<Controller> make_random_controller(std::vector<int> choice_counts, uint64_t seed);

// Regularized evolution (Real et al.): an aging population of `population` members; once full, each
// candidate is the best of `sample` random members with one decision changed to another choice.
std::unique_ptr<Controller> make_evolution_controller(std::vector<int> choice_counts, uint64_t seed,
                                                      int population = 32, int sample = 8);

}  // namespace effscale::search
