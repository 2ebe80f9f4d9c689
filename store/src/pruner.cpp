#include "effscale/store/pruner.h"

#include <algorithm>
#include <cmath>

#include "effscale/store/store_error.h"

namespace effscale::store {
namespace {

// The values other trials reported at `step`, turned so that higher is better, and this study's sign.
std::vector<double> others_at(Storage& storage, int64_t study_id, int64_t trial_id, int64_t step, bool finished_only,
                              double& sign) {
  std::vector<double> values;
  std::vector<Study> studies = storage.list_studies();
  sign = 1.0;
  for (const Study& s : studies)
    if (s.study_id == study_id && !s.directions.empty() && s.directions[0] == StudyDirection::Minimize) sign = -1.0;
  for (const Trial& t : storage.get_trials(study_id, {})) {
    if (t.trial_id == trial_id || (finished_only && !is_finished(t.state))) continue;
    const auto it = t.intermediate_values.find(step);
    if (it != t.intermediate_values.end() && !std::isnan(it->second)) values.push_back(sign * it->second);
  }
  return values;
}

class MedianPruner : public Pruner {
 public:
  MedianPruner(int startup, int64_t warmup) : startup_(startup), warmup_(warmup) {}
  bool should_prune(Storage& storage, int64_t study_id, int64_t trial_id, int64_t step, double value) override {
    if (step < warmup_) return false;
    double sign = 1.0;
    std::vector<double> values = others_at(storage, study_id, trial_id, step, /*finished_only=*/true, sign);
    if (static_cast<int>(values.size()) < startup_ || values.empty()) return false;
    std::sort(values.begin(), values.end());
    const size_t n = values.size();
    const double median = n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
    return std::isnan(value) || sign * value < median;
  }

 private:
  int startup_;
  int64_t warmup_;
};

class SuccessiveHalvingPruner : public Pruner {
 public:
  SuccessiveHalvingPruner(int64_t min_step, int eta) : min_step_(min_step), eta_(eta) {}
  bool should_prune(Storage& storage, int64_t study_id, int64_t trial_id, int64_t step, double value) override {
    if (!is_rung(step)) return false;
    if (std::isnan(value)) return true;
    double sign = 1.0;
    std::vector<double> values = others_at(storage, study_id, trial_id, step, /*finished_only=*/false, sign);
    values.push_back(sign * value);
    if (static_cast<int>(values.size()) < eta_) return false;
    std::sort(values.begin(), values.end(), std::greater<double>());
    const size_t keep = std::max<size_t>(1, values.size() / static_cast<size_t>(eta_));
    return sign * value < values[keep - 1];
  }

 private:
  bool is_rung(int64_t step) const {
    for (int64_t rung = min_step_; rung <= step; rung *= eta_)
      if (rung == step) return true;
    return false;
  }
  int64_t min_step_;
  int eta_;
};

}  // namespace

std::unique_ptr<Pruner> make_median_pruner(int startup_trials, int64_t warmup_steps) {
  return std::make_unique<MedianPruner>(startup_trials, warmup_steps);
}

std::unique_ptr<Pruner> make_successive_halving_pruner(int64_t min_step, int eta) {
  if (min_step < 1 || eta < 2) throw StoreInputError("successive halving needs min_step >= 1 and eta >= 2");
  return std::make_unique<SuccessiveHalvingPruner>(min_step, eta);
}

PrunerKind parse_pruner_kind(const std::string& name) {
  if (name == "none") return PrunerKind::None;
  if (name == "median") return PrunerKind::Median;
  if (name == "halving") return PrunerKind::Halving;
  throw StoreInputError("pruner '" + name + "': expected none, median or halving");
}

std::unique_ptr<Pruner> make_pruner(PrunerKind kind) {
  switch (kind) {
    case PrunerKind::Median: return make_median_pruner();
    case PrunerKind::Halving: return make_successive_halving_pruner();
    default: return nullptr;
  }
}

std::unique_ptr<Pruner> make_pruner(const std::string& name) { return make_pruner(parse_pruner_kind(name)); }

}  // namespace effscale::store
