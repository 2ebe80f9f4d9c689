// Crash-safe writes and whole-file reads: a kill during a write leaves no temporary behind for good, and
// reads refuse what is not a regular file instead of blocking (FIFO) or failing mid-read (directory).

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

#include "effscale/base/atomic_file.h"
#include "temp_dir.h"

using namespace effscale::base;

namespace {

// The pid of a process that has exited and been reaped, so no process has it (until the kernel reuses it).
pid_t dead_pid() {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  int status = 0;
  ::waitpid(child, &status, 0);
  return child;
}

}  // namespace

TEST_CASE("an atomic write removes the temporaries of killed writers and keeps live ones", "[base][atomic_file]") {
  effscale::testing::TempDir dir;
  const std::string path = dir.file("checkpoint.pt");
  const std::string dead = dir.write("checkpoint.pt.tmp." + std::to_string(dead_pid()), std::string(1000, 'x'));
  const std::string live = dir.write("checkpoint.pt.tmp." + std::to_string(::getppid()), "being written");
  const std::string other = dir.write("other.pt.tmp." + std::to_string(dead_pid()), "another file's");
  const std::string not_pid = dir.write("checkpoint.pt.tmp.notes", "not a temporary");
  write_file_atomically(path, "new contents");
  CHECK(read_whole_file(path) == "new contents");
  CHECK_FALSE(std::filesystem::exists(dead));
  CHECK(std::filesystem::exists(live));
  CHECK(std::filesystem::exists(other));
  CHECK(std::filesystem::exists(not_pid));
  CHECK(remove_stale_temporaries(dir.file("other.pt")) == 1);
  CHECK_FALSE(std::filesystem::exists(other));
}

TEST_CASE("reading refuses directories, FIFOs and missing files by name", "[base][atomic_file]") {
  effscale::testing::TempDir dir;
  const std::string fifo = dir.file("pipe");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THROWS_WITH(read_whole_file(fifo), Catch::Contains("pipe") && Catch::Contains("not a regular file"));
  CHECK_THROWS_WITH(read_whole_file(dir.file("")), Catch::Contains("it is a directory"));
  CHECK_THROWS_WITH(read_whole_file(dir.file("missing")), Catch::Contains("missing") && Catch::Contains("no such file"));
  CHECK_THROWS_AS(require_regular_file(fifo), std::invalid_argument);
  CHECK_NOTHROW(require_regular_file(dir.write("plain", "x")));
}
