#include "effscale/models/batch_norm_training.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "effscale/models/mbconv.h"
#include "effscale/models/parallel_grain.h"
#include "row_loops.h"

namespace effscale::models {
namespace {

using namespace row_loops;

// e^x to about 1e-7 relative for x in [-87, 88] (clamped there), in plain float arithmetic the compiler vectorises
// (the Cephes single-precision polynomial; rounding to the nearest integer by the 1.5 * 2^23 trick, 2^n from its
// bits). Internal and always inlined, so the copies compiled into the cloned kernels below stay theirs.
static inline __attribute__((always_inline)) float exp_clamped(float x) {
  x = x < -87.0f ? -87.0f : x;  // conditional moves, not std::min / std::max, which GCC keeps as branches here
  x = x > 88.0f ? 88.0f : x;
  constexpr float kMagic = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer held in the low mantissa bits
  const float shifted = x * 1.44269504088896341f + kMagic;
  const float n = shifted - kMagic;
  uint32_t bits;  // unsigned: a NaN's bits make a meaningless exponent, but no undefined shift (the result is NaN)
  std::memcpy(&bits, &shifted, sizeof bits);
  const uint32_t exponent = bits - 0x4B400000u + 127u;  // n + 127, in [1, 254] for the clamped range
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const uint32_t scale_bits = exponent << 23;
  float scale;
  std::memcpy(&scale, &scale_bits, sizeof scale);
  return p * scale;
}

// The loops below run over `count` values of channels_last rows in periods of `period` values (a whole number of
// rows; per-channel arrays tiled to that length), so that rows of few channels still fill the vector units.

// y = swish(x * scale + shift), scale and shift tiled to the period.
EFFSCALE_VECTOR_CLONES static void scale_shift_swish_run(const float* __restrict x, const float* __restrict scale,
                                                         const float* __restrict shift, float* __restrict y,
                                                         int64_t count, int64_t period) {
  for (int64_t base = 0; base < count; base += period) {
    const int64_t n = count - base < period ? count - base : period;
    for (int64_t j = 0; j < n; ++j) {
      const float z = x[base + j] * scale[j] + shift[j];
      y[base + j] = z / (1.0f + exp_clamped(-z));
    }
  }
}

// gz = go * swish'(z) with z = x * scale + shift, and, per position of the period, the sums of gz (into sum_g) and
// of gz * (x - mean) (into sum_gd); scale, shift and mean tiled to the period.
EFFSCALE_VECTOR_CLONES static void swish_gradient_run(const float* __restrict x, const float* __restrict go,
                                                      const float* __restrict scale, const float* __restrict shift,
                                                      const float* __restrict mean, float* __restrict gz,
                                                      float* __restrict sum_g, float* __restrict sum_gd, int64_t count,
                                                      int64_t period) {
  for (int64_t base = 0; base < count; base += period) {
    const int64_t n = count - base < period ? count - base : period;
    for (int64_t j = 0; j < n; ++j) {
      const float v = x[base + j];
      const float z = v * scale[j] + shift[j];
      const float sigmoid = 1.0f / (1.0f + exp_clamped(-z));
      const float g = go[base + j] * sigmoid * (1.0f + z * (1.0f - sigmoid));
      gz[base + j] = g;
      sum_g[j] += g;
      sum_gd[j] += g * (v - mean[j]);
    }
  }
}

// gx = g * a + x * b + c (batch norm's input gradient), into gx; in_place_run does it over g's own storage.
EFFSCALE_VECTOR_CLONES static void input_gradient_run(const float* __restrict g, const float* __restrict x,
                                                      const float* __restrict a, const float* __restrict b,
                                                      const float* __restrict c, float* __restrict gx, int64_t count,
                                                      int64_t period) {
  for (int64_t base = 0; base < count; base += period) {
    const int64_t n = count - base < period ? count - base : period;
    for (int64_t j = 0; j < n; ++j) gx[base + j] = g[base + j] * a[j] + x[base + j] * b[j] + c[j];
  }
}
EFFSCALE_VECTOR_CLONES static void input_gradient_in_place_run(float* __restrict g, const float* __restrict x,
                                                               const float* __restrict a, const float* __restrict b,
                                                               const float* __restrict c, int64_t count,
                                                               int64_t period) {
  for (int64_t base = 0; base < count; base += period) {
    const int64_t n = count - base < period ? count - base : period;
    for (int64_t j = 0; j < n; ++j) g[base + j] = g[base + j] * a[j] + x[base + j] * b[j] + c[j];
  }
}

// Per position of the period: s += (x - mean)^2 (squares_run), and sum_g += g, sum_gd += g * (x - mean)
// (gradient_sums_run); sum_run (row_loops.h) adds x.
EFFSCALE_VECTOR_CLONES static void squares_run(const float* __restrict x, const float* __restrict mean,
                                               float* __restrict s, int64_t count, int64_t period) {
  for (int64_t base = 0; base < count; base += period) {
    const int64_t n = count - base < period ? count - base : period;
    for (int64_t j = 0; j < n; ++j) {
      const float d = x[base + j] - mean[j];
      s[j] += d * d;
    }
  }
}
EFFSCALE_VECTOR_CLONES static void gradient_sums_run(const float* __restrict x, const float* __restrict g,
                                                     const float* __restrict mean, float* __restrict sum_g,
                                                     float* __restrict sum_gd, int64_t count, int64_t period) {
  for (int64_t base = 0; base < count; base += period) {
    const int64_t n = count - base < period ? count - base : period;
    for (int64_t j = 0; j < n; ++j) {
      const float v = g[base + j];
      sum_g[j] += v;
      sum_gd[j] += v * (x[base + j] - mean[j]);
    }
  }
}

// Per-channel sums of `width` quantities over rows of `channels` values. Blocks of kRowsPerBlock rows are summed in
// parallel, each per position of a period of rows_per_period(channels) rows: run(offset, count, period, sums) adds
// the values [offset, offset + count) into sums[width * period] (float). The blocks' sums are then added in block
// order in double and folded into channels (all of the first quantity, then the next), so the result does not
// depend on the thread count.
template <class Run>
std::vector<double> channel_sums(int64_t rows, int64_t channels, int64_t width, const Run& run) {
  const int64_t period = rows_per_period(channels) * channels, stride = width * period;
  const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  std::vector<float> partial(blocks * stride, 0.f);
  at::parallel_for(0, blocks, grain_for(kRowsPerBlock * width * channels), [&](int64_t first, int64_t last) {
    for (int64_t b = first; b < last; ++b) {
      const int64_t begin = b * kRowsPerBlock, end = std::min(rows, begin + kRowsPerBlock);
      run(begin * channels, (end - begin) * channels, period, partial.data() + b * stride);
    }
  });
  std::vector<double> total(width * channels, 0.0);
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t q = 0; q < width; ++q)
      fold_into_channels(partial.data() + b * stride + q * period, period, channels, total.data() + q * channels);
  return total;
}

// run(offset, count, period) over the rows in parallel, in runs of whole rows.
template <class Run>
void for_each_run(int64_t rows, int64_t channels, const Run& run) {
  const int64_t period = rows_per_period(channels) * channels;
  at::parallel_for(0, rows, grain_for(channels), [&](int64_t begin, int64_t end) {
    run(begin * channels, (end - begin) * channels, period);
  });
}

// The batch's statistics of x, what normalising by them takes per channel (y = x * scale + shift, with the affine
// weight and bias), and the running statistics updated with `factor` (the weight of this batch).
struct BatchStatistics {
  torch::Tensor mean, invstd;
  std::vector<float> scale, shift;
};

// scale and shift from the affine weight and bias and the batch's mean and invstd, the same floats in forward and
// backward.
void fill_scale_shift(BatchStatistics& stats, const float* w, const float* b, int64_t channels) {
  const float* m = stats.mean.data_ptr<float>();
  const float* s = stats.invstd.data_ptr<float>();
  stats.scale.resize(channels);
  stats.shift.resize(channels);
  for (int64_t c = 0; c < channels; ++c) {
    stats.scale[c] = s[c] * w[c];
    stats.shift[c] = b[c] - m[c] * stats.scale[c];
  }
}

BatchStatistics batch_statistics(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                                 torch::Tensor& running_mean, torch::Tensor& running_var, double factor, double eps) {
  const int64_t channels = x.size(1), rows = x.numel() / channels;
  const float* in = x.data_ptr<float>();
  const std::vector<double> sums = channel_sums(rows, channels, 1, [&](int64_t offset, int64_t count, int64_t period,
                                                                      float* acc) {
    sum_run(in + offset, acc, count, period);
  });
  BatchStatistics stats{torch::empty({channels}, x.options()), torch::empty({channels}, x.options()), {}, {}};
  float* m = stats.mean.data_ptr<float>();
  for (int64_t c = 0; c < channels; ++c) m[c] = float(sums[c] / double(rows));
  const std::vector<float> mean = per_period(m, channels);
  const std::vector<double> squares = channel_sums(rows, channels, 1, [&](int64_t offset, int64_t count,
                                                                         int64_t period, float* acc) {
    squares_run(in + offset, mean.data(), acc, count, period);
  });
  float* s = stats.invstd.data_ptr<float>();
  torch::Tensor unbiased = torch::empty({channels}, x.options());
  for (int64_t c = 0; c < channels; ++c) {
    s[c] = float(1.0 / std::sqrt(squares[c] / double(rows) + eps));
    unbiased.data_ptr<float>()[c] = float(rows > 1 ? squares[c] / double(rows - 1) : squares[c]);
  }
  const torch::Tensor w = weight.detach().contiguous(), b = bias.detach().contiguous();
  fill_scale_shift(stats, w.data_ptr<float>(), b.data_ptr<float>(), channels);
  torch::NoGradGuard no_grad;
  running_mean.mul_(1.0 - factor).add_(stats.mean, factor);
  running_var.mul_(1.0 - factor).add_(unbiased, factor);
  return stats;
}

// The gradients of batch norm in training from the per-channel sums of g (the gradient of its output) and of
// g * (x - mean): the weight's and the bias's, and the input's as g * a + x * b + shift per channel.
struct BackwardCoefficients {
  torch::Tensor grad_weight, grad_bias;
  std::vector<float> a, b, shift;
};

BackwardCoefficients backward_coefficients(const std::vector<double>& sums, const torch::Tensor& weight,
                                           const float* mean, const float* invstd, int64_t rows) {
  const int64_t channels = weight.numel();
  const torch::Tensor w = weight.contiguous();
  BackwardCoefficients k{torch::empty({channels}, w.options()), torch::empty({channels}, w.options()),
                         std::vector<float>(channels), std::vector<float>(channels), std::vector<float>(channels)};
  // grad_x = w * invstd * (g - mean(g) - (x - mean) * invstd^2 * mean(g * (x - mean))) = g * a + x * b + shift
  for (int64_t c = 0; c < channels; ++c) {
    const double scale = double(w.data_ptr<float>()[c]) * invstd[c];
    const double mean_g = sums[c] / double(rows);
    const double mean_gd = sums[channels + c] / double(rows) * invstd[c] * invstd[c];
    k.grad_bias.data_ptr<float>()[c] = float(sums[c]);
    k.grad_weight.data_ptr<float>()[c] = float(sums[channels + c] * invstd[c]);
    k.a[c] = float(scale);
    k.b[c] = float(-scale * mean_gd);
    k.shift[c] = float(-scale * mean_g + scale * mean_gd * mean[c]);
  }
  return k;
}

// gx = g * a + x * b + shift per channel over rows of `channels` values; gx may be g.
void input_gradient(const float* g, const float* x, const BackwardCoefficients& k, float* gx, int64_t rows,
                    int64_t channels) {
  const int64_t n = int64_t(k.a.size());
  const std::vector<float> a = per_period(k.a.data(), n), b = per_period(k.b.data(), n),
                           c = per_period(k.shift.data(), n);
  for_each_run(rows, channels, [&](int64_t offset, int64_t count, int64_t period) {
    if (g == gx) {
      input_gradient_in_place_run(gx + offset, x + offset, a.data(), b.data(), c.data(), count, period);
    } else {
      input_gradient_run(g + offset, x + offset, a.data(), b.data(), c.data(), gx + offset, count, period);
    }
  });
}

// The outputs' list of a backward: the input's gradient, the weight's and the bias's where asked for, none for the
// rest of forward's `inputs` arguments.
torch::autograd::variable_list gradients(torch::autograd::AutogradContext* ctx, torch::Tensor grad_x,
                                         BackwardCoefficients& k, size_t inputs) {
  torch::autograd::variable_list out(inputs);
  if (ctx->needs_input_grad(0)) out[0] = std::move(grad_x);
  if (ctx->needs_input_grad(1)) out[1] = k.grad_weight;
  if (ctx->needs_input_grad(2)) out[2] = k.grad_bias;
  return out;
}

// y = x * scale + shift, or swish of it when `swish`, with the statistics' scale and shift, over rows of `channels`
// values.
void normalise(const float* x, const BatchStatistics& stats, float* y, int64_t rows, int64_t channels, bool swish) {
  const std::vector<float> scale = per_period(stats.scale.data(), channels),
                           shift = per_period(stats.shift.data(), channels);
  for_each_run(rows, channels, [&](int64_t offset, int64_t count, int64_t period) {
    if (swish) {
      scale_shift_swish_run(x + offset, scale.data(), shift.data(), y + offset, count, period);
    } else {
      affine_run(x + offset, scale.data(), shift.data(), y + offset, count, period);
    }
  });
}

// Per channel, the sums of g and of g * (x - mean) (channel_sums' layout: all of the first, then the second).
std::vector<double> gradient_sums(const float* x, const float* g, const float* mean, int64_t rows, int64_t channels) {
  const std::vector<float> mean_tiled = per_period(mean, channels);
  return channel_sums(rows, channels, 2, [&](int64_t offset, int64_t count, int64_t period, float* sums) {
    gradient_sums_run(x + offset, g + offset, mean_tiled.data(), sums, sums + period, count, period);
  });
}

// gz = go * swish'(z) with z = x * scale + shift (the statistics' scale and shift), and gradient_sums of gz.
std::vector<double> swish_gradient_sums(const float* x, const float* go, const BatchStatistics& stats, float* gz,
                                        int64_t rows, int64_t channels) {
  const std::vector<float> scale = per_period(stats.scale.data(), channels),
                           shift = per_period(stats.shift.data(), channels),
                           mean = per_period(stats.mean.data_ptr<float>(), channels);
  return channel_sums(rows, channels, 2, [&](int64_t offset, int64_t count, int64_t period, float* sums) {
    swish_gradient_run(x + offset, go + offset, scale.data(), shift.data(), mean.data(), gz + offset, sums,
                       sums + period, count, period);
  });
}

// Batch norm in training, followed by swish when kSwish: then one pass over x forward (the normalised activation z
// is never stored) and two backward (the gradient of z is formed in the pass that sums it, in grad_x's storage).
template <bool kSwish>
class BatchNormFunction : public torch::autograd::Function<BatchNormFunction<kSwish>> {
 public:
  // Returns y; updates running_mean / running_var in place with `factor` (the weight of this batch).
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias, torch::Tensor running_mean,
                               torch::Tensor running_var, double factor, double eps) {
    const BatchStatistics stats = batch_statistics(x, weight, bias, running_mean, running_var, factor, eps);
    const int64_t channels = x.size(1), rows = x.numel() / channels;
    torch::Tensor y = torch::empty_like(x, x.options(), torch::MemoryFormat::ChannelsLast);
    normalise(x.data_ptr<float>(), stats, y.data_ptr<float>(), rows, channels, kSwish);
    ctx->save_for_backward({x, weight, bias, stats.mean, stats.invstd});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor w = saved[1].contiguous(), b = saved[2].contiguous();
    BatchStatistics stats{saved[3], saved[4], {}, {}};
    const int64_t channels = x.size(1), rows = x.numel() / channels;
    const float* mean = stats.mean.data_ptr<float>();
    const torch::Tensor grad_out = grads[0].contiguous(torch::MemoryFormat::ChannelsLast);
    const float* in = x.data_ptr<float>();
    const float* go = grad_out.data_ptr<float>();
    torch::Tensor grad_x;
    const float* g = go;  // the gradient of batch norm's output
    std::vector<double> sums;
    if constexpr (kSwish) {
      fill_scale_shift(stats, w.data_ptr<float>(), b.data_ptr<float>(), channels);
      grad_x = torch::empty_like(x, x.options(), torch::MemoryFormat::ChannelsLast);
      sums = swish_gradient_sums(in, go, stats, grad_x.data_ptr<float>(), rows, channels);
      g = grad_x.data_ptr<float>();
    } else {
      sums = gradient_sums(in, go, mean, rows, channels);
      if (ctx->needs_input_grad(0)) grad_x = torch::empty_like(x, x.options(), torch::MemoryFormat::ChannelsLast);
    }
    BackwardCoefficients k = backward_coefficients(sums, w, mean, stats.invstd.data_ptr<float>(), rows);
    if (ctx->needs_input_grad(0)) input_gradient(g, in, k, grad_x.data_ptr<float>(), rows, channels);
    return gradients(ctx, ctx->needs_input_grad(0) ? grad_x : torch::Tensor(), k, 7);
  }
};

