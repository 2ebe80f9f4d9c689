#include "effscale/models/batch_norm_training.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "effscale/models/parallel_grain.h"

namespace effscale::models {
namespace {

constexpr int64_t kRowsPerBlock = 512;  // rows summed in float before the blocks are added in double, in order

// Per-channel sums over the rows [0, rows) of `width` quantities: `sum_rows(begin, end, acc)` adds rows
// [begin, end) into acc[width * channels]. Blocks of kRowsPerBlock rows run in parallel; their sums are added in
// block order, so the result does not depend on the thread count.
template <class SumRows>
std::vector<double> channel_sums(int64_t rows, int64_t channels, int64_t width, const SumRows& sum_rows) {
  const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock, stride = width * channels;
  std::vector<float> partial(blocks * stride, 0.f);
  at::parallel_for(0, blocks, grain_for(kRowsPerBlock * stride), [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b)
      sum_rows(b * kRowsPerBlock, std::min(rows, (b + 1) * kRowsPerBlock), partial.data() + b * stride);
  });
  std::vector<double> total(stride, 0.0);
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t q = 0; q < stride; ++q) total[q] += partial[b * stride + q];
  return total;
}

// y = x * scale + shift per channel, over rows of `channels` values.
void scale_shift(const float* x, const float* scale, const float* shift, float* y, int64_t rows, int64_t channels) {
  at::parallel_for(0, rows, grain_for(channels), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const float* in = x + r * channels;
      float* out = y + r * channels;
      for (int64_t c = 0; c < channels; ++c) out[c] = in[c] * scale[c] + shift[c];
    }
  });
}

class BatchNormFunction : public torch::autograd::Function<BatchNormFunction> {
 public:
  // Returns y; updates running_mean / running_var in place with `factor` (the weight of this batch).
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias, torch::Tensor running_mean,
                               torch::Tensor running_var, double factor, double eps) {
    const int64_t channels = x.size(1), rows = x.numel() / channels;
    const float* in = x.data_ptr<float>();
    const std::vector<double> sums = channel_sums(rows, channels, 1, [&](int64_t begin, int64_t end, float* acc) {
      for (int64_t r = begin; r < end; ++r)
        for (int64_t c = 0; c < channels; ++c) acc[c] += in[r * channels + c];
    });
    torch::Tensor mean = torch::empty({channels}, x.options()), invstd = torch::empty({channels}, x.options());
    float* m = mean.data_ptr<float>();
    for (int64_t c = 0; c < channels; ++c) m[c] = float(sums[c] / double(rows));
    const std::vector<double> squares = channel_sums(rows, channels, 1, [&](int64_t begin, int64_t end, float* acc) {
      for (int64_t r = begin; r < end; ++r)
        for (int64_t c = 0; c < channels; ++c) {
          const float d = in[r * channels + c] - m[c];
          acc[c] += d * d;
        }
    });
    const torch::Tensor w = weight.detach().contiguous(), b = bias.detach().contiguous();
    std::vector<float> scale(channels), shift(channels);
    float* s = invstd.data_ptr<float>();
    torch::Tensor unbiased = torch::empty({channels}, x.options());
    for (int64_t c = 0; c < channels; ++c) {
      s[c] = float(1.0 / std::sqrt(squares[c] / double(rows) + eps));
      scale[c] = s[c] * w.data_ptr<float>()[c];
      shift[c] = b.data_ptr<float>()[c] - m[c] * scale[c];
      unbiased.data_ptr<float>()[c] = float(rows > 1 ? squares[c] / double(rows - 1) : squares[c]);
    }
    torch::Tensor y = torch::empty_like(x, x.options(), torch::MemoryFormat::ChannelsLast);
    scale_shift(in, scale.data(), shift.data(), y.data_ptr<float>(), rows, channels);
    {
      torch::NoGradGuard no_grad;
      running_mean.mul_(1.0 - factor).add_(mean, factor);
      running_var.mul_(1.0 - factor).add_(unbiased, factor);
    }
    ctx->save_for_backward({x, weight, mean, invstd});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& x = saved[0];
    const torch::Tensor w = saved[1].contiguous();
    const float* mean = saved[2].data_ptr<float>();
    const float* invstd = saved[3].data_ptr<float>();
    const torch::Tensor grad_out = grads[0].contiguous(torch::MemoryFormat::ChannelsLast);
    const int64_t channels = x.size(1), rows = x.numel() / channels;
    const float* in = x.data_ptr<float>();
    const float* go = grad_out.data_ptr<float>();
    // Per channel: sum of grad_out and of grad_out * (x - mean).
    const std::vector<double> sums = channel_sums(rows, channels, 2, [&](int64_t begin, int64_t end, float* acc) {
      float* sum_g = acc;
      float* sum_gd = acc + channels;
      for (int64_t r = begin; r < end; ++r)
        for (int64_t c = 0; c < channels; ++c) {
          const float g = go[r * channels + c];
          sum_g[c] += g;
          sum_gd[c] += g * (in[r * channels + c] - mean[c]);
        }
    });
    torch::Tensor grad_weight = torch::empty({channels}, x.options()), grad_bias = torch::empty({channels}, x.options());
    // grad_x = w * invstd * (g - mean(g) - (x - mean) * invstd^2 * mean(g * (x - mean))) = g * a + x * b + shift
    std::vector<float> a(channels), b(channels), shift(channels);
    for (int64_t c = 0; c < channels; ++c) {
      const double k = double(w.data_ptr<float>()[c]) * invstd[c];
      const double mean_g = sums[c] / double(rows);
      const double mean_gd = sums[channels + c] / double(rows) * invstd[c] * invstd[c];
      grad_bias.data_ptr<float>()[c] = float(sums[c]);
      grad_weight.data_ptr<float>()[c] = float(sums[channels + c] * invstd[c]);
      a[c] = float(k);
      b[c] = float(-k * mean_gd);
      shift[c] = float(-k * mean_g + k * mean_gd * mean[c]);
    }
    torch::Tensor grad_x;
    if (ctx->needs_input_grad(0)) {
      grad_x = torch::empty_like(x, x.options(), torch::MemoryFormat::ChannelsLast);
      float* gx = grad_x.data_ptr<float>();
      at::parallel_for(0, rows, grain_for(channels), [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r)
          for (int64_t c = 0; c < channels; ++c)
            gx[r * channels + c] = go[r * channels + c] * a[c] + in[r * channels + c] * b[c] + shift[c];
      });
    }
    return {grad_x, ctx->needs_input_grad(1) ? grad_weight : torch::Tensor(),
            ctx->needs_input_grad(2) ? grad_bias : torch::Tensor(), torch::Tensor(), torch::Tensor(), torch::Tensor(),
            torch::Tensor()};
  }
};

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
  TORCH_CHECK(x.numel() / x.size(1) > 1, "Expected more than 1 value per channel when training, got input size ",
              x.sizes());
  // As BatchNormImplBase::forward: count the batch, and weigh it by the momentum or, unset, by 1 / batches.
  double factor = bn.options.momentum().value_or(0.0);
  if (bn.num_batches_tracked.defined()) {
    bn.num_batches_tracked += 1;
    if (!bn.options.momentum()) factor = 1.0 / bn.num_batches_tracked.item<double>();
  }
  return BatchNormFunction::apply(x, bn.weight, bn.bias, bn.running_mean, bn.running_var, factor, bn.options.eps());
}

}  // namespace effscale::models
