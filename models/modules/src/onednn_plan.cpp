#include "effscale/models/onednn_plan.h"

#include <ATen/Parallel.h>
#include <oneapi/dnnl/dnnl.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <functional>
#include <optional>
#include <unordered_map>

#include "effscale/models/depthwise_conv.h"
#include "effscale/models/mbconv.h"

namespace effscale::models {

using dnnl::memory;
using Dims = memory::dims;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;

namespace {

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

int64_t elements(const Dims& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= d;
  return n;
}

// How the plan keeps an activation: [N, C, H, W] in NHWC memory, [N, C] row-major.
memory::desc activation_desc(const Dims& dims) { return {dims, kF32, dims.size() == 4 ? Tag::nhwc : Tag::nc}; }

// One spatial dimension of a convolution: padding (padding_extent) and output size.
struct Extent {
  int64_t out, before, after;
};

Extent conv_extent(int64_t size, int64_t kernel, int64_t stride, Padding padding) {
  const PaddingExtent p = padding_extent(size, kernel, stride, padding);
  return {(size + p.before + p.after - kernel) / stride + 1, p.before, p.after};
}

// The squeeze-excite's two passes below run on the calling thread. Shared among two threads through at::parallel_for
// they made B0 at 224 px and batch 1 about 1 ms slower (6.8 against 6.3 ms; 2026-12-02, the 2-core VM): each is a few
// microseconds of memory-bound work on an activation the convolution before it left spread over both cores' caches.

// out[n, c] = the mean over the pixels of x [N, pixels, C]; each sum in pixel order.
void channel_means(const float* x, float* out, int64_t images, int64_t pixels, int64_t channels) {
  const float inverse = 1.f / static_cast<float>(pixels);
  for (int64_t n = 0; n < images; ++n) {
    float* o = out + n * channels;
    std::fill(o, o + channels, 0.f);
    for (int64_t p = 0; p < pixels; ++p) {
      const float* row = x + (n * pixels + p) * channels;
      for (int64_t c = 0; c < channels; ++c) o[c] += row[c];
    }
    for (int64_t c = 0; c < channels; ++c) o[c] *= inverse;
  }
}

// y[n, p, c] *= s[n, c] for y [N, pixels, C].
void scale_channels(float* y, const float* s, int64_t images, int64_t pixels, int64_t channels) {
  for (int64_t r = 0; r < images * pixels; ++r) {
    const float* scale = s + (r / pixels) * channels;
    float* row = y + r * channels;
    for (int64_t c = 0; c < channels; ++c) row[c] *= scale[c];
  }
}

}  // namespace

// Each convolution's and inner product's weights in the layouts primitives asked for, keyed by the folded weight
// tensor they come from; biases copied once.
struct OnednnPlans::PackedWeights {
  std::unordered_map<const void*, std::vector<memory>> packed;
  std::unordered_map<const void*, memory> biases;

  // `w` (any strides; read as contiguous with the dims and tag of `user`) in the layout `wanted`.
  memory weights(const torch::Tensor& w, const memory::desc& user, const memory::desc& wanted) {
    std::vector<memory>& known = packed[w.data_ptr()];
    for (const memory& m : known)
      if (m.get_desc() == wanted) return m;
    const torch::Tensor plain = w.contiguous();
    memory source(user, cpu_engine(), plain.data_ptr());
    memory target(wanted, cpu_engine());
    dnnl::stream stream(cpu_engine());
    dnnl::reorder(source, target).execute(stream, source, target);
    stream.wait();
    known.push_back(target);
    return target;
  }

  // A copy of the bias b [out].
  memory bias(const torch::Tensor& b) {
    auto found = biases.find(b.data_ptr());
    if (found != biases.end()) return found->second;
    const torch::Tensor plain = b.contiguous();
    memory copy(memory::desc({plain.numel()}, kF32, Tag::x), cpu_engine());
    std::memcpy(copy.get_data_handle(), plain.data_ptr<float>(), sizeof(float) * plain.numel());
    return biases.emplace(b.data_ptr(), copy).first->second;
  }
};

// The network compiled for one input shape.
class OnednnPlan {
 public:
  OnednnPlan(const FoldedNetwork& net, Dims input, OnednnPlans::PackedWeights& packed)
      : input_dims_(std::move(input)), packed_(packed), stream_(cpu_engine()) {
    Value v{new_slot(input_dims_), input_dims_};
    slots_[v.slot].first = -1;  // written before the first step
    input_ = v;
    v = conv(v, net.stem, nullptr);
    for (const FoldedBlock& b : net.blocks) v = block(v, b);
    v = dense(channel_mean(conv(v, net.head, nullptr)), net.classifier, std::nullopt);
    output_ = v;
    slots_[output_.slot].last = INT_MAX;
    allocate_buffers();
  }

