#include "effscale/search/space_info.h"

#include <cmath>
#include <map>
#include <set>

#include "effscale/models/layer_plan.h"

namespace effscale::search {
namespace {

// The layers `stage` builds when it receives `stage.input_filters` channels, realised with the width and depth
// multipliers and divisor of `realised`, as a text key (two stages with the same key build the same layers), and
// the width it ends in. Drop-connect rates (a training setting that depends on the position) are left out.
std::pair<std::string, int> realised_stage(const models::ArchSpec& realised, const models::BlockArgs& stage) {
  models::ArchSpec alone = realised;
  alone.stages = {stage};
  alone.stem_filters = stage.input_filters;
  std::string key;
  int width = 0;
  for (const models::LayerPlan& l : models::plan_layers(alone)) {
    width = l.output_filters;
    key += std::to_string(l.kernel_size) + "," + std::to_string(l.strides[0]) + std::to_string(l.strides[1]) + "," +
           std::to_string(l.input_filters) + "," + std::to_string(l.output_filters) + "," +
           std::to_string(l.expanded_filters) + "," + std::to_string(l.se_filters) + "," + (l.plain ? "c" : l.fused ? "f" : "d") +
           (l.residual ? "r" : "") + (l.pool_shortcut ? "p" : "") + ";";
  }
  return {key, width};
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

double distinct_size(const SearchSpace& space) { return distinct_size_realised(space, space.reference()); }

double distinct_size_realised(const SearchSpace& space, const models::ArchSpec& realised) {
  struct Ways {
    int filters = 0;     // a block width (before the multiplier) that realises this width
    double count = 0;    // distinct networks so far that end in it
  };
  const size_t blocks = space.decisions().size() / kDecisionsPerBlock;
  std::map<int, Ways> ways{{0, {space.reference().stem_filters, 1.0}}};  // by realised width (the stem: one entry)
  for (size_t b = 0; b < blocks; ++b) {
    const std::vector<size_t> radix = block_radix(space, b);
    std::map<int, Ways> next;
    for (const auto& [realised_in, in] : ways) {
      std::map<int, std::pair<int, std::set<std::string>>> stages_by_width;  // realised width: filters, layer keys
      std::vector<int> picks(kDecisionsPerBlock, 0);
      do {
        const models::BlockArgs stage = space.decode_block(b, picks.data(), in.filters);
        const auto [key, width] = realised_stage(realised, stage);
        auto& slot = stages_by_width[width];
        if (slot.second.empty()) slot.first = stage.output_filters;
        slot.second.insert(key);
      } while (next_combination(picks, radix));
      for (const auto& [width, stages] : stages_by_width) {
        Ways& w = next[width];
        if (w.count == 0) w.filters = stages.first;
        w.count += in.count * double(stages.second.size());
      }
    }
    ways = std::move(next);
  }
  double total = 0;
  for (const auto& [width, w] : ways) total += w.count;
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

std::vector<int> largest_candidate(const SearchSpace& space, const std::function<int64_t(const models::ArchSpec&)>& size) {
  std::vector<int> candidate(space.decisions().size(), 0);
  for (size_t d = 0; d < candidate.size(); ++d) {
    int best = 0;
    int64_t best_size = -1;
    for (int c = 0; c < int(space.decisions()[d].choices.size()); ++c) {
      candidate[d] = c;
      if (const int64_t s = size(space.decode(candidate)); s > best_size) {
        best = c;
        best_size = s;
      }
    }
    candidate[d] = best;
  }
  return candidate;
}

}  // namespace effscale::search
