// effscale's CPU kernels (depthwise forward and backward, in training and inference; channels_last batch norm;
// squeeze-excite in training)
// against LibTorch's own, on the shapes that take each branch, both padding conventions, and across thread counts.
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <array>
#include <functional>
#include <vector>

#include "effscale/models/batch_norm_training.h"
#include "effscale/models/depthwise_conv.h"
#include "effscale/models/efficientnet.h"
#include "effscale/models/mbconv.h"
#include "effscale/models/squeeze_excite_training.h"
#include "random_spec.h"
#include "tensor_compare.h"

using namespace effscale::models;
using effscale::testing::relative_error;

namespace {

constexpr auto kChannelsLast = torch::MemoryFormat::ChannelsLast;

// run() once on one thread and once on two; the caller's thread count is restored.
template <class Run>
auto on_one_and_two_threads(Run run) {
  const int threads = torch::get_num_threads();
  torch::set_num_threads(1);
  auto one = run();
  torch::set_num_threads(2);
  auto two = run();
  torch::set_num_threads(threads);
  return std::make_pair(one, two);
}

struct DepthwiseCase {
  int64_t n, c, size, kernel, stride;
  Padding padding;
};

struct Gradients {
  torch::Tensor y, grad_x, grad_w;
};

// y and the gradients of sum(y * probe) through `conv`, from fresh leaves holding x and w.
template <class Conv>
Gradients run_depthwise(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& probe, Conv conv) {
  const torch::Tensor xl = x.clone().requires_grad_(), wl = w.clone().requires_grad_();
  const torch::Tensor y = conv(xl, wl);
  (y * probe).sum().backward();
  return {y.detach(), xl.grad(), wl.grad()};
}

}  // namespace

TEST_CASE("the depthwise training path gives LibTorch's outputs and gradients", "[models][training_kernels]") {
  const std::vector<DepthwiseCase> cases = {
      {8, 16, 7, 3, 1, Padding::Symmetric},  // nothing by effscale's kernels: LibTorch's in the function
      {16, 32, 2, 3, 1, Padding::Symmetric},  // forward and both gradients by effscale (an output of 4 pixels)
      {16, 48, 1, 5, 1, Padding::Symmetric},  // 1x1 with a 5x5 kernel: every tap but the centre in the padding
      {4, 24, 8, 5, 2, Padding::TfSame},      // odd total padding: padded explicitly, the weight by effscale
      {4, 40, 9, 5, 2, Padding::TfSame},      // even total padding
      {4, 20, 6, 3, 2, Padding::TfSame},      // odd, k = 3: LibTorch's gradients of the padded input, cut back
      {3, 33, 3, 3, 2, Padding::Symmetric},   // an odd channel count: the vector loops' remainders
  };
  for (const auto& c : cases) {
    INFO("n " << c.n << " c " << c.c << " size " << c.size << " k " << c.kernel << " stride " << c.stride << " "
              << padding_name(c.padding));
    torch::manual_seed(c.c);
    const torch::Tensor x = torch::randn({c.n, c.c, c.size, c.size}).contiguous(kChannelsLast);
    const torch::Tensor w = torch::randn({c.c, 1, c.kernel, c.kernel}).contiguous(kChannelsLast);
    const Stride2d stride{c.stride, c.stride};
    const DepthwiseKernelChoice choice =
        depthwise_kernel_choice(c.c, c.kernel, (c.size + c.stride - 1) / c.stride, (c.size + c.stride - 1) / c.stride);
    CHECK(depthwise_training_applies(x.clone().requires_grad_(), w, {}, c.c, stride) ==
          (choice.forward_by_effscale || choice.weight_by_effscale || choice.input_by_effscale));
    const torch::Tensor y0 = libtorch_padded_conv2d(x, w, {}, stride, c.c, c.padding);
    const torch::Tensor probe = torch::randn(y0.sizes()).contiguous(kChannelsLast);
    const Gradients ours = run_depthwise(x, w, probe, [&](const torch::Tensor& xi, const torch::Tensor& wi) {
      return depthwise_conv2d_training(xi, wi, stride, c.padding);
    });
    const Gradients theirs = run_depthwise(x, w, probe, [&](const torch::Tensor& xi, const torch::Tensor& wi) {
      return libtorch_padded_conv2d(xi, wi, {}, stride, c.c, c.padding);
    });
    if (choice.forward_by_effscale)
      CHECK(relative_error(ours.y, theirs.y) < 1e-6);
    else
      CHECK(torch::equal(ours.y, theirs.y));  // the forward is LibTorch's
    REQUIRE(ours.grad_x.sizes() == x.sizes());
    CHECK(relative_error(ours.grad_x, theirs.grad_x) < 1e-5);
    CHECK(relative_error(ours.grad_w, theirs.grad_w) < 1e-5);
  }
}

