#pragma once
// What a search space holds: how many distinct networks, and how near it comes to known ones.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "effscale/models/arch_spec.h"
#include "effscale/search/search_space.h"

namespace effscale::search {

// The number of distinct networks `space` decodes to. Candidates that build the same network count once:
// a layer delta clamped at one layer, filter multipliers rounding to the same width, a skip that cannot
// apply (identity on a layer that strides or changes width, pool where identity fits). Two networks are
// the same when every realized layer (models::plan_layers) has the same kernel, strides, filters, expansion,
// SE width, conv type and shortcut. Counted exactly, block by block over the widths a block can receive.
double distinct_size(const SearchSpace& space);

// The same count for the networks as they are trained when their width and depth multipliers and channel
// divisor are those of `realised` (the reference shrunk to a proxy): choices that differ at full size but
// round to the same channels or layers at the proxy count once. Widths are grouped as realised, one block width
// standing for each, so the count is exact when blocks receiving widths that realise alike decode alike.
double distinct_size_realised(const SearchSpace& space, const models::ArchSpec& realised);

// The candidate of `space` nearest to `target` and how far it is.
struct NearestPoint {
  std::vector<int> candidate;  // one choice per decision
  int differences = 0;         // decisions whose choice differs from what `target` has (0: the space holds it)
  std::vector<std::string> differing;  // their names ("b5_filters")
};

// Per block: the op of `target`'s expansion and conv type, the same skip kind, and the nearest kernel, SE
// ratio, output filters (after rounding) and layer count (a tie takes the first choice). Nothing when
// `target` has another number of stages than the space has blocks.
std::optional<NearestPoint> nearest_point(const SearchSpace& space, const models::ArchSpec& target);

// A candidate of `space` near the largest by `size` (say, the activations of its network as trained): built one
// decision at a time in order, each taking the choice that makes size(decode(candidate)) largest with the decisions
// after it at their first choice. Exact when each decision's effect on `size` does not depend on the later ones
// (more filters, layers and expansion never make a network smaller); otherwise a lower bound. `size` may throw.
std::vector<int> largest_candidate(const SearchSpace& space, const std::function<int64_t(const models::ArchSpec&)>& size);

}  // namespace effscale::search
