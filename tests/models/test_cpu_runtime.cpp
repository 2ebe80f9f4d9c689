// The process-wide CPU settings: thread counts, per-thread limits, and the share of the cores among effscale's
// processes (the register, its census, and the share following processes as they come and go).
#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "effscale/base/core_share.h"
#include "effscale/base/cpu_runtime.h"
#include "run_command.h"
#include "temp_dir.h"

namespace base = effscale::base;
using effscale::testing::run_command;
using effscale::testing::shell_quote;
using effscale::testing::TempDir;

namespace {

// Waits (up to 10 s) until the register at `registry` counts `processes`; returns the last count.
int wait_for_census(const base::CoreShareRegistry& registry, int processes) {
  for (int i = 0; i < 200; ++i) {
    const int counted = registry.census().processes;
    if (counted == processes) return counted;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return registry.census().processes;
}

// Waits past the register's recount interval, then lets the calling thread follow the share.
void follow_after_recount() {
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  base::follow_core_share();
}

}  // namespace

TEST_CASE("configure_cpu_runtime sets the thread count, all usable cores when alone by default", "[models][runtime]") {
  TempDir dir;
  const std::filesystem::path folder = dir.path() / "register";
  CHECK(base::configure_cpu_runtime(1, folder) == 1);
  CHECK(base::configure_cpu_runtime(0, folder) == base::usable_cores());
  CHECK(base::usable_cores() <= static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  CHECK((std::filesystem::status(folder).permissions() & std::filesystem::perms::others_all) == std::filesystem::perms::none);
}

TEST_CASE("limit_thread_intra_op holds in a new thread after its first torch op", "[models][runtime]") {
  TempDir dir;
  base::configure_cpu_runtime(4, dir.path() / "register");  // the process-wide count ATen gives each new thread
  int before_op = 0, after_op = 0;
  std::thread worker([&] {
    base::limit_thread_intra_op(1);
    before_op = at::get_num_threads();
    torch::randn({256, 256}).mm(torch::randn({256, 256}));  // ATen's lazy per-thread set-up runs here at the latest
    after_op = at::get_num_threads();
  });
  worker.join();
  CHECK(before_op == 1);
  CHECK(after_op == 1);
}

TEST_CASE("ScopedThreadLimit lowers the calling thread's count for its lifetime, never raises it", "[models][runtime]") {
  TempDir dir;
  base::configure_cpu_runtime(3, dir.path() / "register");
  {
    const base::ScopedThreadLimit limit(1);
    CHECK(at::get_num_threads() == 1);
    {
      const base::ScopedThreadLimit higher(2);  // above the count in effect: no change
      CHECK(at::get_num_threads() == 1);
    }
    CHECK(at::get_num_threads() == 1);
  }
  CHECK(at::get_num_threads() == 3);
}

TEST_CASE("share_of_cores splits the cores evenly, the remainder to the lowest ranks, never below one", "[models][runtime]") {
  CHECK(base::share_of_cores(2, {1, 0}) == 2);
  CHECK(base::share_of_cores(2, {2, 0}) == 1);
  CHECK(base::share_of_cores(2, {2, 1}) == 1);
  CHECK(base::share_of_cores(3, {2, 0}) == 2);
  CHECK(base::share_of_cores(3, {2, 1}) == 1);
  CHECK(base::share_of_cores(8, {3, 0}) == 3);
  CHECK(base::share_of_cores(8, {3, 2}) == 2);
  CHECK(base::share_of_cores(1, {3, 2}) == 1);
  CHECK(base::share_of_cores(2, {0, 0}) == 2);  // a census never counts 0, but the share stays sane
}

TEST_CASE("the CPU share register counts live entries, ranks them, and removes the dead", "[models][runtime]") {
  TempDir dir;
  const std::filesystem::path folder = dir.path() / "register";
  base::CoreShareRegistry first(folder);
  CHECK(first.census().processes == 1);
  {
    base::CoreShareRegistry second(folder);
    const base::CoreCensus a = first.census(), b = second.census();
    CHECK(a.processes == 2);
    CHECK(b.processes == 2);
    CHECK(a.rank + b.rank == 1);
    std::ofstream(folder / "cpu-0000000000000000") << "";  // an entry whose process died: nobody holds its lock
    std::ofstream(folder / "unrelated") << "";               // not an entry
    CHECK(first.census().processes == 2);
    CHECK_FALSE(std::filesystem::exists(folder / "cpu-0000000000000000"));
    CHECK(std::filesystem::exists(folder / "unrelated"));
  }
  CHECK(first.census().processes == 1);  // the second's entry left with it
}

TEST_CASE("the CPU share register counts another process while it lives and forgets it once killed", "[models][runtime]") {
  TempDir dir;
  const std::filesystem::path folder = dir.path() / "register";
  base::CoreShareRegistry ours(folder);
  // A process holding an entry's lock, as an effscale process does: the shell opens and locks a file under a name
  // the census ignores, gives it the entry's name only once locked (a census in between would take an unlocked
  // entry for a dead one), then becomes sleep.
  const auto started = run_command("sh -c 'exec 9>\"$1/.making\"; flock -x 9; mv \"$1/.making\" \"$1/cpu-ffffffffffffffff\"; "
                                   "exec sleep 60' sh " + shell_quote(folder.string()) + " </dev/null >/dev/null 2>&1 & echo $!");
  REQUIRE(started.exit_status == 0);
  CHECK(wait_for_census(ours, 2) == 2);
  CHECK(std::filesystem::exists(folder / "cpu-ffffffffffffffff"));
  REQUIRE(run_command("kill -9 " + started.out).exit_status == 0);
  CHECK(wait_for_census(ours, 1) == 1);
  CHECK_FALSE(std::filesystem::exists(folder / "cpu-ffffffffffffffff"));
}

TEST_CASE("under the default share a thread follows the processes and workers that come and go", "[models][runtime]") {
  TempDir dir;
  const std::filesystem::path folder = dir.path() / "register";
  const int cores = base::usable_cores();
  REQUIRE(base::configure_cpu_runtime(0, folder) == cores);
  {
    base::CoreShareRegistry other(folder);  // a second effscale process starts
    follow_after_recount();
    const int threads = at::get_num_threads();
    CHECK(threads >= std::max(1, cores / 2));
    CHECK(threads <= std::max(1, (cores + 1) / 2));
    base::share_threads_among_workers(2);  // this process now trains two candidates side by side
    base::follow_core_share();
    CHECK(at::get_num_threads() == std::max(1, threads / 2));
    base::share_threads_among_workers(1);
  }
  follow_after_recount();  // the other process has gone
  CHECK(at::get_num_threads() == cores);
  {  // a scoped limit (a small network's training epoch) holds while the share is followed
    const base::ScopedThreadLimit small_work(1);
    follow_after_recount();
    CHECK(at::get_num_threads() == 1);
  }
  base::follow_core_share();
  CHECK(at::get_num_threads() == cores);
}

TEST_CASE("a fixed thread count does not follow the share", "[models][runtime]") {
  TempDir dir;
  const std::filesystem::path folder = dir.path() / "register";
  REQUIRE(base::configure_cpu_runtime(3, folder) == 3);
  base::CoreShareRegistry other(folder);
  follow_after_recount();
  CHECK(at::get_num_threads() == 3);
}

TEST_CASE("a register folder of the wrong kind is refused with its name", "[models][runtime]") {
  TempDir dir;
  const std::string file = dir.write("plain", "");
  CHECK_THROWS_WITH(base::CoreShareRegistry(file), Catch::Contains(file) && Catch::Contains("not a directory"));
  std::filesystem::create_directory(dir.path() / "open");
  std::filesystem::permissions(dir.path() / "open", std::filesystem::perms::all);
  CHECK_THROWS_WITH(base::CoreShareRegistry(dir.path() / "open"), Catch::Contains("writable by others"));
  // configure_cpu_runtime then warns and takes every core.
  CHECK(base::configure_cpu_runtime(0, file) == base::usable_cores());
}
