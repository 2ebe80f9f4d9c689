#include "random_spec.h"

#include "effscale/models/official.h"

namespace effscale::testing {

models::ArchSpec random_valid_spec(std::mt19937& rng) {
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  models::ArchSpec s;
  s.name = "random";
  s.stem_filters = 4 * pick(1, 6);
  s.head_filters = 8 * pick(1, 6);
  s.width_mult = 0.25 * pick(2, 6);
  s.depth_mult = 0.5 * pick(1, 4);
  s.in_channels = pick(1, 3);
  s.num_classes = pick(1, 12);
  s.resolution = pick(16, 40);
  s.padding = pick(0, 1) ? models::Padding::TfSame : models::Padding::Symmetric;
  int previous = s.stem_filters;
  const int stages = pick(1, 4);
  for (int i = 0; i < stages; ++i) {
    models::BlockArgs b;
    b.num_repeat = pick(1, 3);
    b.kernel_size = 2 * pick(0, 3) + 1;
    b.strides = {pick(1, 2), pick(1, 2)};
    b.expand_ratio = pick(1, 6);
    b.input_filters = previous;
    b.output_filters = pick(0, 1) ? previous : 4 * pick(1, 12);
    b.se_ratio = pick(0, 1) ? 0.0 : 0.25 * pick(1, 4);
    b.id_skip = pick(0, 3) != 0;
    b.pool_skip = b.id_skip && pick(0, 2) == 0;
    const int conv = pick(0, 5);  // 1 in 6 fused (c1), 1 in 6 one plain conv (c2, which has no expansion)
    b.conv_type = conv == 0 ? 1 : conv == 1 ? 2 : 0;
    if (b.conv_type == 2) b.expand_ratio = 1;
    s.stages.push_back(b);
    previous = b.output_filters;
  }
  return s;
}

models::ArchSpec grey_proxy_b0(double width_mult, double depth_mult) {
  models::ArchSpec spec = models::official("b0");
  spec.width_mult = width_mult;
  spec.depth_mult = depth_mult;
  spec.in_channels = 1;
  spec.num_classes = 10;
  spec.resolution = 28;
  return spec;
}

}  // namespace effscale::testing
