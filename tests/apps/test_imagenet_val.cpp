// scripts/imagenet-val-folders, run as users run it on a flat validation folder the test writes.

#include <catch2/catch.hpp>

#include <filesystem>

#include "run_command.h"
#include "temp_dir.h"

namespace fs = std::filesystem;
using effscale::testing::run_command;
using effscale::testing::shell_quote;

namespace {

effscale::testing::CommandResult sort_val(const fs::path& val, const std::string& labels) {
  return run_command(shell_quote(std::string(EFFSCALE_SOURCE_ROOT) + "/scripts/imagenet-val-folders") + " " +
                     shell_quote(val.string()) + " " + shell_quote(labels));
}

}  // namespace

TEST_CASE("imagenet-val-folders sorts a flat folder by Kaggle's CSV or FILE WNID lines, and resumes", "[apps][imagenet]") {
  effscale::testing::TempDir dir;
  const fs::path val = dir.path() / "val";
  fs::create_directories(val);
  for (int i = 1; i <= 4; ++i) dir.write("val/ILSVRC2012_val_0000000" + std::to_string(i) + ".JPEG", "x");
  const std::string csv = dir.write("loc.csv",
                                    "ImageId,PredictionString\n"
                                    "ILSVRC2012_val_00000001,n01751748 1 2 3 4\n"
                                    "ILSVRC2012_val_00000002,n09193705 1 2 3 4 n09193705 5 6 7 8\n");
  auto r = sort_val(val, csv);
  REQUIRE(r.exit_status == 0);
  CHECK(r.out == "imagenet-val-folders: moved 2, already sorted 0, classes 2, unlabelled left in place 2\n");
  CHECK(fs::is_regular_file(val / "n01751748/ILSVRC2012_val_00000001.JPEG"));
  CHECK(fs::is_regular_file(val / "n09193705/ILSVRC2012_val_00000002.JPEG"));

  // A second labels file covering the sorted images and the rest: only what is left moves.
  const std::string text = dir.write("labels.txt",
                                     "ILSVRC2012_val_00000001.JPEG n01751748\nILSVRC2012_val_00000002 n09193705\n"
                                     "ILSVRC2012_val_00000003.JPEG n01440764\nILSVRC2012_val_00000004.JPEG n01440764\n");
  r = sort_val(val, text);
  REQUIRE(r.exit_status == 0);
  CHECK(r.out == "imagenet-val-folders: moved 2, already sorted 2, classes 3, unlabelled left in place 0\n");
  CHECK(fs::is_regular_file(val / "n01440764/ILSVRC2012_val_00000004.JPEG"));
}

TEST_CASE("imagenet-val-folders refuses bad labels with one line and moves nothing", "[apps][imagenet]") {
  effscale::testing::TempDir dir;
  const fs::path val = dir.path() / "val";
  fs::create_directories(val);
  dir.write("val/ILSVRC2012_val_00000001.JPEG", "x");
  const std::pair<std::string, std::string> cases[] = {
      {"ILSVRC2012_val_00000001.JPEG n01751748\nILSVRC2012_val_00000001 cat\n", "expected FILE WNID"},
      {"ILSVRC2012_val_00000001.JPEG n01751748\nILSVRC2012_val_00000001.JPEG n01751748\n", "labelled twice"},
      {"ILSVRC2012_val_00000001.JPEG n01751748\nILSVRC2012_val_00000009.JPEG n01751748\n", "neither in"},
      {"", "name no image"},
  };
  for (const auto& [labels, message] : cases) {
    INFO(labels);
    const auto r = sort_val(val, dir.write("labels.txt", labels));
    CHECK(r.exit_status == 2);
    CHECK(r.err.find(message) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(fs::is_regular_file(val / "ILSVRC2012_val_00000001.JPEG"));
  }
  CHECK(sort_val(dir.path() / "missing", dir.write("l.txt", "a n01751748\n")).exit_status == 2);
}
