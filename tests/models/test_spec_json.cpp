// ArchSpec JSON: exact round trips, strict reading with errors that name the field, atomic files.

#include <catch2/catch.hpp>

#include <filesystem>

#include "effscale/models/counts.h"
#include "effscale/models/official.h"
#include "effscale/models/spec_error.h"
#include "effscale/models/spec_json.h"
#include "temp_dir.h"

using namespace effscale::models;
using effscale::testing::TempDir;

namespace {

ArchSpec unusual_spec() {
  ArchSpec s;
  s.name = "tiny-tf";
  s.stem_filters = 8;
  s.head_filters = 24;
  s.stages = {parse_block_string("r1_k3_s11_e1_i8_o8_noskip"), parse_block_string("r2_k5_s21_e3_i8_o16_se0.125")};
  s.width_mult = 0.77;
  s.depth_mult = 1.3;
  s.depth_divisor = 4;
  s.resolution = 33;
  s.dropout = 0.15;
  s.drop_connect = 0.1;
  s.num_classes = 7;
  s.in_channels = 1;
  s.bn = {1e-5, 0.1};
  s.padding = Padding::TfSame;
  return s;
}

}  // namespace

TEST_CASE("specs round trip through JSON exactly", "[models][spec_json]") {
  for (const std::string& name : official_names()) {
    INFO(name);
    const ArchSpec spec = official(name);
    CHECK(spec_from_json(spec_to_json(spec)) == spec);
  }
  CHECK(spec_from_json(spec_to_json(unusual_spec())) == unusual_spec());
}

TEST_CASE("missing fields take ArchSpec defaults", "[models][spec_json]") {
  const ArchSpec s = spec_from_json(R"({"stages": ["r1_k3_s11_e1_i32_o16_se0.25"]})");
  CHECK(s.resolution == 224);
  CHECK(s.padding == Padding::Symmetric);
  CHECK(s.stages.size() == 1);
}

TEST_CASE("bad spec JSON names the source and the field", "[models][spec_json]") {
  struct Case {
    const char* json;
    const char* message;
  };
  const Case cases[] = {
      {"{\"stages\": [", "x.json: not valid JSON"},
      {"[1, 2]", "x.json: expected a JSON object"},
      {R"({"stages": ["r1_k3_s11_e1_i32_o16"], "widht_mult": 2})", "x.json: unknown field 'widht_mult'"},
      {R"({"stages": ["r1_k3_s11_e1_i32_o16"], "resolution": "big"})", "field 'resolution' must be an integer"},
      {R"({"stages": ["r1_k3_s11_e1_i32_o16"], "width_mult": "1.0"})", "field 'width_mult' must be a number"},
      {R"({"stages": ["r1_k3_s2_e1_i32_o16"]})", "x.json: block string 'r1_k3_s2_e1_i32_o16': token 's2'"},
      {R"({"stages": "r1_k3_s11_e1_i32_o16"})", "field 'stages' must be an array"},
      {R"({"stages": []})", "'stages' must list at least one block string"},
      {R"({"stages": ["r1_k3_s11_e1_i16_o16"]})", "must equal the previous output, 32 (the stem filters)"},
      {R"({"stages": ["r1_k3_s11_e1_i32_o16", "r1_k3_s11_e1_i24_o16"]})", "stage 1"},
      {R"({"stages": ["r1_k3_s11_e1_i32_o16"], "padding": "valid"})", "padding 'valid'"},
      {R"({"stages": ["r1_k3_s11_e1_i32_o16"], "dropout": 1.5})", "'dropout' must be in [0, 1)"},
      {R"({"stages": ["r1_k3_s11_e1_i32_o16"], "num_classes": 0})", "'num_classes' must be from 1 to 1000000"},
      {" 1E1114", "x.json: not valid JSON"},  // a number past a double (found by fuzz_spec_json: exit 1 before)
      {R"({"stages": ["r1_k3_s11_e1_i32_o16"], "dropout": 1e999})", "x.json: not valid JSON"},
  };
  for (const Case& c : cases) {
    INFO(c.json);
    CHECK_THROWS_AS(spec_from_json(c.json, "x.json"), SpecError);
    CHECK_THROWS_WITH(spec_from_json(c.json, "x.json"), Catch::Contains(c.message));
  }
}

TEST_CASE("spec files are written atomically and read back", "[models][spec_json]") {
  TempDir dir;
  const std::string path = dir.file("spec.json");
  write_spec_file(path, unusual_spec());
  CHECK(read_spec_file(path) == unusual_spec());
  CHECK(spec_from_name_or_file(path) == unusual_spec());
  CHECK(spec_from_name_or_file("b3") == official("b3"));
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) files += entry.is_regular_file();
  CHECK(files == 1);  // no temporary left behind
}

TEST_CASE("unwritable and unreadable spec paths fail with the path", "[models][spec_json]") {
  TempDir dir;
  const std::string missing_dir = dir.file("no/such/dir/spec.json");
  CHECK_THROWS_WITH(write_spec_file(missing_dir, official("b0")), Catch::Contains(missing_dir));
  CHECK_FALSE(std::filesystem::exists(dir.file("no")));
  CHECK_THROWS_AS(read_spec_file(dir.file("absent.json")), SpecError);
  CHECK_THROWS_WITH(read_spec_file(dir.path().string()), Catch::Contains("is a directory"));
  CHECK_THROWS_WITH(spec_from_name_or_file("b9.json"), Catch::Contains("unknown model 'b9.json'"));
  const std::string junk = dir.write("junk.json", "\x01\x02 not json");
  CHECK_THROWS_WITH(read_spec_file(junk), Catch::Contains(junk) && Catch::Contains("not valid JSON"));
}

TEST_CASE("model names include the reference networks beside the official ones", "[models][spec_json][reference]") {
  const ArchSpec mobilenet = spec_from_name_or_file("mobilenetv2");
  CHECK(mobilenet.name == "mobilenetv2");
  REQUIRE(mobilenet.stages.size() == 7);
  // torchvision's mobilenet_v2 has 3,504,872 parameters: the same blocks, stem 32, head 1280, 1000 classes.
  CHECK(count_params(mobilenet) == 3504872);
  CHECK(spec_from_name_or_file("MnasNet_A1").name == "mnasnet-a1");
  CHECK(spec_from_name_or_file("b3").name == "b3");
  try {
    spec_from_name_or_file("resnet50");
    FAIL("expected SpecError");
  } catch (const SpecError& e) {
    CHECK(std::string(e.what()) ==
          "unknown model 'resnet50': expected one of b0, b1, b2, b3, b4, b5, b6, b7, b8, l2, mobilenetv2, mnasnet-a1, "
          "or a spec .json file");
  }
}