TEST_CASE("the depthwise convolution takes effscale's kernels by shape alone", "[models][training_kernels]") {
  // channels, kernel, output height, output width
  const auto small_output = depthwise_kernel_choice(288, 5, 1, 1);
  CHECK((small_output.forward_by_effscale && small_output.weight_by_effscale && small_output.input_by_effscale));
  const auto two_by_two = depthwise_kernel_choice(120, 3, 2, 2);
  CHECK((two_by_two.forward_by_effscale && two_by_two.weight_by_effscale && two_by_two.input_by_effscale));
  const auto k5 = depthwise_kernel_choice(240, 5, 28, 28);
  CHECK((!k5.forward_by_effscale && k5.weight_by_effscale && !k5.input_by_effscale));
  const auto k3 = depthwise_kernel_choice(144, 3, 16, 16);
  CHECK((!k3.forward_by_effscale && !k3.weight_by_effscale && !k3.input_by_effscale));
  const auto few_channels = depthwise_kernel_choice(8, 5, 1, 1);
  CHECK((!few_channels.forward_by_effscale && !few_channels.weight_by_effscale && !few_channels.input_by_effscale));
  // Not taken: no gradient wanted, NCHW memory, a bias, too few channels, neither gradient by effscale's kernels.
  const torch::Tensor w = torch::randn({16, 1, 3, 3});
  const auto cl = [](std::vector<int64_t> shape) { return torch::randn(shape).contiguous(kChannelsLast); };
  CHECK(depthwise_training_applies(cl({2, 16, 2, 2}).requires_grad_(), w, {}, 16, {1, 1}));
  CHECK_FALSE(depthwise_training_applies(cl({2, 16, 2, 2}), w, {}, 16, {1, 1}));
  CHECK_FALSE(depthwise_training_applies(torch::randn({2, 16, 2, 2}).requires_grad_(), w, {}, 16, {1, 1}));
  CHECK_FALSE(depthwise_training_applies(cl({2, 16, 2, 2}).requires_grad_(), w, torch::zeros({16}), 16, {1, 1}));
  CHECK_FALSE(depthwise_training_applies(cl({2, 8, 2, 2}).requires_grad_(), torch::randn({8, 1, 3, 3}), {}, 8, {1, 1}));
  CHECK_FALSE(depthwise_training_applies(cl({2, 16, 8, 8}).requires_grad_(), w, {}, 16, {1, 1}));
}

TEST_CASE("effscale's depthwise gradients do not depend on the thread count", "[models][training_kernels]") {
  torch::manual_seed(5);
  const torch::Tensor x = torch::randn({64, 96, 2, 2}).contiguous(kChannelsLast);
  const torch::Tensor w = torch::randn({96, 1, 5, 5});
  const torch::Tensor probe = torch::randn({64, 96, 2, 2}).contiguous(kChannelsLast);
  const auto conv = [](const torch::Tensor& xi, const torch::Tensor& wi) {
    return depthwise_conv2d_training(xi, wi, {1, 1}, Padding::Symmetric);
  };
  const auto [one, two] = on_one_and_two_threads([&] { return run_depthwise(x, w, probe, conv); });
  CHECK(torch::equal(one.grad_x, two.grad_x));
  CHECK(torch::equal(one.grad_w, two.grad_w));
}

