#include "effscale/models/arch_spec.h"

#include <string>

#include "effscale/models/rounding.h"
#include "effscale/models/spec_error.h"

namespace effscale::models {
namespace {

void require(bool ok, const std::string& spec_name, const std::string& what) {
  if (!ok) throw SpecError("spec '" + spec_name + "': " + what);
}

}  // namespace

bool operator==(const ArchSpec& a, const ArchSpec& b) {
  return a.name == b.name && a.stages == b.stages && a.stem_filters == b.stem_filters &&
         a.head_filters == b.head_filters && a.width_mult == b.width_mult &&
         a.depth_mult == b.depth_mult && a.depth_divisor == b.depth_divisor &&
         a.resolution == b.resolution && a.dropout == b.dropout && a.drop_connect == b.drop_connect &&
         a.num_classes == b.num_classes && a.in_channels == b.in_channels && a.bn.eps == b.bn.eps &&
         a.bn.momentum == b.bn.momentum && a.padding == b.padding;
}

void validate(const ArchSpec& s) {
  const std::string& n = s.name;
  require(!s.stages.empty(), n, "'stages' must list at least one block string");
  require(s.stem_filters >= 1 && s.stem_filters <= kMaxFilters, n, "'stem_filters' must be from 1 to " + std::to_string(kMaxFilters));
  require(s.head_filters >= 1 && s.head_filters <= kMaxFilters, n, "'head_filters' must be from 1 to " + std::to_string(kMaxFilters));
  require(s.width_mult > 0 && s.width_mult <= 64, n, "'width_mult' must be in (0, 64]");
  require(s.depth_mult > 0 && s.depth_mult <= 64, n, "'depth_mult' must be in (0, 64]");
  require(s.depth_divisor >= 1, n, "'depth_divisor' must be at least 1");
  require(s.resolution >= 8 && s.resolution <= 8192, n, "'resolution' must be from 8 to 8192");
  require(s.dropout >= 0 && s.dropout < 1, n, "'dropout' must be in [0, 1)");
  require(s.drop_connect >= 0 && s.drop_connect < 1, n, "'drop_connect' must be in [0, 1)");
  require(s.num_classes >= 1 && s.num_classes <= kMaxClasses, n, "'num_classes' must be from 1 to " + std::to_string(kMaxClasses));
  require(s.in_channels >= 1 && s.in_channels <= kMaxFilters, n, "'in_channels' must be from 1 to " + std::to_string(kMaxFilters));
  require(s.bn.eps > 0, n, "'bn_eps' must be positive");
  require(s.bn.momentum >= 0 && s.bn.momentum <= 1, n, "'bn_momentum' must be in [0, 1]");
  int previous = s.stem_filters;
  for (size_t i = 0; i < s.stages.size(); ++i) {
    const std::string where = "spec '" + n + "': stage " + std::to_string(i) + " (" +
                              format_block_string(s.stages[i]) + ")";
    validate_block_args(s.stages[i], where);
    if (s.stages[i].input_filters != previous)
      throw SpecError(where + ": input filters i" + std::to_string(s.stages[i].input_filters) +
                      " must equal the previous output, " + std::to_string(previous) +
                      (i == 0 ? " (the stem filters)" : ""));
    previous = s.stages[i].output_filters;
  }
}

int realized_stem_filters(const ArchSpec& s) {
  return round_filters(s.stem_filters, s.width_mult, s.depth_divisor);
}

int realized_head_filters(const ArchSpec& s) {
  return round_filters(s.head_filters, s.width_mult, s.depth_divisor);
}

std::vector<BlockArgs> realized_stages(const ArchSpec& s) {
  std::vector<BlockArgs> out = s.stages;
  for (BlockArgs& b : out) {
    b.input_filters = round_filters(b.input_filters, s.width_mult, s.depth_divisor);
    b.output_filters = round_filters(b.output_filters, s.width_mult, s.depth_divisor);
    b.num_repeat = round_repeats(b.num_repeat, s.depth_mult);
  }
  return out;
}

std::string padding_name(Padding p) { return p == Padding::TfSame ? "tf_same" : "symmetric"; }

Padding parse_padding(const std::string& name) {
  if (name == "symmetric") return Padding::Symmetric;
  if (name == "tf_same") return Padding::TfSame;
  throw SpecError("padding '" + name + "': expected 'symmetric' or 'tf_same'");
}

}  // namespace effscale::models
