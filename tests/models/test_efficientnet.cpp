// The torch modules built from specs: exact parameter counts, shapes, padding conventions,
// drop-connect, initialisation, parameter names, and a training smoke test.

#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "effscale/models/batch_norm_training.h"
#include "effscale/models/counts.h"
#include "effscale/models/efficientnet.h"
#include "effscale/models/official.h"
#include "effscale/models/random_streams.h"
#include "effscale/models/spec_error.h"
#include "random_spec.h"

using namespace effscale::models;

TEST_CASE("built B0-B7 have exactly the analytic parameter count", "[models][efficientnet]") {
  torch::manual_seed(0);
  for (const char* name : {"b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7"}) {
    INFO(name);
    EfficientNet model(official(name));
    CHECK(count_module_params(*model) == count_params(model->spec));
  }
}

TEST_CASE("random specs build, run and match their analytic counts", "[models][efficientnet]") {
  std::mt19937 rng(1234);
  torch::manual_seed(1);
  for (int i = 0; i < 25; ++i) {
    const ArchSpec spec = effscale::testing::random_valid_spec(rng);
    INFO("spec " << i << ": first stage " << format_block_string(spec.stages[0]));
    EfficientNet model(spec);
    CHECK(count_module_params(*model) == count_params(spec));
    model->eval();
    torch::NoGradGuard no_grad;
    const int64_t h = spec.resolution, w = spec.resolution + 3;
    torch::Tensor logits = model->forward(torch::randn({2, spec.in_channels, h, w}));
    CHECK(logits.sizes() == torch::IntArrayRef({2, spec.num_classes}));
    CHECK(torch::isfinite(logits).all().item<bool>());
  }
}

TEST_CASE("B0 follows timm's parameter names and torchvision's tensor count", "[models][efficientnet]") {
  EfficientNet model(official("b0"));
  std::set<std::string> names;
  for (const auto& p : model->named_parameters()) names.insert(p.key());
  for (const char* expected :
       {"conv_stem.weight", "bn1.weight", "blocks.0.0.conv_dw.weight", "blocks.0.0.bn1.weight",
        "blocks.0.0.se.conv_reduce.weight", "blocks.0.0.se.conv_reduce.bias", "blocks.0.0.conv_pw.weight",
        "blocks.0.0.bn2.bias", "blocks.1.0.conv_pw.weight", "blocks.1.0.bn1.weight", "blocks.1.0.conv_dw.weight",
        "blocks.1.0.bn2.weight", "blocks.1.0.se.conv_expand.bias", "blocks.1.0.conv_pwl.weight",
        "blocks.1.0.bn3.weight", "blocks.5.3.conv_pwl.weight", "blocks.6.0.bn3.bias", "conv_head.weight",
        "bn2.weight", "classifier.weight", "classifier.bias"}) {
    INFO(expected);
    CHECK(names.count(expected) == 1);
  }
  // docs/weights.md: torchvision's B0 state dict holds 360 tensors (parameters and BN buffers).
  CHECK(model->named_parameters().size() + model->named_buffers().size() == 360);
}

TEST_CASE("both padding conventions give ceil(n / stride) outputs", "[models][conv2d_pad]") {
  for (Padding padding : {Padding::Symmetric, Padding::TfSame}) {
    for (int64_t size : {7, 8, 15, 16}) {
      Conv2dPad conv(Conv2dPadOptions(2, 3, 5).stride({2, 1}).padding(padding));
      torch::Tensor y = conv->forward(torch::randn({1, 2, size, size}));
      CHECK(y.sizes() == torch::IntArrayRef({1, 3, (size + 1) / 2, size}));
    }
  }
}

TEST_CASE("TF 'same' padding puts the extra row and column bottom-right", "[models][conv2d_pad]") {
  torch::manual_seed(3);
  Conv2dPad conv(Conv2dPadOptions(1, 1, 3).stride({2, 2}).padding(Padding::TfSame));
  torch::Tensor x = torch::randn({1, 1, 8, 8});
  // 8 -> out 4 needs total pad (4 - 1) * 2 + 3 - 8 = 1: none on top/left, one on bottom/right.
  torch::Tensor expected =
      torch::conv2d(torch::constant_pad_nd(x, {0, 1, 0, 1}, 0.0), conv->weight, {}, {2, 2});
  CHECK(torch::allclose(conv->forward(x), expected));
  Conv2dPad symmetric(Conv2dPadOptions(1, 1, 3).stride({2, 2}));
  symmetric->weight.data().copy_(conv->weight.data());
  CHECK_FALSE(torch::allclose(symmetric->forward(x), expected));
}

