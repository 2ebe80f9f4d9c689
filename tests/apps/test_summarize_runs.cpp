// summarize_runs, run as the experiment scripts run it: run folders with result.json collected into CSV, seed
// statistics checked against values computed by hand (Student t), leaders and the error-bar chart.

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include "run_command.h"
#include "temp_dir.h"

using effscale::testing::run_command;
using effscale::testing::shell_quote;

namespace {

effscale::testing::CommandResult summarize(const std::string& args) {
  return run_command(std::string(EFFSCALE_SUMMARIZE_RUNS) + " " + args);
}

// runs/METHOD/PHI/seedS/result.json with the given accuracy; MACs depend on phi only.
void write_run(const effscale::testing::TempDir& dir, const std::string& method, int phi, int seed, double top1) {
  const std::string folder = "runs/" + method + "/" + std::to_string(phi) + "/seed" + std::to_string(seed);
  std::filesystem::create_directories(dir.file(folder));
  dir.write(folder + "/result.json", "{\"val_top1\": " + std::to_string(top1) + ", \"test_top1\": " +
                                         std::to_string(top1 - 0.01) + ", \"macs\": " + std::to_string(1000000 << phi) +
                                         ", \"wall_s\": 12.5}");
}

}  // namespace

TEST_CASE("summarize_runs collects runs, summarises seeds with t intervals and says when a lead is noise",
          "[apps][summarize_runs]") {
  effscale::testing::TempDir dir;
  // compound clearly ahead of width at phi 1; at phi 2 the two overlap.
  const double compound1[] = {0.80, 0.81, 0.82}, width1[] = {0.70, 0.71, 0.72};
  const double compound2[] = {0.84, 0.80, 0.88}, width2[] = {0.83, 0.85, 0.81};
  for (int s = 0; s < 3; ++s) {
    write_run(dir, "compound", 1, s + 1, compound1[s]);
    write_run(dir, "width", 1, s + 1, width1[s]);
    write_run(dir, "compound", 2, s + 1, compound2[s]);
    write_run(dir, "width", 2, s + 1, width2[s]);
  }
  std::filesystem::create_directories(dir.file("runs/width/2/seed4"));  // unfinished: no result.json
  const std::string csv = dir.file("runs.csv");
  const auto collected = summarize("collect --root " + shell_quote(dir.file("runs")) +
                                   " --layout method/phi/seed --columns method,phi,macs,seed,val_top1,test_top1,seconds"
                                   " --output " + shell_quote(csv));
  REQUIRE(collected.exit_status == 0);
  const std::string text = effscale::testing::read_file(csv);
  CHECK(text.rfind("method,phi,macs,seed,val_top1,test_top1,seconds\ncompound,1,2000000,1,0.8", 0) == 0);
  CHECK(std::count(text.begin(), text.end(), '\n') == 13);  // header + 12 finished runs

  const auto summary = summarize("summary --csv " + shell_quote(csv) + " --group method,phi --value val_top1 --format csv");
  REQUIRE(summary.exit_status == 0);
  // compound at phi 1: mean 0.81, sd 0.01, half-width t(0.975, 2) * 0.01 / sqrt(3) = 4.303 * 0.005774 = 0.02484.
  CHECK_THAT(summary.out, Catch::Contains("compound,1,3,0.81,0.01,0.7852,0.8348"));

  const auto leaders = summarize("leaders --csv " + shell_quote(csv) + " --within phi --series method --value val_top1 --format csv");
  REQUIRE(leaders.exit_status == 0);
  CHECK_THAT(leaders.out, Catch::Contains("1,compound,0.81,\"[0.7852, 0.8348]\",width,0.71,\"[0.6852, 0.7348]\",0.1,yes"));
  CHECK_THAT(leaders.out, Catch::Contains("2,compound,0.84,"));
  CHECK_THAT(leaders.out, Catch::Contains(",no\n"));

  const std::string svg = dir.file("chart.svg");
  const auto chart = summarize("chart --csv " + shell_quote(csv) + " --x macs --y val_top1 --series method --point phi"
                               " --title 'accuracy vs cost' --output " + shell_quote(svg));
  REQUIRE(chart.exit_status == 0);
  const std::string drawn = effscale::testing::read_file(svg);
  CHECK_THAT(drawn, Catch::Contains("M</text>"));  // multiply-add ticks as 2.5M, not 2.5e+06
  const auto parsed = run_command("/usr/bin/python3 -c " + shell_quote(
      "import sys, xml.dom.minidom\nd = xml.dom.minidom.parse(sys.argv[1])\n"
      "print(len(d.getElementsByTagName('circle')), len([p for p in d.getElementsByTagName('path') if 'V' in p.getAttribute('d')]))") +
      " " + shell_quote(svg));
  REQUIRE(parsed.exit_status == 0);
  CHECK(parsed.out == "4 4\n");  // two series x two points, each with its error bar
}

TEST_CASE("summarize_runs refuses bad input with one line and exit status 2", "[apps][summarize_runs]") {
  effscale::testing::TempDir dir;
  const std::string ragged = dir.write("ragged.csv", "a,b\n1,2\n3\n");
  auto r = summarize("summary --csv " + shell_quote(ragged) + " --group a --value b");
  CHECK(r.exit_status == 2);
  CHECK_THAT(r.err, Catch::Contains("line 3: 1 cells, the header has 2"));
  const std::string good = dir.write("good.csv", "a,b\n1,2\n");
  r = summarize("summary --csv " + shell_quote(good) + " --group a --value c");
  CHECK(r.exit_status == 2);
  CHECK_THAT(r.err, Catch::Contains("no column 'c' (columns: a, b)"));
  const std::string text = dir.write("text.csv", "a,b\n1,2\n1,\n1,nan\n1,0.9O\n");  // empty and NaN: no value; a typo: refused
  r = summarize("summary --csv " + shell_quote(text) + " --group a --value b");
  CHECK(r.exit_status == 2);
  CHECK_THAT(r.err, Catch::Contains("row 4 (CSV line 5), column 'b': '0.9O' is not a number"));
  r = summarize("average --csv " + shell_quote(good));
  CHECK(r.exit_status == 2);
  CHECK_THAT(r.err, Catch::Contains("not 'average'"));
  r = summarize("collect --root " + shell_quote(dir.file("nowhere")) + " --layout a/seed --columns a --output " +
                shell_quote(dir.file("out.csv")));
  CHECK(r.exit_status == 2);
  CHECK_FALSE(std::filesystem::exists(dir.file("out.csv")));
  r = summarize("chart --csv " + shell_quote(good) + " --x a --y b");
  CHECK(r.exit_status == 2);
  CHECK_THAT(r.err, Catch::Contains("chart needs --output"));
}