TEST_CASE("the depthwise inference path gives LibTorch's outputs, with and without a bias",
          "[models][training_kernels]") {
  const std::vector<DepthwiseCase> cases = {
      {16, 48, 1, 5, 1, Padding::Symmetric},  // 1x1 with a 5x5 kernel
      {8, 40, 2, 5, 1, Padding::TfSame},      // 2x2, even total padding
      {4, 24, 4, 3, 2, Padding::TfSame},      // odd total padding: padded explicitly
      {3, 33, 3, 3, 2, Padding::Symmetric},   // an odd channel count: the vector loops' remainders
  };
  for (const auto& c : cases) {
    INFO("n " << c.n << " c " << c.c << " size " << c.size << " k " << c.kernel << " stride " << c.stride << " "
              << padding_name(c.padding));
    torch::manual_seed(c.c);
    const torch::Tensor x = torch::randn({c.n, c.c, c.size, c.size}).contiguous(kChannelsLast);
    const torch::Tensor w = torch::randn({c.c, 1, c.kernel, c.kernel});
    const Stride2d stride{c.stride, c.stride};
    for (const torch::Tensor& bias : {torch::Tensor(), torch::randn({c.c})}) {
      c10::InferenceMode guard;
      REQUIRE(depthwise_inference_applies(x, w, bias, c.c, stride));
      const torch::Tensor theirs = libtorch_padded_conv2d(x, w, bias, stride, c.c, c.padding);
      const torch::Tensor ours = padded_conv2d(x, w, bias, stride, c.c, c.padding);  // takes the inference path
      REQUIRE(ours.sizes() == theirs.sizes());
      CHECK(ours.is_contiguous(kChannelsLast));
      CHECK(relative_error(ours, theirs) < 1e-6);
      const auto [one, two] =
          on_one_and_two_threads([&] { return depthwise_conv2d_inference(x, w, bias, stride, c.padding); });
      CHECK(torch::equal(one, two));
    }
  }
  // Not taken: a gradient wanted, NCHW memory, a larger output, a bias of another size.
  const torch::Tensor x = torch::randn({2, 16, 2, 2}).contiguous(kChannelsLast), w = torch::randn({16, 1, 3, 3});
  CHECK_FALSE(depthwise_inference_applies(x, w.clone().requires_grad_(), {}, 16, {1, 1}));
  CHECK_FALSE(depthwise_inference_applies(torch::randn({2, 16, 2, 3}), w, {}, 16, {1, 1}));
  CHECK_FALSE(depthwise_inference_applies(torch::randn({2, 16, 8, 8}).contiguous(kChannelsLast), w, {}, 16, {1, 1}));
  CHECK_FALSE(depthwise_inference_applies(x, w, torch::zeros({8}), 16, {1, 1}));
}

TEST_CASE("swish's backward takes a gradient in another layout and gives LibTorch's silu gradient",
          "[models][training_kernels]") {
  torch::manual_seed(2);
  const torch::Tensor x = torch::randn({4, 24, 6, 6}).contiguous(kChannelsLast);
  const torch::Tensor grad = torch::randn({4, 24, 6, 6});  // NCHW, as autograd sums a squeeze-excite input's
  const torch::Tensor ours = x.clone().requires_grad_(), theirs = x.clone().requires_grad_();
  const torch::Tensor y = swish(ours);
  CHECK(torch::equal(y, torch::silu(x)));
  y.backward(grad);
  torch::silu(theirs).backward(grad);
  // Equal to rounding: LibTorch's vectorised loop (one layout) and its strided loop (two) round differently.
  CHECK(relative_error(ours.grad(), theirs.grad()) < 1e-6);
  // Without autograd it works in place.
  torch::NoGradGuard no_grad;
  torch::Tensor t = x.clone();
  CHECK(swish(t).data_ptr() == t.data_ptr());
}

namespace {

struct BatchNormRun {
  torch::Tensor y, grad_x, grad_w, grad_b, running_mean, running_var;
  int64_t batches;
};

// Two training steps of a copy of `bn` on x and 2x + 1, by `forward`; gradients of sum(y * probe) of the second.
template <class Forward>
BatchNormRun run_batch_norm(const torch::nn::BatchNorm2d& bn, const torch::Tensor& x, const torch::Tensor& probe,
                            Forward forward) {
  auto copy = std::dynamic_pointer_cast<torch::nn::BatchNorm2dImpl>(bn->clone());
  copy->train();
  forward(*copy, x);
  const torch::Tensor xl = (x * 2 + 1).contiguous(x.suggest_memory_format()).requires_grad_();
  const torch::Tensor y = forward(*copy, xl);
  (y * probe).sum().backward();
  return {y.detach(), xl.grad(), copy->weight.grad(), copy->bias.grad(), copy->running_mean.clone(),
          copy->running_var.clone(), copy->num_batches_tracked.item<int64_t>()};
}

}  // namespace