TEST_CASE("drop-connect drops whole samples in training only", "[models][mbconv]") {
  at::Generator generator = make_cpu_generator(4);
  torch::Tensor x = torch::ones({4000, 2, 1, 1});
  CHECK(torch::equal(drop_connect(x, 0.3, /*training=*/false, generator), x));
  CHECK(torch::equal(drop_connect(x, 0.0, /*training=*/true, generator), x));
  torch::Tensor y = drop_connect(x, 0.3, /*training=*/true, generator);
  torch::Tensor kept = (y.select(1, 0) != 0).to(torch::kFloat);
  CHECK(kept.mean().item<double>() == Approx(0.7).margin(0.03));
  CHECK(torch::equal(y.select(1, 0), y.select(1, 1)));  // per sample, not per element
  CHECK(y.max().item<double>() == Approx(1.0 / 0.7));
}

TEST_CASE("a seeded model's weights and masks do not depend on other threads", "[models][efficientnet]") {
  ArchSpec spec = official("b0");
  spec.width_mult = spec.depth_mult = 0.25;
  spec.num_classes = 3;
  const torch::Tensor x = torch::randn({6, 3, 32, 32});
  // Weights and one training forward (dropout and drop-connect on) of a model built with seed 7.
  auto run = [&] {
    EfficientNet model(spec, 7);
    model->train();
    return std::make_pair(model->conv_stem->weight.clone(), model->forward(x).detach());
  };
  const auto alone = run();
  // The same while other threads build models and draw from the global generator.
  std::vector<std::thread> others;
  std::vector<std::pair<torch::Tensor, torch::Tensor>> results(3);
  std::atomic<bool> stop{false};
  std::thread noise([&] {
    while (!stop) torch::randn({64});
  });
  for (auto& r : results) others.emplace_back([&r, &run] { r = run(); });
  for (auto& t : others) t.join();
  stop = true;
  noise.join();
  for (const auto& [weights, logits] : results) {
    CHECK(torch::equal(weights, alone.first));
    CHECK(torch::equal(logits, alone.second));
  }
  // Without a seed, torch::manual_seed decides the weights; another seed gives others.
  torch::manual_seed(1);
  const torch::Tensor a = EfficientNet(spec)->conv_stem->weight.clone();
  torch::manual_seed(1);
  CHECK(torch::equal(EfficientNet(spec)->conv_stem->weight, a));
  CHECK_FALSE(torch::equal(EfficientNet(spec, 8)->conv_stem->weight, alone.first));
  // A clone draws its own masks from the same starting point: its first forward equals the original's.
  EfficientNet original(spec, 7);
  original->train();
  auto copy = std::dynamic_pointer_cast<EfficientNetImpl>(original->clone());
  CHECK(torch::equal(copy->forward(x), original->forward(x)));
}

TEST_CASE("drop-connect rates follow the per-block schedule", "[models][efficientnet]") {
  EfficientNet model(official("b0"));
  REQUIRE(model->layers().size() == 16);
  for (size_t i = 0; i < model->layers().size(); ++i)
    CHECK(model->layers()[i]->plan.drop_connect_rate == Approx(0.2 * i / 16.0));
  CHECK_FALSE(model->layers()[0]->plan.residual);  // 32 -> 16 channels
  CHECK(model->layers()[2]->plan.residual);        // second layer of stage 1: stride 1, 24 -> 24
}

TEST_CASE("weights start from the TF reference initialisation", "[models][efficientnet]") {
  torch::manual_seed(5);
  EfficientNet model(official("b0"));
  // conv_head: 1x1, 1280 outputs -> std sqrt(2 / 1280).
  CHECK(model->conv_head->weight.std().item<double>() == Approx(std::sqrt(2.0 / 1280)).epsilon(0.02));
  // Depthwise: fan_out = k * k * out / groups = 9 for the first layer.
  CHECK(model->layers()[0]->depthwise_conv->weight.std().item<double>() == Approx(std::sqrt(2.0 / 9)).epsilon(0.1));
  const double bound = 1.0 / std::sqrt(1000.0);
  CHECK(model->classifier->weight.abs().max().item<double>() <= bound);
  CHECK(model->classifier->bias.abs().max().item<double>() == 0.0);
  CHECK(model->bn2->weight.min().item<double>() == 1.0);
}

