#pragma once
// The RL controller of MnasNet: a one-layer LSTM policy emitting one token per decision, trained with PPO.

#include <memory>

#include "effscale/search/controller.h"

namespace effscale::search {

// PPO settings (defaults after MnasNet / NASNet: 100 hidden units; the rest are usual PPO values).
struct PpoOptions {
  int hidden = 100;              // LSTM hidden units
  int embedding = 32;            // token embedding size
  int batch = 8;                 // samples per policy update
  int epochs = 4;                // optimisation passes over each batch
  double learning_rate = 5e-3;   // Adam
  double clip = 0.2;             // PPO ratio clip
  double entropy = 1e-3;         // entropy bonus weight
  double baseline_decay = 0.9;   // moving-average reward baseline
};

// ask() samples a candidate from the policy (its own seeded generator); tell() buffers (candidate, reward)
// and every `batch` rewards runs `epochs` of the clipped PPO objective with advantage = reward - baseline
// (the baseline is the moving average of rewards, updated after each batch). state() holds the weights,
// Adam's moments, the baseline, the buffer and the generator, so a restored controller continues the same
// stream of samples.
std::unique_ptr<Controller> make_ppo_controller(std::vector<int> choice_counts, uint64_t seed, PpoOptions options = {});

}  // namespace effscale::search