TEST_CASE("training batch norm on channels_last gives LibTorch's outputs, gradients and statistics, alone and fused "
          "with swish", "[models][training_kernels]") {
  using Forward = std::function<torch::Tensor(torch::nn::BatchNorm2dImpl&, const torch::Tensor&)>;
  const Forward ours_alone = [](auto& m, const auto& t) { return batch_norm_forward(m, t); };
  const Forward theirs_alone = [](auto& m, const auto& t) { return m.forward(t); };
  const Forward ours_fused = [](auto& m, const auto& t) { return batch_norm_swish_training(m, t); };
  const Forward theirs_fused = [](auto& m, const auto& t) { return torch::silu(m.forward(t)); };
  // batch, channels, size, and the scale of the affine weight (x 40: the activation reaches the clamp of the fused
  // kernel's e^x, |z| > 87); momentum 0.1, then unset (the cumulative average batch norm recalibration uses).
  const std::vector<std::array<int64_t, 4>> shapes = {{128, 4, 14, 1}, {16, 36, 7, 1}, {64, 288, 1, 1}, {3, 7, 33, 1},
                                                      {8, 16, 5, 40}};
  for (const bool fused : {false, true})
    for (const auto& s : shapes)
      for (const bool cumulative : {false, true}) {
        INFO((fused ? "fused " : "alone ") << "shape " << s[0] << "x" << s[1] << "x" << s[2] << " weight x" << s[3]
                                           << (cumulative ? " cumulative" : " momentum 0.1"));
        torch::manual_seed(s[1]);
        auto options = torch::nn::BatchNorm2dOptions(s[1]).eps(1e-3).momentum(0.1);
        if (cumulative) options.momentum(c10::nullopt);
        torch::nn::BatchNorm2d bn(options);
        {
          torch::NoGradGuard no_grad;
          bn->weight.uniform_(0.5, 1.5).mul_(double(s[3]));
          bn->bias.uniform_(-0.5, 0.5);
        }
        const torch::Tensor x = (torch::randn({s[0], s[1], s[2], s[2]}) * 3 + 1).contiguous(kChannelsLast);
        const torch::Tensor probe = torch::randn(x.sizes()).contiguous(kChannelsLast);
        REQUIRE(batch_norm_training_applies(*bn, x));
        const BatchNormRun ours = run_batch_norm(bn, x, probe, fused ? ours_fused : ours_alone);
        const BatchNormRun theirs = run_batch_norm(bn, x, probe, fused ? theirs_fused : theirs_alone);
        CHECK(ours.y.is_contiguous(kChannelsLast));
        CHECK(relative_error(ours.y, theirs.y) < 1e-5);
        CHECK(relative_error(ours.grad_x, theirs.grad_x) < 1e-5);
        CHECK(relative_error(ours.grad_w, theirs.grad_w) < 1e-5);
        CHECK(relative_error(ours.grad_b, theirs.grad_b) < 1e-5);
        CHECK(relative_error(ours.running_mean, theirs.running_mean) < 1e-5);
        CHECK(relative_error(ours.running_var, theirs.running_var) < 1e-5);
        CHECK(ours.batches == theirs.batches);
      }
  // Evaluation and NCHW memory go to LibTorch; a single value per channel is refused.
  torch::nn::BatchNorm2d bn(4);
  CHECK_FALSE(batch_norm_training_applies(*bn, torch::randn({2, 4, 3, 3})));
  bn->eval();
  CHECK_FALSE(batch_norm_training_applies(*bn, torch::randn({2, 4, 3, 3}).contiguous(kChannelsLast)));
  bn->train();
  CHECK_THROWS(batch_norm_forward(*bn, torch::randn({1, 4, 1, 1}).contiguous(kChannelsLast)));
  CHECK_THROWS(batch_norm_swish_training(*bn, torch::randn({2, 4, 3, 3})));
  // The fused form falls back to the two ops where the kernels do not apply.
  bn->eval();
  const torch::Tensor nchw = torch::randn({2, 4, 3, 3});
  CHECK(torch::equal(batch_norm_swish(*bn, nchw), torch::silu(bn->forward(nchw))));
}