TEST_CASE("zero-init residual: every block with a shortcut starts as its shortcut, the others unchanged",
          "[models][efficientnet]") {
  ArchSpec spec = official("b0");
  spec.width_mult = 0.25;
  spec.num_classes = 3;
  EfficientNet model(spec, /*seed=*/3);
  // B0's 16 blocks in 7 stages: the first block of each stage changes shape and the other 9 are residual; at width
  // 0.25 the first block of stage 2 (32 -> 16 filters, stride 1) keeps its 8 channels and is residual too.
  CHECK(model->zero_init_residual_branches() == 10);
  model->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({2, 3, 32, 32});
  x = swish(batch_norm_forward(*model->bn1, model->conv_stem->forward(x)));
  int identities = 0;
  for (MBConv block : model->layers()) {
    const torch::Tensor y = block->forward(x);
    if (block->plan.residual) {
      CHECK(torch::equal(y, x));
      CHECK(block->project_bn->weight.abs().max().item<double>() == 0.0);
      ++identities;
    } else {
      CHECK(block->project_bn->weight.min().item<double>() == 1.0);
      CHECK(y.abs().max().item<double>() > 0.0);
    }
    x = y;
  }
  CHECK(identities == 10);
}

TEST_CASE("a tiny model trains: finite loss, every parameter gets a gradient", "[models][efficientnet]") {
  torch::manual_seed(6);
  ArchSpec spec = official("b0");
  spec.width_mult = 0.25;
  spec.depth_mult = 0.5;
  spec.num_classes = 3;
  spec.drop_connect = GENERATE(0.0, 0.2);  // with and without stochastic depth on the residual path
  EfficientNet model(spec);
  model->train();
  torch::Tensor x = torch::randn({4, 3, 32, 32});
  torch::Tensor y = torch::tensor({0, 1, 2, 1}, torch::kLong);
  torch::Tensor loss = torch::nn::functional::cross_entropy(model->forward(x), y);
  REQUIRE(std::isfinite(loss.item<double>()));
  loss.backward();
  for (const auto& p : model->named_parameters()) {
    INFO(p.key());
    REQUIRE(p.value().grad().defined());
    CHECK(torch::isfinite(p.value().grad()).all().item<bool>());
  }
}

TEST_CASE("clone copies an EfficientNet with its weights", "[models][efficientnet]") {
  ArchSpec spec = official("b0");
  spec.width_mult = 0.25;
  spec.num_classes = 2;
  EfficientNet model(spec);
  model->eval();
  auto copy = std::dynamic_pointer_cast<EfficientNetImpl>(model->clone());
  REQUIRE(copy);
  copy->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({1, 3, 40, 40});
  CHECK(torch::allclose(model->forward(x), copy->forward(x)));
  CHECK(copy->layers().size() == model->layers().size());
}

TEST_CASE("an invalid spec is rejected when the module is built", "[models][efficientnet]") {
  ArchSpec spec = official("b0");
  spec.stages[3].input_filters = 41;
  CHECK_THROWS_AS(EfficientNet(spec), SpecError);
}

namespace {

// B0's stem and classifier around two given stages and a 64-filter head: a small network of searched blocks.
ArchSpec two_stage_spec(const char* first, const char* second) {
  ArchSpec spec = official("b0");
  spec.stages = {parse_block_string(first), parse_block_string(second)};
  spec.head_filters = 64;
  return spec;
}

// Every parameter's shape by name.
std::map<std::string, std::vector<int64_t>> parameter_shapes(const EfficientNet& model) {
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& p : model->named_parameters()) shapes[p.key()] = p.value().sizes().vec();
  return shapes;
}

}  // namespace

