// The soak scripts, run briefly as CI runs them: experiments/soak/run (kills at random moments of nas_search, the
// grid and train_model on one study) and experiments/soak/concurrency (several store workers on one study).

#include <catch2/catch.hpp>

#include "run_command.h"
#include "temp_dir.h"

using effscale::testing::run_command;
using effscale::testing::shell_quote;

TEST_CASE("the kill soak survives its kills with nothing lost or duplicated on SQLite and PostgreSQL",
          "[apps][soak][postgres]") {
  effscale::testing::TempDir dir;
  const auto r = run_command(shell_quote(std::string(EFFSCALE_SOURCE_ROOT) + "/experiments/soak/run") +
                             " --kills 4 --seed 3 --build " + shell_quote(EFFSCALE_BUILD_ROOT) + " --output-dir " +
                             shell_quote(dir.file("soak")));
  INFO(r.out << r.err);
  CHECK(r.exit_status == 0);
  CHECK_THAT(r.out, Catch::Contains("sqlite: kills survived 4/4, lost 0, duplicated 0") &&
                        Catch::Contains("postgresql: kills survived 4/4, lost 0, duplicated 0"));
  // A backend that is not one is refused: one line, status 2.
  const auto unknown = run_command(shell_quote(std::string(EFFSCALE_SOURCE_ROOT) + "/experiments/soak/run") +
                                   " --backends mysql --output-dir " + shell_quote(dir.file("other")));
  CHECK(unknown.exit_status == 2);
  CHECK(unknown.err == "soak: --backends mysql: expected sqlite, postgresql or both, comma-separated\n");
  // A second soak into a folder holding the first is refused: one line, status 2.
  const auto again = run_command(shell_quote(std::string(EFFSCALE_SOURCE_ROOT) + "/experiments/soak/run") +
                                 " --kills 1 --build " + shell_quote(EFFSCALE_BUILD_ROOT) + " --output-dir " +
                                 shell_quote(dir.file("soak")));
  CHECK(again.exit_status == 2);
  CHECK_THAT(again.err, Catch::Contains("is not empty"));
}

TEST_CASE("the concurrency soak drains every trial once on SQLite and PostgreSQL", "[apps][soak][postgres]") {
  const auto r = run_command(shell_quote(std::string(EFFSCALE_SOURCE_ROOT) + "/experiments/soak/concurrency") +
                             " --workers 4 --trials 25 --build " + shell_quote(EFFSCALE_BUILD_ROOT));
  INFO(r.out << r.err);
  CHECK(r.exit_status == 0);
  CHECK_THAT(r.out, Catch::Contains("sqlite: 100 trials, 4 workers, lost 0, duplicated 0, failed workers 0") &&
                        Catch::Contains("postgresql: 100 trials, 4 workers, lost 0, duplicated 0, failed workers 0"));
}