  const Dims& input_dims() const { return input_dims_; }

  // The largest activation of one image, in floats.
  int64_t largest_activation_per_image() const {
    int64_t largest = 0;
    for (const Slot& s : slots_) largest = std::max(largest, s.floats);
    return largest / input_dims_[0];
  }

  // Runs the plan on x (input_dims()) and writes the logits into `logits` ([N, classes], any strides).
  void run(const torch::Tensor& x, torch::Tensor logits) {
    // A batch already in NHWC order (channels_last, or any grey batch) is one block of memory: copied as bytes
    // (LibTorch's copy_ between the two stride patterns of a grey batch took 0.33 ms for 64 images of 28 x 28).
    if (x.is_contiguous(torch::MemoryFormat::ChannelsLast)) {
      std::memcpy(data(input_), x.data_ptr<float>(), sizeof(float) * x.numel());
    } else {
      view(input_).copy_(x);
    }
    for (Step& step : steps_) {
      if (step.custom) {
        step.custom();
      } else {
        step.primitive.execute(stream_, step.args);
      }
    }
    stream_.wait();
    logits.copy_(view(output_));
  }

  int64_t classes() const { return output_.dims[1]; }

 private:
  // A value of the network: the slot holding it and its dims ([N, C, H, W] or [N, C]).
  struct Value {
    int slot = -1;
    Dims dims;
  };
  struct Slot {
    int64_t floats = 0;
    int first = -1, last = -1;  // the steps that write it first and use it last
    int buffer = -1;
  };
  // A primitive with its arguments, or a custom step.
  struct Step {
    dnnl::primitive primitive;
    std::unordered_map<int, memory> args;  // weights and biases at once, activations once buffers are assigned
    std::vector<std::pair<int, Value>> slot_args;
    std::function<void()> custom;
  };