TEST_CASE("fused blocks follow timm's EdgeResidual names and the analytic counts", "[models][mbconv]") {
  const ArchSpec spec = two_stage_spec("r1_k3_s11_e1_i32_o16_c1", "r2_k5_s22_e4_i16_o24_se0.25_c1_poolskip");
  EfficientNet model(spec);
  std::map<std::string, std::vector<int64_t>> shapes = parameter_shapes(model);
  CHECK(shapes["blocks.0.0.conv_exp.weight"] == std::vector<int64_t>{32, 32, 3, 3});
  CHECK(shapes["blocks.0.0.conv_pwl.weight"] == std::vector<int64_t>{16, 32, 1, 1});
  CHECK(shapes["blocks.1.0.conv_exp.weight"] == std::vector<int64_t>{64, 16, 5, 5});
  CHECK(shapes["blocks.1.0.se.conv_reduce.weight"] == std::vector<int64_t>{4, 64, 1, 1});
  CHECK(shapes["blocks.1.0.bn2.weight"] == std::vector<int64_t>{24});
  CHECK(shapes.count("blocks.1.0.conv_dw.weight") == 0);
  CHECK(count_module_params(*model) == count_params(spec));
  // MACs by hand at 32 px: stem 16x16x(3*9*32); block 0 at 16x16: 3x3 conv 32->32, 1x1 32->16; block 1.0 strides
  // to 8x8: 5x5 conv 16->64, SE 2*64*4, 1x1 64->24; block 1.1 at 8x8: 5x5 24->96, SE 2*96*6, 1x1 96->24; head
  // 8x8 24->64; classifier 64*1000.
  const int64_t expected = 256 * 27 * 32 + 256 * (32 * 32 * 9 + 32 * 16) + 64 * (16 * 64 * 25 + 64 * 24) + 2 * 64 * 4 +
                           64 * (24 * 96 * 25 + 96 * 24) + 2 * 96 * 6 + 64 * 24 * 64 + 64 * 1000;
  CHECK(count_macs(spec, 32) == expected);
  model->eval();
  torch::NoGradGuard no_grad;
  CHECK(model->forward(torch::randn({2, 3, 32, 32})).sizes() == std::vector<int64_t>{2, 1000});
}

TEST_CASE("plain blocks (c2) are one regular conv from input to output: names and counts by hand", "[models][mbconv]") {
  const ArchSpec spec = two_stage_spec("r1_k3_s11_e1_i32_o16_c2", "r2_k5_s22_e1_i16_o24_se0.25_c2_poolskip");
  EfficientNet model(spec);
  std::map<std::string, std::vector<int64_t>> shapes = parameter_shapes(model);
  CHECK(shapes["blocks.0.0.conv.weight"] == std::vector<int64_t>{16, 32, 3, 3});
  CHECK(shapes["blocks.0.0.bn1.weight"] == std::vector<int64_t>{16});
  CHECK(shapes["blocks.1.0.conv.weight"] == std::vector<int64_t>{24, 16, 5, 5});
  CHECK(shapes["blocks.1.0.se.conv_reduce.weight"] == std::vector<int64_t>{4, 24, 1, 1});  // squeeze: 0.25 of the input
  CHECK(shapes["blocks.1.1.conv.weight"] == std::vector<int64_t>{24, 24, 5, 5});
  for (const auto& [name, shape] : shapes) {
    if (name.rfind("blocks.", 0) != 0) continue;  // the stem and head keep their bn1 / bn2
    INFO(name);
    CHECK(name.find("conv_pw") == std::string::npos);  // no projection, no expansion
    CHECK(name.find("bn2") == std::string::npos);
  }
  // Parameters by hand: stem 3*9*32 + 2*32; block 0: 32*16*9 + 2*16; block 1.0: 16*24*25 + 2*24, SE 2*24*4 + 4 + 24;
  // block 1.1: 24*24*25 + 2*24, SE 2*24*6 + 6 + 24; head 24*64 + 2*64; classifier 65*1000.
  const int64_t params = 3 * 9 * 32 + 64 + 32 * 16 * 9 + 32 + 16 * 24 * 25 + 48 + 2 * 24 * 4 + 28 + 24 * 24 * 25 + 48 +
                         2 * 24 * 6 + 30 + 24 * 64 + 128 + 65 * 1000;
  CHECK(count_params(spec) == params);
  CHECK(count_module_params(*model) == params);
  // MACs at 32 px: stem 16x16x(3*9*32); block 0 at 16x16: 3x3 32->16; block 1.0 at 8x8: 5x5 16->24, SE 2*24*4;
  // block 1.1: 5x5 24->24, SE 2*24*6; head 8x8 24->64; classifier 64*1000.
  const int64_t macs = 256 * 27 * 32 + 256 * 32 * 16 * 9 + 64 * 16 * 24 * 25 + 2 * 24 * 4 + 64 * 24 * 24 * 25 + 2 * 24 * 6 +
                       64 * 24 * 64 + 64 * 1000;
  CHECK(count_macs(spec, 32) == macs);
  model->eval();
  torch::NoGradGuard no_grad;
  CHECK(model->forward(torch::randn({2, 3, 32, 32})).sizes() == std::vector<int64_t>{2, 1000});
}

