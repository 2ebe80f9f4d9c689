// The Python package (python/effscale) against predict: a spec.json and weights.pth load into a PyTorch
// module whose logits equal predict's to 1e-4, which scripts and exports to ONNX (checked by python3-onnx).
// Weights go both ways: made by the Python module and read by predict, and trained by train_model.

#include <catch2/catch.hpp>

#include <filesystem>

#include "dataset_files.h"
#include "run_command.h"
#include "temp_dir.h"

using namespace effscale::testing;

namespace {

const std::string kPython = "PYTHONPATH=" + shell_quote(std::string(EFFSCALE_SOURCE_ROOT) + "/python") + " /usr/bin/python3 " +
                            shell_quote(std::string(EFFSCALE_SOURCE_ROOT) + "/tests/peers/python_package_check.py");

// predict's logits of DIR/x.pt, then the Python side's comparison; returns its line.
std::string predict_then_compare(const std::string& dir) {
  const auto predicted = run_command(std::string(EFFSCALE_PREDICT) + " --threads 1 --model " + shell_quote(dir + "/spec.json") +
                                     " --weights " + shell_quote(dir + "/weights.pth") + " --input " + shell_quote(dir + "/x.pt") +
                                     " --output " + shell_quote(dir + "/logits.pt"));
  INFO(predicted.err);
  REQUIRE(predicted.exit_status == 0);
  const auto compared = run_command(kPython + " compare " + shell_quote(dir));
  INFO(compared.out << compared.err);
  CHECK(compared.exit_status == 0);
  return compared.out;
}

const char* const kB0Stages =
    R"(["r1_k3_s11_e1_i32_o16_se0.25", "r2_k3_s22_e6_i16_o24_se0.25", "r2_k5_s22_e6_i24_o40_se0.25",
        "r3_k3_s22_e6_i40_o80_se0.25", "r3_k5_s11_e6_i80_o112_se0.25", "r4_k5_s22_e6_i112_o192_se0.25",
        "r1_k3_s11_e6_i192_o320_se0.25"])";

}  // namespace

TEST_CASE("Python loads B0 and a searched spec as predict runs them, scripts and exports them", "[apps][python]") {
  TempDir dir;
  struct Case {
    std::string name, spec;
    int resolution;
  };
  const Case cases[] = {
      {"b0-64", std::string(R"({"name": "b0", "stages": )") + kB0Stages + "}", 64},
      {"b0-97-tf", std::string(R"({"name": "b0", "padding": "tf_same", "stages": )") + kB0Stages + "}", 97},
      {"searched", R"({"name": "searched", "num_classes": 10, "in_channels": 1, "head_filters": 64, "padding": "tf_same",
          "stages": ["r1_k3_s11_e1_i32_o16_c1", "r2_k5_s22_e4_i16_o24_se0.25_c1_poolskip",
                     "r1_k3_s22_e6_i24_o40_poolskip", "r2_k7_s11_e3_i40_o40_noskip", "r2_k3_s21_e1_i40_o48_se0.25_c2_poolskip",
                     "r1_k5_s11_e1_i48_o48_c2"]})", 45},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const std::string folder = dir.file(c.name);
    std::filesystem::create_directories(folder);
    const auto made = run_command(kPython + " make " + shell_quote(folder) + " " + shell_quote(c.spec) + " " +
                                  std::to_string(c.resolution));
    INFO(made.err);
    REQUIRE(made.exit_status == 0);
    CHECK(predict_then_compare(folder).rfind("ok ", 0) == 0);
  }
}

TEST_CASE("a run train_model trained loads in Python with predict's logits", "[apps][python]") {
  TempDir dir;
  const std::string data = write_mnist_folder(dir.file("mnist"), 160, 40, true, true), run = dir.file("run");
  const auto trained = run_command(std::string(EFFSCALE_TRAIN_MODEL) + " --model b0 --width-mult 0.25 --depth-mult 0.25" +
                                   " --resolution 16 --in-channels 1 --dataset mnist --data-dir " + shell_quote(data) +
                                   " --epochs 1 --batch-size 16 --threads 1 --output-dir " + shell_quote(run));
  INFO(trained.err);
  REQUIRE(trained.exit_status == 0);
  const auto input = run_command("/usr/bin/python3 -c " +
                                 shell_quote("import sys, torch; torch.manual_seed(2); torch.save(torch.randn(3, 1, 16, 16), sys.argv[1])") +
                                 " " + shell_quote(run + "/x.pt"));
  REQUIRE(input.exit_status == 0);
  CHECK(predict_then_compare(run).rfind("ok ", 0) == 0);
}