  // x -> c(x), swish when c.swish; with `accumulate`, c(x) plus its values, written into its slot (a residual).
  Value conv(const Value& x, const FoldedConv& c, const Value* accumulate) {
    const torch::Tensor& w = c.weight;
    const int64_t out_channels = w.size(0), groups = c.groups, kh = w.size(2), kw = w.size(3);
    const Extent eh = conv_extent(x.dims[2], kh, c.stride[0], c.padding);
    const Extent ew = conv_extent(x.dims[3], kw, c.stride[1], c.padding);
    const Dims out{x.dims[0], out_channels, eh.out, ew.out};
    const bool depthwise = groups > 1 && groups == x.dims[1] && groups == out_channels;
    if (depthwise && accumulate == nullptr && kh == kw &&
        depthwise_kernel_choice(groups, kh, eh.out, ew.out).forward_by_effscale)
      return effscale_depthwise(x, c, out);
    const Dims weight_dims = groups > 1 ? Dims{groups, out_channels / groups, w.size(1), kh, kw}
                                        : Dims{out_channels, w.size(1), kh, kw};
    const dnnl::convolution_forward::desc desc(
        dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, activation_desc(x.dims),
        memory::desc(weight_dims, kF32, Tag::any), memory::desc({out_channels}, kF32, Tag::x), activation_desc(out),
        {c.stride[0], c.stride[1]}, {eh.before, ew.before}, {eh.after, ew.after});
    dnnl::post_ops ops;
    if (accumulate != nullptr) ops.append_sum(1.f);
    if (c.swish) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_swish, 1.f, 0.f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, cpu_engine());
    Step step;
    step.primitive = dnnl::convolution_forward(pd);
    step.args[DNNL_ARG_WEIGHTS] =
        packed_.weights(w, memory::desc(weight_dims, kF32, groups > 1 ? Tag::goihw : Tag::oihw), pd.weights_desc());
    step.args[DNNL_ARG_BIAS] = packed_.bias(c.bias);
    TORCH_CHECK(accumulate == nullptr || accumulate->dims == out, "OnednnPlan: a residual of another shape");
    const Value y = accumulate != nullptr ? *accumulate : Value{new_slot(out), out};
    step.slot_args = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}};
    add_step(std::move(step));
    return y;
  }

  // A depthwise convolution whose output is a few pixels, where oneDNN falls back to a general kernel many times
  // slower (a 5x5 kernel over a 1x1 map: 10 ms at batch 64): effscale's kernel (depthwise_conv.h), then swish.
  Value effscale_depthwise(const Value& x, const FoldedConv& c, const Dims& out) {
    const Value y{new_slot(out), out};
    custom_step({x, y}, [this, x, y, c] {
      torch::Tensor z = depthwise_conv2d_inference(view(x), c.weight, c.bias, c.stride, c.padding);
      view(y).copy_(c.swish ? torch::silu_(z) : z);
    });
    return y;
  }

  // x [N, in] -> [N, out] = x d.weight^T + d.bias, then `activation` (swish or logistic) when given.
  Value dense(const Value& x, const Dense& d, std::optional<dnnl::algorithm> activation) {
    const int64_t out = d.weight.size(0), in = d.weight.size(1);
    const Dims out_dims{x.dims[0], out};
    const dnnl::inner_product_forward::desc desc(dnnl::prop_kind::forward_inference, activation_desc(x.dims),
                                                 memory::desc({out, in}, kF32, Tag::any),
                                                 memory::desc({out}, kF32, Tag::x), activation_desc(out_dims));
    dnnl::post_ops ops;
    if (activation) ops.append_eltwise(1.f, *activation, 1.f, 0.f);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    const dnnl::inner_product_forward::primitive_desc pd(desc, attr, cpu_engine());
    Step step;
    step.primitive = dnnl::inner_product_forward(pd);
    step.args[DNNL_ARG_WEIGHTS] = packed_.weights(d.weight, memory::desc({out, in}, kF32, Tag::oi), pd.weights_desc());
    step.args[DNNL_ARG_BIAS] = packed_.bias(d.bias);
    const Value y{new_slot(out_dims), out_dims};
    step.slot_args = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}};
    add_step(std::move(step));
    return y;
  }

  // [N, C, H, W] -> [N, C], the mean over the pixels.
  Value channel_mean(const Value& x) {
    const Dims dims{x.dims[0], x.dims[1]};
    const Value m{new_slot(dims), dims};
    custom_step({x, m}, [this, x, m] {
      channel_means(data(x), data(m), x.dims[0], x.dims[2] * x.dims[3], x.dims[1]);
    });
    return m;
  }

  // One block as FoldedBlock::forward runs it.
  Value block(const Value& x, const FoldedBlock& b) {
    Value y = conv(b.expands ? conv(x, b.expand, nullptr) : x, b.kxk, nullptr);
    if (b.has_se) {
      const Value s = dense(dense(channel_mean(y), b.se_reduce, dnnl::algorithm::eltwise_swish), b.se_expand,
                            dnnl::algorithm::eltwise_logistic);
      custom_step({y, s}, [this, y, s] {
        scale_channels(data(y), data(s), y.dims[0], y.dims[2] * y.dims[3], y.dims[1]);
      });
    }
    // The residual add rides on the projection (a sum post-op into x's buffer, which nothing reads afterwards).
    const bool fused_residual = b.residual && b.projects && !b.pool_shortcut;
    if (b.projects) y = conv(y, b.project, fused_residual ? &x : nullptr);
    if (b.residual && !fused_residual) custom_step({y, x}, [this, y, x] { view(y).add_(view(x)); });
    if (b.pool_shortcut) {
      custom_step({y, x}, [this, y, x, strides = b.strides, filters = b.output_filters] {
        view(y).add_(pool_shortcut(view(x), strides, filters));
      });
    }
    return y;
  }

  // A new slot for a value of `dims`, written by the step added next.
  int new_slot(const Dims& dims) {
    slots_.push_back({elements(dims), static_cast<int>(steps_.size()), -1, -1});
    return static_cast<int>(slots_.size()) - 1;
  }

  // A step that runs `work` (C++ or LibTorch on views of the buffers) and reads or writes `uses`.
  void custom_step(const std::vector<Value>& uses, std::function<void()> work) {
    Step step;
    for (const Value& v : uses) step.slot_args.emplace_back(0, v);
    step.custom = std::move(work);
    add_step(std::move(step));
  }

  // Appends `step`, extending the lifetime of every slot it uses to it.
  void add_step(Step step) {
    const int index = static_cast<int>(steps_.size());
    for (const auto& [arg, v] : step.slot_args) slots_[v.slot].last = std::max(slots_[v.slot].last, index);
    steps_.push_back(std::move(step));
  }

  // Gives every slot a buffer that no slot alive at the same time holds (the largest slot it serves sets its
  // size), then binds the primitives' activation arguments to them.
  void allocate_buffers() {
    std::vector<int64_t> sizes;
    std::vector<int> free;
    const int steps = static_cast<int>(steps_.size());
    for (int i = -1; i < steps; ++i) {
      for (Slot& s : slots_) {
        if (s.first != i) continue;
        if (free.empty()) {
          free.push_back(static_cast<int>(sizes.size()));
          sizes.push_back(0);
        }
        s.buffer = free.back();
        free.pop_back();
        sizes[s.buffer] = std::max(sizes[s.buffer], s.floats);
      }
      for (const Slot& s : slots_)
        if (s.last == i) free.push_back(s.buffer);
    }
    for (int64_t size : sizes) buffers_.push_back(torch::empty({size}));
    for (Step& step : steps_)
      if (!step.custom)
        for (const auto& [arg, v] : step.slot_args)
          step.args[arg] = memory(activation_desc(v.dims), cpu_engine(), data(v));
  }

  float* data(const Value& v) const { return buffers_[slots_[v.slot].buffer].data_ptr<float>(); }

  // The value as a tensor over its buffer ([N, C, H, W] with channels_last strides, or [N, C]).
  torch::Tensor view(const Value& v) const {
    const Dims& d = v.dims;
    if (d.size() == 2) return torch::from_blob(data(v), {d[0], d[1]}, torch::kFloat);
    return torch::from_blob(data(v), {d[0], d[1], d[2], d[3]}, {d[1] * d[2] * d[3], 1, d[3] * d[1], d[1]},
                            torch::kFloat);
  }

  Dims input_dims_;
  OnednnPlans::PackedWeights& packed_;
  dnnl::stream stream_;
  std::vector<Slot> slots_;
  std::vector<Step> steps_;
  std::vector<torch::Tensor> buffers_;
  Value input_, output_;
};

