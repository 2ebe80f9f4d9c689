#include "effscale/models/layer_plan.h"

#include <algorithm>

namespace effscale::models {

std::vector<LayerPlan> plan_layers(const ArchSpec& spec) {
  validate(spec);
  const std::vector<BlockArgs> stages = realized_stages(spec);
  int total = 0;
  for (const BlockArgs& b : stages) total += b.num_repeat;

  std::vector<LayerPlan> layers;
  layers.reserve(total);
  for (size_t s = 0; s < stages.size(); ++s) {
    const BlockArgs& b = stages[s];
    for (int j = 0; j < b.num_repeat; ++j) {
      LayerPlan l;
      l.stage = static_cast<int>(s);
      l.index_in_stage = j;
      l.input_filters = j == 0 ? b.input_filters : b.output_filters;
      l.output_filters = b.output_filters;
      l.expand_ratio = b.expand_ratio;
      l.plain = b.conv_type == 2;
      l.expanded_filters = l.plain ? l.output_filters : l.input_filters * b.expand_ratio;
      l.se_filters = b.has_se() ? std::max(1, static_cast<int>(l.input_filters * b.se_ratio)) : 0;
      l.kernel_size = b.kernel_size;
      l.strides = j == 0 ? b.strides : std::array<int, 2>{1, 1};
      l.residual = b.id_skip && l.strides[0] == 1 && l.strides[1] == 1 &&
                   l.input_filters == l.output_filters;
      l.pool_shortcut = b.pool_skip && !l.residual;
      l.fused = b.conv_type == 1;
      l.drop_connect_rate = spec.drop_connect * static_cast<double>(layers.size()) / total;
      layers.push_back(l);
    }
  }
  return layers;
}

}  // namespace effscale::models
