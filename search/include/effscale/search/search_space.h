#pragma once
// SearchSpace: MnasNet's factorized hierarchical space over a reference network (docs/search.md). The
// network is a fixed sequence of blocks; per block the search picks a conv op, a kernel, an SE ratio, a
// skip op, output filters and layers relative to the reference. A candidate is one choice index per decision.

#include <nlohmann/json.hpp>

#include <optional>

#include <string>
#include <vector>

#include "effscale/models/arch_spec.h"

namespace effscale::search {

// The ops a block can use. `dsconv` is a depthwise-separable conv (MBConv with expand 1); `mbconv3` and
// `mbconv6` are inverted bottlenecks with expand 3 and 6; `conv` is MnasNet's ConvOp, one regular kxk conv from
// the block's input to its output filters with batch norm and swish (block-string token `c2`); `fused` (not in
// the default choices; earlier versions' `conv`) is a regular kxk conv followed by the 1x1 projection (`c1` with
// expand 1: dsconv with a full conv in place of the depthwise).
const std::vector<std::string>& known_ops();

// The choices of one block.
struct BlockChoices {
  std::vector<std::string> ops{"dsconv", "mbconv3", "mbconv6", "conv"};
  std::vector<int> kernels{3, 5};
  std::vector<double> se_ratios{0.0, 0.25};
  // none; identity: a residual where stride 1 and in == out; pool: identity where it fits, else the input
  // average-pooled by the stride and zero-padded / cut to the output width (`poolskip`, see mbconv.h)
  std::vector<std::string> skips{"none", "identity", "pool"};
  // x the reference block's output filters, rounded to a multiple of 8: MnasNet's {0.75, 1.0, 1.25}
  std::vector<double> filter_mults{0.75, 1.0, 1.25};
  std::vector<int> layer_deltas{-1, 0, 1};             // + the reference block's layers (at least 1)
};

// Decisions per block, in this order: op, kernel, se, skip, filters, layers.
inline constexpr size_t kDecisionsPerBlock = 6;

// One categorical decision of the space.
struct Decision {
  std::string name;                       // "b3_kernel": block 3's kernel
  std::vector<nlohmann::json> choices;    // as Optuna shows them
};

// A space: the reference network (its stem, head, strides, filters and layers) and per-block choices.
class SearchSpace {
 public:
  // Throws SpecError when the reference is invalid or a block's choices are empty or unknown.
  SearchSpace(models::ArchSpec reference, std::vector<BlockChoices> blocks);
  // BlockChoices{} (MnasNet's choices) for each block of `reference`. Throws SpecError when it is invalid.
  static SearchSpace around(models::ArchSpec reference);
  // The default, as MnasNet and EfficientNet define the space: around MobileNetV2's seven blocks
  // (models::mobilenetv2_reference()), 432^7 candidates.
  static SearchSpace mnasnet_default();
  // The space around B0 that earlier versions searched by default: MnasNet's choices with an extra filter
  // multiplier 0.85, so that B0 and MnasNet-A1 (its block strings; A1's ReLU is not part of a spec) are
  // both points. `nas_search --reference b0`.
  static SearchSpace efficientnet_default();
  // Reads a space file: {"reference": SPEC or "b0", "blocks": [{"ops": [...], "kernels": [...], ...}, ...]}
  // (a missing key takes BlockChoices' default; "blocks" may be one object applied to every block).
  // Throws SpecError naming the file and field.
  static SearchSpace from_json(const std::string& text, const std::string& source);

  // Every decision, block by block in the order op, kernel, se, skip, filters, layers.
  const std::vector<Decision>& decisions() const { return decisions_; }
  // The spec a candidate (one choice index per decision) decodes to: filters round to multiples of 8.
  // Throws std::invalid_argument when the candidate has the wrong length or an index out of range.
  models::ArchSpec decode(const std::vector<int>& candidate) const;
  // Block `block`'s stage for its kDecisionsPerBlock choice indices `picks` (op, kernel, se, skip, filters,
  // layers; in range, unchecked) when it receives `input_filters` channels. decode() chains these.
  models::BlockArgs decode_block(size_t block, const int* picks, int input_filters) const;
  // The candidate whose decoding has exactly `spec`'s stages, if the space holds it.
  std::optional<std::vector<int>> encode(const models::ArchSpec& spec) const;
  const models::ArchSpec& reference() const { return reference_; }
  // The number of distinct candidates (product of choice counts), as a double.
  double size() const;

 private:
  models::ArchSpec reference_;
  std::vector<BlockChoices> blocks_;
  std::vector<Decision> decisions_;
};

}  // namespace effscale::search
