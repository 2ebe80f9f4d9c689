// BlockArgs: tensorflow/tpu block strings parse, format and reject malformed input by name.

#include <catch2/catch.hpp>

#include "effscale/models/block_args.h"
#include "effscale/models/spec_error.h"

using namespace effscale::models;

TEST_CASE("B0 block strings round trip exactly", "[models][block_args]") {
  const char* strings[] = {"r1_k3_s11_e1_i32_o16_se0.25",  "r2_k3_s22_e6_i16_o24_se0.25",
                           "r2_k5_s22_e6_i24_o40_se0.25",  "r3_k3_s22_e6_i40_o80_se0.25",
                           "r3_k5_s11_e6_i80_o112_se0.25", "r4_k5_s22_e6_i112_o192_se0.25",
                           "r1_k3_s11_e6_i192_o320_se0.25", "r1_k3_s12_e3_i8_o8_noskip",
                           "r2_k5_s21_e1_i8_o16_se0.125_noskip", "r2_k3_s22_e1_i16_o24_c1_poolskip",
                           "r1_k5_s11_e4_i24_o24_se0.25_c1_noskip", "r3_k3_s22_e6_i40_o80_poolskip",
                           "r2_k5_s22_e1_i16_o24_se0.25_c2_poolskip"};
  for (const char* s : strings) {
    INFO(s);
    CHECK(format_block_string(parse_block_string(s)) == s);
  }
}

TEST_CASE("block string fields are decoded", "[models][block_args]") {
  const BlockArgs b = parse_block_string("r4_k5_s22_e6_i112_o192_se0.25");
  CHECK(b.num_repeat == 4);
  CHECK(b.kernel_size == 5);
  CHECK(b.strides == std::array<int, 2>{2, 2});
  CHECK(b.expand_ratio == 6);
  CHECK(b.input_filters == 112);
  CHECK(b.output_filters == 192);
  CHECK(b.se_ratio == 0.25);
  CHECK(b.id_skip);
  CHECK(b.strided());
}

TEST_CASE("conv type and pooling skip tokens are decoded", "[models][block_args]") {
  const BlockArgs b = parse_block_string("r2_k3_s22_e1_i16_o24_c1_poolskip");
  CHECK(b.conv_type == 1);
  CHECK(b.pool_skip);
  CHECK(b.id_skip);
  CHECK(parse_block_string("r2_k3_s22_e1_i16_o24_c0") == parse_block_string("r2_k3_s22_e1_i16_o24"));
}

TEST_CASE("tokens may come in any order and format canonically", "[models][block_args]") {
  const BlockArgs b = parse_block_string("noskip_o24_i16_se0.25_e6_s22_k3_r2");
  CHECK_FALSE(b.id_skip);
  CHECK(format_block_string(b) == "r2_k3_s22_e6_i16_o24_se0.25_noskip");
}

TEST_CASE("formatted block args parse back to the same value", "[models][block_args]") {
  BlockArgs b;
  b.num_repeat = 3;
  b.kernel_size = 7;
  b.strides = {2, 1};
  b.expand_ratio = 4;
  b.input_filters = 40;
  b.output_filters = 48;
  b.se_ratio = 0.1;
  b.id_skip = false;
  CHECK(parse_block_string(format_block_string(b)) == b);
}

TEST_CASE("malformed block strings name the token and what was expected", "[models][block_args]") {
  struct Case {
    const char* text;
    const char* message;
  };
  const Case cases[] = {
      {"r1_k3_s2_e1_i32_o16", "token 's2': expected two stride digits like s11 or s22"},
      {"r1_k0_s11_e1_i32_o16", "k must be an odd kernel size from 1 to 15, got 0"},
      {"r1_k4_s11_e1_i32_o16", "k must be an odd kernel size"},
      {"r1_k3_s11_e-1_i32_o16", "token 'e-1': expected an integer expand ratio like e6"},
      {"r1_k3_s11_e1_i32_o16_se1.5", "se must be a ratio in (0, 1]"},
      {"r1_k3_s11_e1_i32_o16_se0", "token 'se0'"},
      {"r1_k3_s11_e1_i32_o16_junk", "token 'junk': expected one of r, k, s, e, i, o, se, c followed by its value"},
      {"r1_k3_s11_e1_i32_o16_noskip_poolskip", "duplicate 'skip'"},
      {"r1_k3_s11_e1_i32_o16_c3", "token 'c3': expected a conv type: c0 (depthwise), c1 (fused: regular conv + projection) or c2 (one regular conv)"},
      {"r1_k3_s11_e6_i32_o16_c2", "c2 (one regular conv from input to output) has no expansion: e must be 1, got 6"},
      {"r1_k3_s11_e1_i32", "missing the required 'o' token"},
      {"r1_k3_s11_e1_i32_o16_k5", "duplicate 'k'"},
      {"r1__k3_s11_e1_i32_o16", "no empty token"},
      {"r0_k3_s11_e1_i32_o16", "r must be from 1 to 1000"},
      {"r2000000000_k3_s11_e1_i32_o16", "r must be from 1 to 1000, got 2000000000"},
      {"r1_k3_s11_e1000_i32_o16", "e must be from 1 to 64"},
      {"r1_k3_s11_e1_i32_o1000000000", "o must be from 1 to 65536"},
      {"r1_k3_s11_e1_i99999999_o16", "i must be from 1 to 65536"},
      {"r1_k3_s01_e1_i32_o16", "stride digits must be 1 to 9"},
      {"r1_kx_s11_e1_i32_o16", "token 'kx': expected a kernel size like k3"},
      {"", "no empty token"},
  };
  for (const Case& c : cases) {
    INFO(c.text);
    CHECK_THROWS_AS(parse_block_string(c.text), SpecError);
    CHECK_THROWS_WITH(parse_block_string(c.text), Catch::Contains(c.message) && Catch::Contains("block string"));
  }
}
