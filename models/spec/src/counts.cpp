#include "effscale/models/counts.h"

#include <initializer_list>

#include "effscale/models/layer_plan.h"
#include "effscale/models/spec_error.h"

namespace effscale::models {
namespace {

// Output size of a 'same'-style conv; symmetric (k-1)/2 padding with odd k gives the same ceil(n / s).
int64_t out_size(int64_t in, int stride) { return (in + stride - 1) / stride; }

// A sum of products of counts that refuses, naming the spec, any step that would not fit in 64 bits
// (valid specs can be absurdly large: width 64 times 65536 filters, thousands of layers, 8192 px).
class Tally {
 public:
  explicit Tally(const ArchSpec& spec) : spec_(spec) {}
  // Adds the product of `factors`.
  void add(std::initializer_list<int64_t> factors) {
    int64_t product = 1;
    for (const int64_t f : factors)
      if (__builtin_mul_overflow(product, f, &product)) overflow();
    if (__builtin_add_overflow(total_, product, &total_)) overflow();
  }
  int64_t total() const { return total_; }

 private:
  [[noreturn]] void overflow() const {
    throw SpecError("spec '" + spec_.name + "': too large to count (more than 9.2e18 parameters or multiply-adds)");
  }
  const ArchSpec& spec_;
  int64_t total_ = 0;
};

}  // namespace

int64_t count_params(const ArchSpec& spec) {
  const std::vector<LayerPlan> layers = plan_layers(spec);
  const int64_t stem = realized_stem_filters(spec);
  const int64_t head = realized_head_filters(spec);
  Tally t(spec);
  t.add({spec.in_channels, stem, 3, 3});
  t.add({2, stem});  // batch norm weight and bias
  for (const LayerPlan& l : layers) {
    const int64_t e = l.expanded_filters;
    if (l.has_regular_kxk()) {  // one regular kxk conv in -> e replaces expand + depthwise (plain: e = out)
      t.add({l.input_filters, e, l.kernel_size, l.kernel_size});
      t.add({2, e});
    } else {
      if (l.has_expand_conv()) {
        t.add({l.input_filters, e});
        t.add({2, e});
      }
      t.add({e, l.kernel_size, l.kernel_size});  // depthwise: one kxk filter per channel
      t.add({2, e});
    }
    if (l.se_filters > 0) {
      t.add({2, e, l.se_filters});  // reduce and expand weights
      t.add({l.se_filters + e});    // their biases
    }
    if (!l.has_projection()) continue;
    t.add({e, l.output_filters});
    t.add({2, l.output_filters});
  }
  t.add({layers.back().output_filters, head});
  t.add({2, head});
  t.add({head + 1, spec.num_classes});  // classifier weight and bias
  return t.total();
}

int64_t count_macs(const ArchSpec& spec, int resolution) {
  const std::vector<LayerPlan> layers = plan_layers(spec);
  const int64_t res = resolution > 0 ? resolution : spec.resolution;
  int64_t h = out_size(res, 2), w = out_size(res, 2);
  const int64_t stem = realized_stem_filters(spec);
  Tally t(spec);
  t.add({h, w, spec.in_channels, stem, 3, 3});
  for (const LayerPlan& l : layers) {
    const int64_t e = l.expanded_filters;
    if (l.has_expand_conv()) t.add({h, w, l.input_filters, e});
    h = out_size(h, l.strides[0]);
    w = out_size(w, l.strides[1]);
    if (l.has_regular_kxk()) {
      t.add({h, w, l.input_filters, e, l.kernel_size, l.kernel_size});
    } else {
      t.add({h, w, e, l.kernel_size, l.kernel_size});
    }
    if (l.se_filters > 0) t.add({2, e, l.se_filters});
    if (l.has_projection()) t.add({h, w, e, l.output_filters});
  }
  const int64_t head = realized_head_filters(spec);
  t.add({h, w, layers.back().output_filters, head});
  t.add({head, spec.num_classes});
  return t.total();
}

int64_t count_activations(const ArchSpec& spec, int resolution) {
  const std::vector<LayerPlan> layers = plan_layers(spec);
  const int64_t res = resolution > 0 ? resolution : spec.resolution;
  int64_t h = out_size(res, 2), w = out_size(res, 2);
  Tally t(spec);
  t.add({h, w, realized_stem_filters(spec)});
  for (const LayerPlan& l : layers) {
    const int64_t e = l.expanded_filters;
    if (l.has_expand_conv()) t.add({h, w, e});
    h = out_size(h, l.strides[0]);
    w = out_size(w, l.strides[1]);
    t.add({h, w, e});  // the depthwise or regular kxk conv
    if (l.se_filters > 0) t.add({l.se_filters + e});
    if (l.has_projection()) t.add({h, w, l.output_filters});
  }
  t.add({h, w, realized_head_filters(spec)});
  return t.total();
}

}  // namespace effscale::models