bool onednn_plan_fits(const FoldedNetwork& net, const torch::Tensor& x) {
  const torch::Tensor& w = net.stem.weight;
  return x.dim() == 4 && x.numel() > 0 && x.device().is_cpu() && x.scalar_type() == torch::kFloat &&
         w.device().is_cpu() && w.scalar_type() == torch::kFloat && x.size(1) == w.size(1);
}

OnednnPlans::OnednnPlans() : packed_(std::make_unique<PackedWeights>()) {}
OnednnPlans::~OnednnPlans() = default;

OnednnPlan* OnednnPlans::plan_for(const FoldedNetwork& net, const std::vector<int64_t>& dims, size_t lane) {
  if (std::find(refused_.begin(), refused_.end(), dims) != refused_.end()) return nullptr;
  if (lanes_.size() <= lane) lanes_.resize(lane + 1);
  PlanList& plans = lanes_[lane];
  auto found = std::find_if(plans.begin(), plans.end(), [&](const auto& p) { return p->input_dims() == dims; });
  if (found != plans.end()) {
    plans.splice(plans.begin(), plans, found);
    return plans.front().get();
  }
  try {
    plans.push_front(std::make_unique<OnednnPlan>(net, dims, *packed_));
  } catch (const dnnl::error&) {  // no implementation for some layer at this shape
    refused_.push_back(dims);
    return nullptr;
  }
  if (static_cast<int>(plans.size()) > kMaxShapes) plans.pop_back();
  return plans.front().get();
}

std::optional<torch::Tensor> OnednnPlans::forward(const FoldedNetwork& net, const torch::Tensor& x, int lanes) {
  const std::lock_guard<std::mutex> lock(mutex_);
  const int64_t images = x.size(0);
  std::vector<int64_t> one(x.sizes().begin(), x.sizes().end());
  one[0] = 1;
  const OnednnPlan* single = plan_for(net, one, 0);
  if (single == nullptr) return std::nullopt;
  const int64_t chunk =
      std::clamp<int64_t>(kChunkBytes / (4 * single->largest_activation_per_image()), 1, images);
  const int64_t used_lanes = std::clamp<int64_t>(lanes, 1, images);
  const int64_t share = (images + used_lanes - 1) / used_lanes;
  // Every lane's pieces (plan, first image, images), its plans built here, one at a time, before any runs: building
  // writes the packed weights the running plans read.
  struct Piece {
    OnednnPlan* plan;
    int64_t begin, n;
  };
  std::vector<std::vector<Piece>> pieces;
  for (int64_t first = 0; first < images; first += share) {
    const size_t lane = pieces.size();
    pieces.emplace_back();
    const int64_t end = std::min(images, first + share);
    for (int64_t begin = first; begin < end; begin += chunk) {
      const int64_t n = std::min(chunk, end - begin);
      std::vector<int64_t> dims = one;
      dims[0] = n;
      OnednnPlan* plan = plan_for(net, dims, lane);
      if (plan == nullptr) return std::nullopt;
      pieces.back().push_back({plan, begin, n});
    }
  }
  torch::Tensor logits = torch::empty({images, single->classes()});
  const auto run_lanes = [&](int64_t first_lane, int64_t end_lane) {
    const c10::InferenceMode guard;  // per thread: the logits are an inference tensor (InferenceNet::forward)
    for (int64_t lane = first_lane; lane < end_lane; ++lane)
      for (const Piece& p : pieces[lane]) p.plan->run(x.narrow(0, p.begin, p.n), logits.narrow(0, p.begin, p.n));
  };
  if (pieces.size() == 1) {
    run_lanes(0, 1);
  } else {  // one lane per thread: inside LibTorch's parallel region every op of a lane runs on its own thread
    at::parallel_for(0, static_cast<int64_t>(pieces.size()), 1, run_lanes);
  }
  return logits;
}

}  // namespace effscale::models
