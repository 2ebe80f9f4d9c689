// model_info, run as users run it: output formats, overrides, and bad input (one line, exit 2).

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "run_command.h"
#include "temp_dir.h"

using effscale::testing::run_command;
using effscale::testing::shell_quote;

namespace {

effscale::testing::CommandResult model_info(const std::string& args) {
  return run_command(std::string(EFFSCALE_MODEL_INFO) + " " + args);
}

}  // namespace

TEST_CASE("model_info --format json gives model, resolution, params and integer macs", "[apps][model_info]") {
  const auto r = model_info("--model b0 --format json");
  REQUIRE(r.exit_status == 0);
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["model"] == "b0");
  CHECK(doc["resolution"] == 224);
  CHECK(doc["params"] == 5288548);
  CHECK(doc["macs"].is_number_integer());
  CHECK(doc["macs"].get<double>() == Approx(0.386e9).epsilon(0.005));
  CHECK(doc["repeats"] == nlohmann::json({1, 2, 2, 3, 3, 4, 1}));
  CHECK(doc["channels"] == nlohmann::json({32, 16, 24, 40, 80, 112, 192, 320, 1280}));
}

TEST_CASE("model_info overrides resolution, classes, width and depth", "[apps][model_info]") {
  const auto base = nlohmann::json::parse(model_info("--model b0 --format json").out);
  const auto r = model_info("--model b0 --resolution 112 --num-classes 10 --width 0.5 --depth 2 --format json");
  REQUIRE(r.exit_status == 0);
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["resolution"] == 112);
  CHECK(doc["params"] < base["params"]);
  CHECK(doc["repeats"] == nlohmann::json({2, 4, 4, 6, 6, 8, 2}));
}

TEST_CASE("model_info --all lists B0-B7, B8 and L2 in every format", "[apps][model_info]") {
  const auto csv = model_info("--all --format csv");
  REQUIRE(csv.exit_status == 0);
  CHECK(std::count(csv.out.begin(), csv.out.end(), '\n') == 11);
  CHECK(csv.out.rfind("model,resolution,width_mult,depth_mult,params,macs,repeats,channels\n", 0) == 0);
  CHECK(csv.out.find("b7,600,2.0,3.1,66347960,") != std::string::npos);
  const auto json = nlohmann::json::parse(model_info("--all --format json").out);
  REQUIRE(json.size() == 10);
  CHECK(json[9]["model"] == "l2");
  CHECK(json[9]["params"] == 480309308);
  const auto table = model_info("--all");
  REQUIRE(table.exit_status == 0);
  CHECK(table.out.find("66347960") != std::string::npos);
}

TEST_CASE("model_info reads a spec file", "[apps][model_info]") {
  effscale::testing::TempDir dir;
  const std::string path = dir.write("tiny.json", R"({"name": "tiny", "stages": ["r1_k3_s11_e1_i32_o16_se0.25"],
      "num_classes": 10})");
  const auto r = model_info("--model " + shell_quote(path) + " --format json");
  REQUIRE(r.exit_status == 0);
  CHECK(nlohmann::json::parse(r.out)["model"] == "tiny");
}

TEST_CASE("model_info rejects bad input with one line and exit status 2", "[apps][model_info]") {
  effscale::testing::TempDir dir;
  const std::string bad = dir.write("bad.json", R"({"stages": ["r1_k3_s2_e1_i32_o16"]})");
  const std::string fifo = dir.file("options.fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);  // opening it for reading would block until a writer comes
  struct Case {
    std::string args;
    const char* message;
  };
  const Case cases[] = {
      {"--model b9", "unknown model 'b9'"},
      {"--model " + shell_quote(bad), "token 's2'"},
      {"--model b0 --resolution 0", "'resolution' must be from 8 to 8192"},
      {"--model b0 --width -1", "'width_mult' must be in (0, 64]"},
      {"--model b0 --format xml", "--format 'xml'"},
      {"--model b0 --bogus", "unrecognised option '--bogus'"},
      {"--model b0 --resolution big", "resolution"},
      {"", "give exactly one of --model or --all"},
      {"--all --resolution 300", "apply to --model"},
      {"--model b0 --config " + shell_quote(dir.file("missing.ini")), "--config: cannot read"},
      {"--model b0 --config " + shell_quote(dir.file("")), "it is a directory"},
      {"--model b0 --config " + shell_quote(fifo), "not a regular file"},
      {"--model " + shell_quote(fifo), "not a regular file"},
  };
  for (const Case& c : cases) {
    INFO(c.args);
    const auto r = model_info(c.args);
    CHECK(r.exit_status == 2);
    CHECK(r.out.empty());
    CHECK_THAT(r.err, Catch::StartsWith("model_info: error: ") && Catch::Contains(c.message));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
}

TEST_CASE("model_info takes options from an INI file, flags win", "[apps][model_info]") {
  effscale::testing::TempDir dir;
  const std::string ini = dir.write("opts.ini", "model = b1\nformat = json\nresolution = 128\n");
  const auto r = model_info("--config " + shell_quote(ini) + " --resolution 96");
  REQUIRE(r.exit_status == 0);
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["model"] == "b1");
  CHECK(doc["resolution"] == 96);
  CHECK(model_info("--help").exit_status == 0);
}

TEST_CASE("A config's section named after a command serves that command alone and wins over the shared keys",
          "[apps][model_info]") {
  effscale::testing::TempDir dir;
  // Before sections per command, every key below a [header] read as "header.key": unknown to every command, exit 2.
  const std::string ini = dir.write("preset.ini",
                                    "format = json\nresolution = 128\n"
                                    "[grid_alpha_beta_gamma]\nseeds = 2\n"
                                    "[model_info]\nmodel = b1\nresolution = 160\n"
                                    "[train_model]\nmodel = no-such-model\n");
  const auto r = model_info("--config " + shell_quote(ini));
  INFO(r.err);
  REQUIRE(r.exit_status == 0);
  const auto doc = nlohmann::json::parse(r.out);
  CHECK(doc["model"] == "b1");
  CHECK(doc["resolution"] == 160);
  CHECK(nlohmann::json::parse(model_info("--config " + shell_quote(ini) + " --resolution 96").out)["resolution"] == 96);
  // Another section's header is not a command's: its keys stay "section.key", which model_info does not know.
  const std::string other = dir.write("other.ini", "[model_info]\nmodel = b0\n[proxy]\nresolution = 28\n");
  const auto refused = model_info("--config " + shell_quote(other));
  CHECK(refused.exit_status == 2);
  CHECK_THAT(refused.err, Catch::Contains("proxy.resolution"));
}
