// Golden tables: the official B0-B7 (B8, L2) family has the published repeats, channels, parameter
// counts and multiply-adds (docs/specs.md), computed from the spec alone.

#include <catch2/catch.hpp>

#include <vector>

#include "effscale/models/counts.h"
#include "effscale/models/official.h"
#include "effscale/models/spec_error.h"

using namespace effscale::models;

namespace {

std::vector<int> repeats_of(const ArchSpec& spec) {
  std::vector<int> repeats;
  for (const BlockArgs& b : realized_stages(spec)) repeats.push_back(b.num_repeat);
  return repeats;
}

}  // namespace

TEST_CASE("official stage repeats, stem and head match the published table", "[models][official]") {
  struct Row {
    const char* name;
    std::vector<int> repeats;
    int stem, head, resolution;
    double dropout;
  };
  const Row rows[] = {
      {"b0", {1, 2, 2, 3, 3, 4, 1}, 32, 1280, 224, 0.2},   {"b1", {2, 3, 3, 4, 4, 5, 2}, 32, 1280, 240, 0.2},
      {"b2", {2, 3, 3, 4, 4, 5, 2}, 32, 1408, 260, 0.3},   {"b3", {2, 3, 3, 5, 5, 6, 2}, 40, 1536, 300, 0.3},
      {"b4", {2, 4, 4, 6, 6, 8, 2}, 48, 1792, 380, 0.4},   {"b5", {3, 5, 5, 7, 7, 9, 3}, 48, 2048, 456, 0.4},
      {"b6", {3, 6, 6, 8, 8, 11, 3}, 56, 2304, 528, 0.5},  {"b7", {4, 7, 7, 10, 10, 13, 4}, 64, 2560, 600, 0.5},
  };
  for (const Row& r : rows) {
    INFO(r.name);
    const ArchSpec spec = official(r.name);
    CHECK(repeats_of(spec) == r.repeats);
    CHECK(realized_stem_filters(spec) == r.stem);
    CHECK(realized_head_filters(spec) == r.head);
    CHECK(spec.resolution == r.resolution);
    CHECK(spec.dropout == r.dropout);
  }
}

TEST_CASE("official parameter counts equal the reference exactly", "[models][official][counts]") {
  struct Row {
    const char* name;
    int64_t params;
  };
  const Row rows[] = {{"b0", 5288548},  {"b1", 7794184},  {"b2", 9109994},  {"b3", 12233232},
                      {"b4", 19341616}, {"b5", 30389784}, {"b6", 43040704}, {"b7", 66347960},
                      {"b8", 87413142}, {"l2", 480309308}};
  for (const Row& r : rows) {
    INFO(r.name);
    CHECK(count_params(official(r.name)) == r.params);
  }
}

TEST_CASE("official multiply-adds are within 0.5% of the reference", "[models][official][counts]") {
  struct Row {
    const char* name;
    int resolution;
    double gmacs;
  };
  const Row rows[] = {{"b0", 224, 0.386}, {"b1", 240, 0.687}, {"b2", 260, 0.994}, {"b2", 288, 1.088},
                      {"b3", 300, 1.827}, {"b4", 380, 4.394}, {"b5", 456, 10.266}, {"b6", 528, 19.068},
                      {"b7", 600, 37.746}};
  for (const Row& r : rows) {
    INFO(r.name << " at " << r.resolution);
    const double gmacs = count_macs(official(r.name), r.resolution) / 1e9;
    CHECK(gmacs == Approx(r.gmacs).epsilon(0.005));
  }
}

TEST_CASE("MACs default to the spec's resolution and grow with it", "[models][counts]") {
  const ArchSpec b0 = official("b0");
  CHECK(count_macs(b0) == count_macs(b0, 224));
  CHECK(count_macs(b0, 448) > 3 * count_macs(b0, 224));
}

TEST_CASE("counts of absurd but valid specs are refused by name instead of wrapping around", "[models][counts]") {
  ArchSpec huge = official("b7");
  huge.name = "huge";
  huge.width_mult = 64;
  huge.depth_mult = 64;
  huge.resolution = 8192;
  for (BlockArgs& stage : huge.stages) {
    stage.expand_ratio = kMaxExpandRatio;
    stage.num_repeat = kMaxRepeats;
  }
  CHECK_THROWS_WITH(count_macs(huge), Catch::Contains("spec 'huge': too large to count"));
  const int64_t params = count_params(huge);  // large, but it fits
  CHECK(params > (int64_t(1) << 40));
  CHECK(count_macs(official("b7")) > 0);
}

TEST_CASE("official names accept common spellings and reject others", "[models][official]") {
  CHECK(official("EfficientNet-B3").name == "b3");
  CHECK(official("efficientnet_b7").width_mult == 2.0);
  CHECK(official_names().size() == 10);
  CHECK_THROWS_WITH(official("b9"), Catch::Contains("unknown model 'b9'") && Catch::Contains("b0, b1"));
}
