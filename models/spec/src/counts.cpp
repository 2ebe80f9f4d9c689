#include "effscale/models/counts.h"

#include <initializer_list>
#include <string>

#include "effscale/models/layer_plan.h"
#include "effscale/models/rounding.h"
#include "effscale/models/spec_error.h"

namespace effscale::models {
namespace {

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

// One conv of the network: its output map (h x w x out; 1 x 1 for the SE convs on the pooled vector), the inputs
// each output value reads per tap (in / groups: 1 for a depthwise conv), its kernel, and whether it is one of
// squeeze-excite's two, which have a bias where every other conv has batch norm.
struct ConvShape {
  int64_t h, w, in_per_output, out, kernel;
  bool squeeze_excite = false;
};

// Calls visit(ConvShape) for every conv of the network `spec` builds, in order, on a `resolution` x `resolution`
// image (<= 0: the spec's own): stem, per layer expand, depthwise or regular kxk, SE reduce and expand, project;
// then the head. What the parameter, MAC and activation counts all walk.
template <class Visit>
void for_each_conv(const ArchSpec& spec, int resolution, const Visit& visit) {
  const std::vector<LayerPlan> layers = plan_layers(spec);
  const int64_t res = resolution > 0 ? resolution : spec.resolution;
  int64_t h = conv_output_size(res, 2), w = conv_output_size(res, 2);
  visit(ConvShape{h, w, spec.in_channels, realized_stem_filters(spec), 3});
  for (const LayerPlan& l : layers) {
    const int64_t e = l.expanded_filters;
    if (l.has_expand_conv()) visit(ConvShape{h, w, l.input_filters, e, 1});
    h = conv_output_size(h, l.strides[0]);
    w = conv_output_size(w, l.strides[1]);
    visit(ConvShape{h, w, l.has_regular_kxk() ? l.input_filters : 1, e, l.kernel_size});
    if (l.se_filters > 0) {
      visit(ConvShape{1, 1, e, l.se_filters, 1, true});
      visit(ConvShape{1, 1, l.se_filters, e, 1, true});
    }
    if (l.has_projection()) visit(ConvShape{h, w, e, l.output_filters, 1});
  }
  visit(ConvShape{h, w, layers.back().output_filters, realized_head_filters(spec), 1});
}

}  // namespace

int64_t count_params(const ArchSpec& spec) {
  Tally t(spec);
  for_each_conv(spec, 0, [&](const ConvShape& c) {
    t.add({c.in_per_output, c.out, c.kernel, c.kernel});
    if (c.squeeze_excite) t.add({c.out});  // its bias
    else t.add({2, c.out});                // batch norm weight and bias
  });
  t.add({realized_head_filters(spec) + 1, spec.num_classes});  // classifier weight and bias
  return t.total();
}

void check_buildable(const ArchSpec& spec) {
  if (const int64_t params = count_params(spec); params > kMaxModuleParams)
    throw SpecError("spec '" + spec.name + "': " + std::to_string(params) + " parameters, more than the " +
                    std::to_string(kMaxModuleParams) + " effscale builds");
}

int64_t count_macs(const ArchSpec& spec, int resolution) {
  Tally t(spec);
  for_each_conv(spec, resolution, [&](const ConvShape& c) { t.add({c.h, c.w, c.in_per_output, c.out, c.kernel, c.kernel}); });
  t.add({realized_head_filters(spec), spec.num_classes});  // the classifier
  return t.total();
}

int64_t count_activations(const ArchSpec& spec, int resolution) {
  Tally t(spec);
  for_each_conv(spec, resolution, [&](const ConvShape& c) { t.add({c.h, c.w, c.out}); });
  return t.total();
}

int64_t count_parallel_steps(const ArchSpec& spec) {
  int64_t steps = 1;  // the classifier
  // A squeeze-excite's two convs come with its mean and its scaling: one more step for each.
  for_each_conv(spec, 0, [&](const ConvShape& c) { steps += c.squeeze_excite ? 2 : 1; });
  return steps;
}

}  // namespace effscale::models
