#include "effscale/search/space_info.h"

#include <cmath>
#include <map>
#include <set>

#include "effscale/models/layer_plan.h"

namespace effscale::search {
namespace {

// The layers `stage` builds when it receives `stage.input_filters` channels, as a text key: two stages with
// the same key build the same layers. Drop-connect rates (a training setting that depends on the position)
// are left out.
std::string layers_key(const models::ArchSpec& reference, const models::BlockArgs& stage) {
  models::ArchSpec alone = reference;
  alone.stages = {stage};
  alone.stem_filters = stage.input_filters;
  std::string key;
  for (const models::LayerPlan& l : models::plan_layers(alone)) {
    key += std::to_string(l.kernel_size) + "," + std::to_string(l.strides[0]) + std::to_string(l.strides[1]) + "," +
           std::to_string(l.input_filters) + "," + std::to_string(l.output_filters) + "," +
           std::to_string(l.expanded_filters) + "," + std::to_string(l.se_filters) + "," + (l.fused ? "f" : "d") +
           (l.residual ? "r" : "") + (l.pool_shortcut ? "p" : "") + ";";
  }
  return key;
}

// The choice counts of block `b`'s decisions.
std::vector<size_t> block_radix(const SearchSpace& space, size_t b) {
  std::vector<size_t> radix;
  for (size_t d = 0; d < kDecisionsPerBlock; ++d) radix.push_back(space.decisions()[kDecisionsPerBlock * b + d].choices.size());
  return radix;
}

// Advances `picks` to the next combination in mixed radix; false after the last.
bool next_combination(std::vector<int>& picks, const std::vector<size_t>& radix) {
  for (size_t d = 0; d < picks.size(); ++d) {
    if (size_t(++picks[d]) < radix[d]) return true;
    picks[d] = 0;
  }
  return false;
}

// How far block `stage` is from `want` on decision `d` (op, kernel, se, skip, filters, layers); 0 when equal.
double field_distance(size_t d, const models::BlockArgs& stage, const models::BlockArgs& want) {
  switch (d) {
    case 0: return stage.expand_ratio == want.expand_ratio && stage.conv_type == want.conv_type
                       ? 0.0 : 1.0 + std::abs(stage.expand_ratio - want.expand_ratio);
    case 1: return std::abs(stage.kernel_size - want.kernel_size);
    case 2: return std::abs(stage.se_ratio - want.se_ratio);
    case 3: return stage.id_skip == want.id_skip && stage.pool_skip == want.pool_skip ? 0.0 : 1.0;
    case 4: return std::abs(stage.output_filters - want.output_filters);
    default: return std::abs(stage.num_repeat - want.num_repeat);
  }
}

}  // namespace

double distinct_size(const SearchSpace& space) {
  const size_t blocks = space.decisions().size() / kDecisionsPerBlock;
  std::map<int, double> ways{{space.reference().stem_filters, 1.0}};  // networks so far, by the width they end in
  for (size_t b = 0; b < blocks; ++b) {
    const std::vector<size_t> radix = block_radix(space, b);
    std::map<int, double> next;
    for (const auto& [input_filters, count] : ways) {
      std::map<int, std::set<std::string>> stages_by_width;
      std::vector<int> picks(kDecisionsPerBlock, 0);
      do {
        const models::BlockArgs stage = space.decode_block(b, picks.data(), input_filters);
        stages_by_width[stage.output_filters].insert(layers_key(space.reference(), stage));
      } while (next_combination(picks, radix));
      for (const auto& [width, stages] : stages_by_width) next[width] += count * double(stages.size());
    }
    ways = std::move(next);
  }
  double total = 0;
  for (const auto& [width, count] : ways) total += count;
  return total;
}

std::optional<NearestPoint> nearest_point(const SearchSpace& space, const models::ArchSpec& target) {
  const std::vector<Decision>& decisions = space.decisions();
  if (target.stages.size() * kDecisionsPerBlock != decisions.size()) return std::nullopt;
  NearestPoint point;
  point.candidate.assign(decisions.size(), 0);
  int previous = space.reference().stem_filters;
  for (size_t b = 0; b < target.stages.size(); ++b) {
    int* picks = point.candidate.data() + kDecisionsPerBlock * b;
    for (size_t d = 0; d < kDecisionsPerBlock; ++d) {
      double best = INFINITY;
      int chosen = 0;
      for (size_t i = 0; i < decisions[kDecisionsPerBlock * b + d].choices.size(); ++i) {
        picks[d] = int(i);
        const double distance = field_distance(d, space.decode_block(b, picks, previous), target.stages[b]);
        if (distance < best) best = distance, chosen = int(i);
      }
      picks[d] = chosen;
      if (best > 0) {
        ++point.differences;
        point.differing.push_back(decisions[kDecisionsPerBlock * b + d].name);
      }
    }
    previous = space.decode_block(b, picks, previous).output_filters;
  }
  return point;
}


}  // namespace effscale::search