TEST_CASE("training batch norm, alone and fused with swish, does not depend on the thread count",
          "[models][training_kernels]") {
  torch::manual_seed(9);
  torch::nn::BatchNorm2d bn(24);
  const torch::Tensor x = torch::randn({64, 24, 14, 14}).contiguous(kChannelsLast);
  const torch::Tensor probe = torch::randn(x.sizes()).contiguous(kChannelsLast);
  for (const bool fused : {false, true}) {
    INFO((fused ? "fused with swish" : "alone"));
    const auto forward = [fused](torch::nn::BatchNorm2dImpl& m, const torch::Tensor& t) {
      return fused ? batch_norm_swish_training(m, t) : batch_norm_forward(m, t);
    };
    const auto [one, two] = on_one_and_two_threads([&] { return run_batch_norm(bn, x, probe, forward); });
    CHECK(torch::equal(one.y, two.y));
    CHECK(torch::equal(one.grad_x, two.grad_x));
    CHECK(torch::equal(one.grad_w, two.grad_w));
    CHECK(torch::equal(one.running_var, two.running_var));
  }
}

namespace {

struct SqueezeExciteRun {
  torch::Tensor y, grad_x, grad_reduce_w, grad_reduce_b, grad_expand_w, grad_expand_b;
};

// y and the gradients of sum(y * probe) through a copy of `se` run by `forward`, from a fresh leaf holding x.
template <class Forward>
SqueezeExciteRun run_squeeze_excite(const SqueezeExcite& se, const torch::Tensor& x, const torch::Tensor& probe,
                                    Forward forward) {
  auto copy = std::dynamic_pointer_cast<SqueezeExciteImpl>(se->clone());
  const torch::Tensor xl = x.clone(x.suggest_memory_format()).requires_grad_();
  const torch::Tensor y = forward(*copy, xl);
  (y * probe).sum().backward();
  return {y.detach(), xl.grad(), copy->conv_reduce->weight.grad(), copy->conv_reduce->bias.grad(),
          copy->conv_expand->weight.grad(), copy->conv_expand->bias.grad()};
}

// A squeeze-excite of `channels` and `reduced` with weights drawn from `seed`, large enough that the gate moves.
SqueezeExcite random_squeeze_excite(int64_t channels, int64_t reduced, uint64_t seed) {
  torch::manual_seed(seed);
  SqueezeExcite se(channels, reduced);
  torch::NoGradGuard no_grad;
  for (auto& p : se->parameters()) p.uniform_(-1, 1);
  return se;
}

}  // namespace

TEST_CASE("training squeeze-excite on channels_last gives LibTorch's outputs and gradients",
          "[models][training_kernels]") {
  const auto ours = [](SqueezeExciteImpl& m, const torch::Tensor& t) { return squeeze_excite_training(m, t); };
  const auto theirs = [](SqueezeExciteImpl& m, const torch::Tensor& t) { return m.forward_ops(t); };
  // batch, channels, reduced, size: the evidence proxy's small layers, rows of 128 channels or more, one pixel, and
  // 24 x 24 = 576 rows (more than one block of the sums).
  const std::vector<std::array<int64_t, 4>> shapes = {
      {64, 4, 1, 14}, {16, 36, 2, 7}, {64, 288, 12, 1}, {3, 7, 3, 24}, {4, 144, 6, 5}};
  for (const auto& s : shapes) {
    INFO("shape " << s[0] << "x" << s[1] << "x" << s[3] << " reduced " << s[2]);
    const SqueezeExcite se = random_squeeze_excite(s[1], s[2], uint64_t(s[1]));
    const torch::Tensor x = (torch::randn({s[0], s[1], s[3], s[3]}) * 2 + 0.5).contiguous(kChannelsLast);
    const torch::Tensor probe = torch::randn(x.sizes()).contiguous(kChannelsLast);
    REQUIRE(squeeze_excite_training_applies(*se, x));
    const SqueezeExciteRun a = run_squeeze_excite(se, x, probe, ours);
    const SqueezeExciteRun b = run_squeeze_excite(se, x, probe, theirs);
    CHECK(a.y.is_contiguous(kChannelsLast));
    CHECK(a.grad_x.is_contiguous(kChannelsLast));
    CHECK(relative_error(a.y, b.y) < 1e-5);
    CHECK(relative_error(a.grad_x, b.grad_x) < 1e-5);
    CHECK(relative_error(a.grad_reduce_w, b.grad_reduce_w) < 1e-5);
    CHECK(relative_error(a.grad_reduce_b, b.grad_reduce_b) < 1e-5);
    CHECK(relative_error(a.grad_expand_w, b.grad_expand_w) < 1e-5);
    CHECK(relative_error(a.grad_expand_b, b.grad_expand_b) < 1e-5);
    // The module's forward takes the kernel here.
    CHECK(torch::equal(run_squeeze_excite(se, x, probe, [](SqueezeExciteImpl& m, const torch::Tensor& t) {
                         return m.forward(t);
                       }).grad_x,
                       a.grad_x));
  }
  // NCHW memory, no autograd and other dtypes go to LibTorch's ops; the kernel refuses them.
  SqueezeExcite se = random_squeeze_excite(8, 2, 1);
  CHECK_FALSE(squeeze_excite_training_applies(*se, torch::randn({2, 8, 3, 3})));
  CHECK_FALSE(squeeze_excite_training_applies(*se, torch::randn({2, 8, 3, 3}, torch::kDouble).contiguous(kChannelsLast)));
  CHECK_THROWS(squeeze_excite_training(*se, torch::randn({2, 8, 3, 3})));
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({2, 8, 3, 3}).contiguous(kChannelsLast);
  CHECK_FALSE(squeeze_excite_training_applies(*se, x));
  CHECK(torch::allclose(se->forward(x.clone()), se->forward_ops(x.clone())));
}