// The weight of this batch in bn's running statistics, counting the batch as BatchNormImplBase::forward does: the
// momentum, or 1 / batches when the momentum is unset.
double count_batch(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) {
  TORCH_CHECK(x.numel() / x.size(1) > 1, "Expected more than 1 value per channel when training, got input size ",
              x.sizes());
  double factor = bn.options.momentum().value_or(0.0);
  if (bn.num_batches_tracked.defined()) {
    bn.num_batches_tracked += 1;
    if (!bn.options.momentum()) factor = 1.0 / bn.num_batches_tracked.item<double>();
  }
  return factor;
}

}  // namespace

bool batch_norm_training_applies(const torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) {
  const auto& o = bn.options;
  return bn.is_training() && o.affine() && o.track_running_stats() && x.dim() == 4 && x.device().is_cpu() &&
         x.scalar_type() == torch::kFloat && bn.weight.scalar_type() == torch::kFloat &&
         bn.running_mean.scalar_type() == torch::kFloat && bn.running_var.scalar_type() == torch::kFloat &&
         x.size(1) == o.num_features() && x.numel() > 0 && x.is_contiguous(torch::MemoryFormat::ChannelsLast);
}

torch::Tensor batch_norm_forward(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) {
  if (!batch_norm_training_applies(bn, x)) return bn.forward(x);
  const double factor = count_batch(bn, x);
  return BatchNormFunction<false>::apply(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, factor,
                                         bn.options.eps());
}

torch::Tensor batch_norm_swish_training(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) {
  TORCH_CHECK(batch_norm_training_applies(bn, x), "batch_norm_swish_training: not a case for effscale's kernels");
  const double factor = count_batch(bn, x);
  return BatchNormFunction<true>::apply(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, factor,
                                        bn.options.eps());
}

torch::Tensor batch_norm_swish(torch::nn::BatchNorm2dImpl& bn, const torch::Tensor& x) {
  if (batch_norm_training_applies(bn, x)) return batch_norm_swish_training(bn, x);
  return swish(batch_norm_forward(bn, x));
}

}  // namespace effscale::models
