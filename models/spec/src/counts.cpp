#include "effscale/models/counts.h"

#include "effscale/models/layer_plan.h"

namespace effscale::models {
namespace {

// Output size of a 'same'-style conv; symmetric (k-1)/2 padding with odd k gives the same ceil(n / s).
int64_t out_size(int64_t in, int stride) { return (in + stride - 1) / stride; }

int64_t conv_params(int64_t in, int64_t out, int k, int64_t groups = 1) { return in / groups * out * k * k; }

int64_t bn_params(int64_t channels) { return 2 * channels; }

}  // namespace

int64_t count_params(const ArchSpec& spec) {
  const std::vector<LayerPlan> layers = plan_layers(spec);
  const int64_t stem = realized_stem_filters(spec);
  const int64_t head = realized_head_filters(spec);
  int64_t total = conv_params(spec.in_channels, stem, 3) + bn_params(stem);
  for (const LayerPlan& l : layers) {
    const int64_t e = l.expanded_filters;
    if (l.fused) {  // one regular kxk conv in -> e replaces expand + depthwise
      total += conv_params(l.input_filters, e, l.kernel_size) + bn_params(e);
    } else {
      if (l.expand_ratio != 1) total += conv_params(l.input_filters, e, 1) + bn_params(e);
      total += conv_params(e, e, l.kernel_size, e) + bn_params(e);
    }
    if (l.se_filters > 0) total += (e * l.se_filters + l.se_filters) + (l.se_filters * e + e);
    total += conv_params(e, l.output_filters, 1) + bn_params(l.output_filters);
  }
  const int64_t last = layers.back().output_filters;
  total += conv_params(last, head, 1) + bn_params(head);
  total += head * spec.num_classes + spec.num_classes;
  return total;
}

int64_t count_macs(const ArchSpec& spec, int resolution) {
  const std::vector<LayerPlan> layers = plan_layers(spec);
  const int64_t res = resolution > 0 ? resolution : spec.resolution;
  int64_t h = out_size(res, 2), w = out_size(res, 2);
  const int64_t stem = realized_stem_filters(spec);
  int64_t total = h * w * conv_params(spec.in_channels, stem, 3);
  for (const LayerPlan& l : layers) {
    const int64_t e = l.expanded_filters;
    if (l.expand_ratio != 1 && !l.fused) total += h * w * conv_params(l.input_filters, e, 1);
    h = out_size(h, l.strides[0]);
    w = out_size(w, l.strides[1]);
    total += l.fused ? h * w * conv_params(l.input_filters, e, l.kernel_size) : h * w * conv_params(e, e, l.kernel_size, e);
    if (l.se_filters > 0) total += 2 * e * l.se_filters;
    total += h * w * conv_params(e, l.output_filters, 1);
  }
  const int64_t head = realized_head_filters(spec);
  total += h * w * conv_params(layers.back().output_filters, head, 1);
  total += head * spec.num_classes;
  return total;
}

}  // namespace effscale::models
