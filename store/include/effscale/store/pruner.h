#pragma once
// Pruners: rules that stop unpromising trials early from the intermediate values of the study's trials
// (Optuna's median and successive-halving rules). A training loop asks after each reported step.

#include <memory>
#include <string>

#include "effscale/store/storage.h"

namespace effscale::store {

class Pruner {
 public:
  virtual ~Pruner() = default;
  // Whether trial `trial_id`, which just reported `value` at `step`, should stop. Reads the study's other
  // trials from `storage`; the study's first direction says which values are better.
  virtual bool should_prune(Storage& storage, int64_t study_id, int64_t trial_id, int64_t step, double value) = 0;
};

// Optuna's MedianPruner: after `startup_trials` trials have finished and past `warmup_steps`, prune when the
// trial's value at `step` is worse than the median of the finished trials' values at that step.
std::unique_ptr<Pruner> make_median_pruner(int startup_trials = 5, int64_t warmup_steps = 0);

// Successive halving: rungs at steps min_step * eta^k; at a rung, a trial goes on only when its value is
// among the best 1/eta of the values every trial reported at that step (itself included), judged once at
// least eta values are there.
std::unique_ptr<Pruner> make_successive_halving_pruner(int64_t min_step = 1, int eta = 3);

// The pruners a command can name.
enum class PrunerKind { None, Median, Halving };

// "none", "median" or "halving" as a kind; throws StoreInputError naming the value otherwise.
PrunerKind parse_pruner_kind(const std::string& name);

// The pruner of `kind` with its default settings: nullptr for None.
std::unique_ptr<Pruner> make_pruner(PrunerKind kind);

// make_pruner(parse_pruner_kind(name)).
std::unique_ptr<Pruner> make_pruner(const std::string& name);

}  // namespace effscale::store