TEST_CASE("the pooling shortcut averages by the stride and pads or cuts channels", "[models][mbconv]") {
  const torch::Tensor x = torch::arange(1, 10, torch::kFloat).reshape({1, 1, 3, 3}).repeat({1, 2, 1, 1});
  const torch::Tensor padded = pool_shortcut(x, {2, 2}, 3);
  REQUIRE(padded.sizes() == std::vector<int64_t>{1, 3, 2, 2});
  // ceil-mode windows of an odd size; the padding is not counted in the average
  CHECK(torch::allclose(padded[0][0], torch::tensor({{3.0f, 4.5f}, {7.5f, 9.0f}})));
  CHECK(torch::equal(padded[0][2], torch::zeros({2, 2})));
  CHECK(pool_shortcut(x, {1, 1}, 1).sizes() == std::vector<int64_t>{1, 1, 3, 3});

  // A block whose branch is zero passes the shortcut through.
  LayerPlan plan;
  plan.input_filters = 2;
  plan.output_filters = 3;
  plan.expanded_filters = 4;
  plan.expand_ratio = 2;
  plan.strides = {2, 2};
  plan.pool_shortcut = true;
  MBConv block(plan, BatchNormConfig{}, Padding::Symmetric);
  block->eval();
  torch::NoGradGuard no_grad;
  block->project_conv->weight.zero_();
  CHECK(torch::allclose(block->forward(x), padded));
}

TEST_CASE("a spec too large to build is refused by name before anything is allocated", "[models][efficientnet]") {
  ArchSpec spec = official("b0");
  spec.name = "absurd";
  spec.stages = {parse_block_string("r1000_k3_s11_e64_i32_o65536")};
  CHECK_THROWS_AS(EfficientNet(spec), SpecError);
  CHECK_THROWS_WITH(EfficientNet(spec), Catch::Contains("spec 'absurd'") && Catch::Contains("parameters, more than the 4294967296"));
}

TEST_CASE("set_layout gives a grey model's every weight and activation channels_last strides, values unchanged",
          "[models][efficientnet][layout]") {
  // A grey input, the depthwise weights [C, 1, k, k] and the 1x1 weights [O, I, 1, 1] are contiguous in both layouts
  // at once; t.contiguous(ChannelsLast) keeps their NCHW strides, and oneDNN then ran them in NCHW (5x slower).
  EfficientNet model(effscale::testing::grey_proxy_b0(0.25, 0.25), /*seed=*/3);
  model->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({4, 1, 28, 28});
  const torch::Tensor before = model->forward(x);
  model->set_layout(torch::MemoryFormat::ChannelsLast);
  for (const auto& p : model->named_parameters()) {
    if (p.value().dim() != 4) continue;
    INFO(p.key() << " " << p.value().sizes() << " strides " << p.value().strides());
    CHECK(p.value().strides() == torch::empty_like(p.value(), p.value().options(), torch::MemoryFormat::ChannelsLast).strides());
    CHECK(p.value().stride(1) == 1);  // channels innermost, as channels_last is
  }
  const torch::Tensor features = model->forward_features(x);
  CHECK(features.stride(1) == 1);
  CHECK(torch::allclose(model->forward(x), before, 1e-5, 1e-6));
  // in_layout copies only when the strides differ.
  const torch::Tensor cl = in_layout(torch::randn({2, 3, 4, 4}), torch::MemoryFormat::ChannelsLast);
  CHECK(in_layout(cl, torch::MemoryFormat::ChannelsLast).data_ptr() == cl.data_ptr());
  CHECK(in_layout(cl, torch::MemoryFormat::Contiguous).is_contiguous());
  CHECK(torch::equal(in_layout(cl, torch::MemoryFormat::Contiguous), cl));
}
