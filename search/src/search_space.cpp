#include "effscale/search/search_space.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "effscale/models/block_args.h"
#include "effscale/models/official.h"
#include "effscale/models/reference_networks.h"
#include "effscale/models/spec_error.h"
#include "effscale/models/spec_json.h"

namespace effscale::search {

using nlohmann::json;

const std::vector<std::string>& known_ops() {
  static const std::vector<std::string> ops{"dsconv", "mbconv3", "mbconv6", "conv", "fused"};
  return ops;
}

namespace {

int expand_of(const std::string& op) { return op == "mbconv3" ? 3 : op == "mbconv6" ? 6 : 1; }

// conv_type of an op: 2 for the regular conv (one kxk conv in -> out), 1 for the fused one, 0 for the depthwise ops.
int conv_type_of(const std::string& op) { return op == "conv" ? 2 : op == "fused" ? 1 : 0; }

// The skip choice a stage's BlockArgs encodes.
std::string skip_of(const models::BlockArgs& b) { return b.pool_skip ? "pool" : b.id_skip ? "identity" : "none"; }

int round_to_8(double filters) { return std::max(8, static_cast<int>(std::lround(filters / 8.0)) * 8); }

template <typename T>
std::vector<json> as_json(const std::vector<T>& values) {
  return std::vector<json>(values.begin(), values.end());
}

}  // namespace

SearchSpace::SearchSpace(models::ArchSpec reference, std::vector<BlockChoices> blocks)
    : reference_(std::move(reference)), blocks_(std::move(blocks)) {
  models::validate(reference_);
  if (blocks_.size() != reference_.stages.size())
    throw models::SpecError("search space: " + std::to_string(blocks_.size()) + " blocks of choices for a reference with " +
                            std::to_string(reference_.stages.size()) + " stages");
  for (size_t b = 0; b < blocks_.size(); ++b) {
    const BlockChoices& c = blocks_[b];
    const std::string where = "search space block " + std::to_string(b) + ": ";
    if (c.ops.empty() || c.kernels.empty() || c.se_ratios.empty() || c.skips.empty() || c.filter_mults.empty() ||
        c.layer_deltas.empty())
      throw models::SpecError(where + "every decision needs at least one choice");
    for (const std::string& op : c.ops)
      if (std::find(known_ops().begin(), known_ops().end(), op) == known_ops().end())
        throw models::SpecError(where + "op '" + op + "': expected dsconv, mbconv3, mbconv6 or conv");
    for (const std::string& skip : c.skips)
      if (skip != "none" && skip != "identity" && skip != "pool")
        throw models::SpecError(where + "skip '" + skip + "': expected none, identity or pool");
    for (int k : c.kernels)
      if (k < 1 || k > 15 || k % 2 == 0) throw models::SpecError(where + "kernel " + std::to_string(k) + " must be odd, 1..15");
    for (double se : c.se_ratios)
      if (se < 0 || se > 1) throw models::SpecError(where + "SE ratios must be in [0, 1]");
    for (double f : c.filter_mults)
      if (f <= 0) throw models::SpecError(where + "filter multipliers must be positive");
    const std::string p = "b" + std::to_string(b) + "_";
    decisions_.push_back({p + "op", as_json(c.ops)});
    decisions_.push_back({p + "kernel", as_json(c.kernels)});
    decisions_.push_back({p + "se", as_json(c.se_ratios)});
    decisions_.push_back({p + "skip", as_json(c.skips)});
    decisions_.push_back({p + "filters", as_json(c.filter_mults)});
    decisions_.push_back({p + "layers", as_json(c.layer_deltas)});
  }
}

SearchSpace SearchSpace::around(models::ArchSpec reference) {
  const size_t blocks = reference.stages.size();
  return SearchSpace(std::move(reference), std::vector<BlockChoices>(blocks));
}

SearchSpace SearchSpace::mnasnet_default() { return around(models::mobilenetv2_reference()); }

SearchSpace SearchSpace::efficientnet_default() {
  const models::ArchSpec b0 = models::official("b0");
  BlockChoices choices;
  choices.filter_mults = {0.75, 0.85, 1.0, 1.25};
  return SearchSpace(b0, std::vector<BlockChoices>(b0.stages.size(), choices));
}

SearchSpace SearchSpace::from_json(const std::string& text, const std::string& source) {
  try {
    const json doc = json::parse(text);
    const json& ref = doc.at("reference");
    models::ArchSpec reference = ref.is_string() ? models::official(ref.get<std::string>())
                                                 : models::spec_from_json(ref.dump(), source + " reference");
    auto read_block = [](const json& j) {
      BlockChoices c;
      if (j.contains("ops")) c.ops = j["ops"].get<std::vector<std::string>>();
      if (j.contains("kernels")) c.kernels = j["kernels"].get<std::vector<int>>();
      if (j.contains("se")) c.se_ratios = j["se"].get<std::vector<double>>();
      if (j.contains("skip")) c.skips = j["skip"].get<std::vector<std::string>>();
      if (j.contains("filters")) c.filter_mults = j["filters"].get<std::vector<double>>();
      if (j.contains("layers")) c.layer_deltas = j["layers"].get<std::vector<int>>();
      return c;
    };
    std::vector<BlockChoices> blocks;
    const json& b = doc.value("blocks", json::object());
    if (b.is_array()) {
      for (const json& item : b) blocks.push_back(read_block(item));
    } else {
      blocks.assign(reference.stages.size(), read_block(b));
    }
    return SearchSpace(reference, blocks);
  } catch (const json::exception& e) {
    throw models::SpecError(source + ": not a search space (" + std::string(e.what()) + ")");
  } catch (const models::SpecError& e) {
    throw models::SpecError(source + ": " + e.what());
  }
}

models::ArchSpec SearchSpace::decode(const std::vector<int>& candidate) const {
  if (candidate.size() != decisions_.size())
    throw std::invalid_argument("candidate has " + std::to_string(candidate.size()) + " decisions, the space " +
                                std::to_string(decisions_.size()));
  for (size_t i = 0; i < candidate.size(); ++i)
    if (candidate[i] < 0 || candidate[i] >= int(decisions_[i].choices.size()))
      throw std::invalid_argument("decision " + decisions_[i].name + ": choice " + std::to_string(candidate[i]) + " out of range");
  models::ArchSpec spec = reference_;
  spec.name = "candidate";
  int previous = reference_.stem_filters;
  for (size_t b = 0; b < blocks_.size(); ++b) {
    spec.stages[b] = decode_block(b, candidate.data() + kDecisionsPerBlock * b, previous);
    previous = spec.stages[b].output_filters;
  }
  models::validate(spec);
  return spec;
}

models::BlockArgs SearchSpace::decode_block(size_t block, const int* picks, int input_filters) const {
  const BlockChoices& c = blocks_.at(block);
  models::BlockArgs s = reference_.stages[block];
  s.expand_ratio = expand_of(c.ops[picks[0]]);
  s.conv_type = conv_type_of(c.ops[picks[0]]);
  s.kernel_size = c.kernels[picks[1]];
  s.se_ratio = c.se_ratios[picks[2]];
  s.id_skip = c.skips[picks[3]] != "none";
  s.pool_skip = c.skips[picks[3]] == "pool";
  s.input_filters = input_filters;
  s.output_filters = round_to_8(reference_.stages[block].output_filters * c.filter_mults[picks[4]]);
  s.num_repeat = std::max(1, reference_.stages[block].num_repeat + c.layer_deltas[picks[5]]);
  return s;
}

std::optional<std::vector<int>> SearchSpace::encode(const models::ArchSpec& spec) const {
  if (spec.stages.size() != blocks_.size()) return std::nullopt;
  std::vector<int> candidate;
  for (size_t b = 0; b < blocks_.size(); ++b) {
    const BlockChoices& c = blocks_[b];
    const models::BlockArgs& want = spec.stages[b];
    const models::BlockArgs& ref = reference_.stages[b];
    auto index_of = [](size_t count, auto&& matches) -> int {
      for (size_t i = 0; i < count; ++i)
        if (matches(i)) return static_cast<int>(i);
      return -1;
    };
    const int picks[] = {
        index_of(c.ops.size(), [&](size_t i) {
          return expand_of(c.ops[i]) == want.expand_ratio && conv_type_of(c.ops[i]) == want.conv_type;
        }),
        index_of(c.kernels.size(), [&](size_t i) { return c.kernels[i] == want.kernel_size; }),
        index_of(c.se_ratios.size(), [&](size_t i) { return c.se_ratios[i] == want.se_ratio; }),
        index_of(c.skips.size(), [&](size_t i) { return c.skips[i] == skip_of(want); }),
        index_of(c.filter_mults.size(), [&](size_t i) { return round_to_8(ref.output_filters * c.filter_mults[i]) == want.output_filters; }),
        index_of(c.layer_deltas.size(), [&](size_t i) { return std::max(1, ref.num_repeat + c.layer_deltas[i]) == want.num_repeat; }),
    };
    for (int pick : picks) {
      if (pick < 0) return std::nullopt;
      candidate.push_back(pick);
    }
  }
  if (decode(candidate).stages != spec.stages) return std::nullopt;
  return candidate;
}

double SearchSpace::size() const {
  double n = 1;
  for (const Decision& d : decisions_) n *= double(d.choices.size());
  return n;
}

}  // namespace effscale::search
