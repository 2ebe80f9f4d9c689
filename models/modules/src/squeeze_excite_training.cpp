#include "effscale/models/squeeze_excite_training.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "effscale/models/parallel_grain.h"
#include "row_loops.h"

namespace effscale::models {
namespace {

using row_loops::affine_run;
using row_loops::fold_into_channels;
using row_loops::kRowsPerBlock;
using row_loops::rows_per_period;
using row_loops::sum_run;
using row_loops::tile_into;

// Per position of the period: s += a * b.
EFFSCALE_VECTOR_CLONES static void product_sum_run(const float* __restrict a, const float* __restrict b,
                                                   float* __restrict s, int64_t count, int64_t period) {
  for (int64_t base = 0; base < count; base += period) {
    const int64_t n = count - base < period ? count - base : period;
    for (int64_t j = 0; j < n; ++j) s[j] += a[base + j] * b[base + j];
  }
}

// y = x * g.
EFFSCALE_VECTOR_CLONES static void scale_run(const float* __restrict x, const float* __restrict g,
                                             float* __restrict y, int64_t count, int64_t period) {
  for (int64_t base = 0; base < count; base += period) {
    const int64_t n = count - base < period ? count - base : period;
    for (int64_t j = 0; j < n; ++j) y[base + j] = x[base + j] * g[j];
  }
}

// The shape of a channels_last activation as samples of `rows` rows (pixels) of `channels` values.
struct Samples {
  int64_t count, rows, channels;
  int64_t values() const { return rows * channels; }
};

Samples samples_of(const torch::Tensor& x) { return {x.size(0), x.size(2) * x.size(3), x.size(1)}; }

// Per sample and channel, the sum over the sample's rows of what run(offset, count, period, acc) adds per position
// of a period (offsets from the sample's start), times `scale`, into out [count, channels]: blocks of kRowsPerBlock
// rows summed in float, added in order in double, each sample on one thread, so the result does not depend on the
// thread count.
template <class Run>
torch::Tensor sample_sums(const Samples& s, double scale, const Run& run) {
  torch::Tensor out = torch::empty({s.count, s.channels}, torch::kFloat);
  float* sums = out.data_ptr<float>();
  const int64_t period = rows_per_period(s.channels) * s.channels;
  at::parallel_for(0, s.count, grain_for(s.values()), [&](int64_t first, int64_t last) {
    std::vector<float> partial(period);
    std::vector<double> total(s.channels);
    for (int64_t n = first; n < last; ++n) {
      std::fill(total.begin(), total.end(), 0.0);
      for (int64_t begin = 0; begin < s.rows; begin += kRowsPerBlock) {
        const int64_t rows = std::min(kRowsPerBlock, s.rows - begin);
        std::fill(partial.begin(), partial.end(), 0.f);
        run(n * s.values() + begin * s.channels, rows * s.channels, period, partial.data());
        fold_into_channels(partial.data(), period, s.channels, total.data());
      }
      for (int64_t c = 0; c < s.channels; ++c) sums[n * s.channels + c] = float(total[c] * scale);
    }
  });
  return out;
}

// out[n] = x[n] * a[n] + b[n] per channel (b omitted: zero) for every sample n; a and b are [count, channels].
void per_sample_affine(const Samples& s, const float* x, const torch::Tensor& a, const torch::Tensor& b, float* out) {
  const float* scale = a.data_ptr<float>();
  const float* shift = b.defined() ? b.data_ptr<float>() : nullptr;
  const int64_t period = rows_per_period(s.channels) * s.channels;
  at::parallel_for(0, s.count, grain_for(s.values()), [&](int64_t first, int64_t last) {
    std::vector<float> a_tiled(period), b_tiled(period);  // one sample's, refilled per sample
    for (int64_t n = first; n < last; ++n) {
      const int64_t offset = n * s.values();
      tile_into(scale + n * s.channels, s.channels, a_tiled.data(), period);
      if (shift == nullptr) {
        scale_run(x + offset, a_tiled.data(), out + offset, s.values(), period);
      } else {
        tile_into(shift + n * s.channels, s.channels, b_tiled.data(), period);
        affine_run(x + offset, a_tiled.data(), b_tiled.data(), out + offset, s.values(), period);
      }
    }
  });
}

// The squeeze's element-wise steps on its small [N, width] matrices, in plain loops: through ATen each was a
// dispatched op of a few microseconds, and a squeeze-excite on a 1 x 1 or 2 x 2 map is mostly such steps.

float sigmoid_of(float v) { return 1.0f / (1.0f + std::exp(-v)); }

// sigmoid(v) in place.
void sigmoid_in_place(torch::Tensor& v) {
  float* p = v.data_ptr<float>();
  for (int64_t i = 0, n = v.numel(); i < n; ++i) p[i] = sigmoid_of(p[i]);
}

// grad *= f'(at) per value, where f'(at) is derivative(at) (at and grad alike in shape); returns the column sums of
// the result (the gradient of a bias added before f).
template <class Derivative>
torch::Tensor chain_in_place(torch::Tensor& grad, const torch::Tensor& at, const Derivative& derivative) {
  const int64_t rows = grad.size(0), cols = grad.size(1);
  torch::Tensor column_sums = torch::zeros({cols}, grad.options());
  float* g = grad.data_ptr<float>();
  const float* a = at.data_ptr<float>();
  float* sums = column_sums.data_ptr<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      g[r * cols + c] *= derivative(a[r * cols + c]);
      sums[c] += g[r * cols + c];
    }
  return column_sums;
}

// A 1x1 convolution's weight [out, in, 1, 1] as the matrix [out, in].
torch::Tensor as_matrix(const torch::Tensor& w) { return w.reshape({w.size(0), w.size(1)}); }

class SqueezeExciteFunction : public torch::autograd::Function<SqueezeExciteFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& reduce_weight, const torch::Tensor& reduce_bias,
                               const torch::Tensor& expand_weight, const torch::Tensor& expand_bias) {
    const Samples s = samples_of(x);
    const float* in = x.data_ptr<float>();
    const torch::Tensor pooled =
        sample_sums(s, 1.0 / double(s.rows), [&](int64_t offset, int64_t count, int64_t period, float* acc) {
          sum_run(in + offset, acc, count, period);
        });
    const torch::Tensor w1 = as_matrix(reduce_weight.detach()), w2 = as_matrix(expand_weight.detach());
    const torch::Tensor hidden = torch::addmm(reduce_bias.detach(), pooled, w1.t());
    const torch::Tensor activated = torch::silu(hidden);
    torch::Tensor gate = torch::addmm(expand_bias.detach(), activated, w2.t());
    sigmoid_in_place(gate);
    torch::Tensor y = torch::empty_like(x, x.options(), torch::MemoryFormat::ChannelsLast);
    per_sample_affine(s, in, gate, torch::Tensor(), y.data_ptr<float>());
    ctx->save_for_backward({x, reduce_weight, expand_weight, pooled, hidden, activated, gate});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor &x = saved[0], &pooled = saved[3], &hidden = saved[4], &activated = saved[5],
                        &gate = saved[6];
    const torch::Tensor w1 = as_matrix(saved[1]), w2 = as_matrix(saved[2]);
    const Samples s = samples_of(x);
    const torch::Tensor grad_out = grads[0].contiguous(torch::MemoryFormat::ChannelsLast);
    const float* in = x.data_ptr<float>();
    const float* go = grad_out.data_ptr<float>();
    // The gate's gradient (turned into the logit's in place), then the squeeze's algebra backward on [N, C] and
    // [N, reduced].
    torch::Tensor grad_logit = sample_sums(s, 1.0, [&](int64_t offset, int64_t count, int64_t period, float* acc) {
      product_sum_run(go + offset, in + offset, acc, count, period);
    });
    const torch::Tensor grad_expand_bias = chain_in_place(grad_logit, gate, [](float g) { return g * (1.0f - g); });
    torch::Tensor grad_hidden = grad_logit.mm(w2);
    const torch::Tensor grad_reduce_bias = chain_in_place(grad_hidden, hidden, [](float h) {
      const float sigmoid = sigmoid_of(h);
      return sigmoid * (1.0f + h * (1.0f - sigmoid));  // swish'(h)
    });
    torch::autograd::variable_list out(5);
    if (ctx->needs_input_grad(0)) {
      // x's two paths: through the gate's product (go * gate) and through the mean (its gradient over the rows).
      const torch::Tensor grad_mean = grad_hidden.mm(w1).div_(double(s.rows));
      torch::Tensor grad_x = torch::empty_like(x, x.options(), torch::MemoryFormat::ChannelsLast);
      per_sample_affine(s, go, gate, grad_mean, grad_x.data_ptr<float>());
      out[0] = grad_x;
    }
    if (ctx->needs_input_grad(1)) out[1] = grad_hidden.t().mm(pooled).view_as(saved[1]);
    if (ctx->needs_input_grad(2)) out[2] = grad_reduce_bias;
    if (ctx->needs_input_grad(3)) out[3] = grad_logit.t().mm(activated).view_as(saved[2]);
    if (ctx->needs_input_grad(4)) out[4] = grad_expand_bias;
    return out;
  }
};

bool float_cpu(const torch::Tensor& t) { return t.defined() && t.device().is_cpu() && t.scalar_type() == torch::kFloat; }

}  // namespace

bool squeeze_excite_training_applies(const SqueezeExciteImpl& se, const torch::Tensor& x) {
  const auto& reduce = *se.conv_reduce;
  const auto& expand = *se.conv_expand;
  return torch::GradMode::is_enabled() && x.dim() == 4 && float_cpu(x) && x.size(1) == se.channels &&
         x.numel() > 0 && x.is_contiguous(torch::MemoryFormat::ChannelsLast) && float_cpu(reduce.weight) &&
         float_cpu(reduce.bias) && float_cpu(expand.weight) && float_cpu(expand.bias);
}

torch::Tensor squeeze_excite_training(SqueezeExciteImpl& se, const torch::Tensor& x) {
  TORCH_CHECK(squeeze_excite_training_applies(se, x), "squeeze_excite_training: not a case for effscale's kernels");
  return SqueezeExciteFunction::apply(x, se.conv_reduce->weight, se.conv_reduce->bias, se.conv_expand->weight,
                                      se.conv_expand->bias);
}

}  // namespace effscale::models
