#include <deque>
#include <random>
#include <sstream>
#include <stdexcept>

#include "effscale/search/controller.h"

namespace effscale::search {
namespace {

using nlohmann::json;

std::string rng_text(const std::mt19937_64& rng) {
  std::ostringstream out;
  out << rng;
  return out.str();
}

void rng_from_text(std::mt19937_64& rng, const std::string& text) {
  std::istringstream in(text);
  in >> rng;
  if (!in) throw std::invalid_argument("controller state: damaged random-generator state");
}

// What random and evolution share: the space's shape, the generator, and uniform sampling.
class SamplingController : public Controller {
 public:
  SamplingController(std::string kind, std::vector<int> counts, uint64_t seed)
      : kind_(std::move(kind)), counts_(std::move(counts)), rng_(seed) {
    for (int c : counts_)
      if (c < 1) throw std::invalid_argument("every decision needs at least one choice");
  }

 protected:
  Candidate random_candidate() {
    Candidate c;
    for (int n : counts_) c.push_back(std::uniform_int_distribution<int>(0, n - 1)(rng_));
    return c;
  }
  json base_state() const { return {{"kind", kind_}, {"counts", counts_}, {"rng", rng_text(rng_)}}; }
  void load_base(const json& s) {
    if (s.value("kind", "") != kind_ || s.value("counts", std::vector<int>{}) != counts_)
      throw std::invalid_argument("controller state is for another controller or search space");
    rng_from_text(rng_, s.at("rng").get<std::string>());
  }

  std::string kind_;
  std::vector<int> counts_;
  std::mt19937_64 rng_;
};

class RandomController : public SamplingController {
 public:
  RandomController(std::vector<int> counts, uint64_t seed) : SamplingController("random", std::move(counts), seed) {}
  Candidate ask() override { return random_candidate(); }
  void tell(const Candidate&, double) override {}
  json state() const override { return base_state(); }
  void load_state(const json& s) override { load_base(s); }
};

class EvolutionController : public SamplingController {
 public:
  EvolutionController(std::vector<int> counts, uint64_t seed, int population, int sample)
      : SamplingController("evolution", std::move(counts), seed), population_(population), sample_(sample) {
    if (population < 2 || sample < 1 || sample > population)
      throw std::invalid_argument("evolution needs population >= 2 and 1 <= sample <= population");
  }

  Candidate ask() override {
    if (static_cast<int>(members_.size()) < population_) return random_candidate();
    const Member* best = nullptr;
    for (int i = 0; i < sample_; ++i) {
      const Member& m = members_[std::uniform_int_distribution<size_t>(0, members_.size() - 1)(rng_)];
      if (best == nullptr || m.reward > best->reward) best = &m;
    }
    Candidate child = best->candidate;
    std::vector<size_t> mutable_decisions;
    for (size_t d = 0; d < counts_.size(); ++d)
      if (counts_[d] > 1) mutable_decisions.push_back(d);
    if (!mutable_decisions.empty()) {
      const size_t d = mutable_decisions[std::uniform_int_distribution<size_t>(0, mutable_decisions.size() - 1)(rng_)];
      const int shift = std::uniform_int_distribution<int>(1, counts_[d] - 1)(rng_);
      child[d] = (child[d] + shift) % counts_[d];
    }
    return child;
  }

  void tell(const Candidate& candidate, double reward) override {
    members_.push_back({candidate, reward});
    if (static_cast<int>(members_.size()) > population_) members_.pop_front();  // the oldest dies
  }

  json state() const override {
    json s = base_state();
    json members = json::array();
    for (const Member& m : members_) members.push_back({{"candidate", m.candidate}, {"reward", m.reward}});
    s["population"] = population_;
    s["sample"] = sample_;
    s["members"] = members;
    return s;
  }

  void load_state(const json& s) override {
    load_base(s);
    if (s.at("population").get<int>() != population_ || s.at("sample").get<int>() != sample_)
      throw std::invalid_argument("controller state has another population or sample size");
    members_.clear();
    for (const json& m : s.at("members")) members_.push_back({m.at("candidate").get<Candidate>(), m.at("reward").get<double>()});
  }

 private:
  struct Member {
    Candidate candidate;
    double reward;
  };
  int population_, sample_;
  std::deque<Member> members_;
};

}  // namespace

std::unique_ptr<Controller> make_random_controller(std::vector<int> choice_counts, uint64_t seed) {
  return std::make_unique<RandomController>(std::move(choice_counts), seed);
}

std::unique_ptr<Controller> make_evolution_controller(std::vector<int> choice_counts, uint64_t seed, int population,
                                                      int sample) {
  return std::make_unique<EvolutionController>(std::move(choice_counts), seed, population, sample);
}

}  // namespace effscale::search