TEST_CASE("training squeeze-excite does not depend on the thread count", "[models][training_kernels]") {
  const SqueezeExcite se = random_squeeze_excite(24, 6, 3);
  torch::manual_seed(5);
  const torch::Tensor x = torch::randn({64, 24, 14, 14}).contiguous(kChannelsLast);
  const torch::Tensor probe = torch::randn(x.sizes()).contiguous(kChannelsLast);
  const auto [one, two] = on_one_and_two_threads([&] {
    return run_squeeze_excite(se, x, probe, [](SqueezeExciteImpl& m, const torch::Tensor& t) {
      return squeeze_excite_training(m, t);
    });
  });
  CHECK(torch::equal(one.y, two.y));
  CHECK(torch::equal(one.grad_x, two.grad_x));
  CHECK(torch::equal(one.grad_reduce_w, two.grad_reduce_w));
  CHECK(torch::equal(one.grad_expand_b, two.grad_expand_b));
}

TEST_CASE("a channels_last training step equals the NCHW one, which takes LibTorch's kernels throughout",
          "[models][training_kernels]") {
  // The evidence proxy's shape of network: grey 28 px, width 0.25; its last stages run at 2x2 and 1x1.
  ArchSpec spec = effscale::testing::grey_proxy_b0(0.25, 0.5);
  spec.dropout = 0;
  spec.drop_connect = 0;
  EfficientNet nchw(spec, /*seed=*/4);
  EfficientNet nhwc(spec, /*seed=*/4);
  nhwc->set_layout(kChannelsLast);
  const torch::Tensor x = torch::randn({32, 1, 28, 28});
  const torch::Tensor labels = torch::randint(0, 10, {32});
  torch::nn::functional::cross_entropy(nchw->forward(x), labels).backward();
  torch::nn::functional::cross_entropy(nhwc->forward(x), labels).backward();
  // Compared against the largest gradient of the model: a batch norm's bias followed by a convolution and another
  // batch norm has a gradient of zero in exact arithmetic, so only rounding noise is left to compare there.
  const auto a = nchw->named_parameters(), b = nhwc->named_parameters();
  double largest = 0;
  for (const auto& p : a) largest = std::max(largest, p.value().grad().abs().max().item<double>());
  for (const auto& p : a) {
    INFO(p.key());
    CHECK((b[p.key()].grad() - p.value().grad()).abs().max().item<double>() < 1e-4 * largest);
  }
  const auto ba = nchw->named_buffers(), bb = nhwc->named_buffers();
  for (const auto& p : ba) {
    INFO(p.key());
    if (p.value().is_floating_point()) CHECK((bb[p.key()] - p.value()).abs().max().item<double>() < 1e-5);
    else CHECK(torch::equal(bb[p.key()], p.value()));
  }
}
