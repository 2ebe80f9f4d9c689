#include "effscale/base/core_share.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace effscale::base {
namespace {

// Entries are named "cpu-<random>"; an entry being made is ".cpu-<random>" until its lock is held, so a counter
// never mistakes a new entry for a dead one.
constexpr const char* kEntryPrefix = "cpu-";

std::string random_name() {
  std::random_device device;
  const uint64_t value = (uint64_t{device()} << 32) ^ device() ^ static_cast<uint64_t>(getpid());
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

[[noreturn]] void fail(const fs::path& folder, const std::string& what) {
  throw std::runtime_error("CPU share register " + folder.string() + ": " + what);
}

// Makes sure `folder` is a directory of this user that no one else can write to.
void prepare_folder(const fs::path& folder) {
  if (mkdir(folder.c_str(), 0700) != 0 && errno != EEXIST) fail(folder, std::strerror(errno));
  struct stat st {};
  if (lstat(folder.c_str(), &st) != 0) fail(folder, std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) fail(folder, "not a directory");
  if (st.st_uid != geteuid()) fail(folder, "belongs to another user");
  if ((st.st_mode & 022) != 0) fail(folder, "writable by others");
}

// True when the entry's lock could be taken, i.e. its process is gone; the entry is then removed.
bool remove_if_dead(const fs::path& entry) {
  const int fd = open(entry.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return errno == ENOENT;  // removed by another counter meanwhile
  const bool dead = flock(fd, LOCK_EX | LOCK_NB) == 0;
  if (dead) unlink(entry.c_str());
  close(fd);
  return dead;
}

}  // namespace

CoreShareRegistry::CoreShareRegistry(fs::path folder) : folder_(std::move(folder)) {
  prepare_folder(folder_);
  const std::string name = random_name();
  const fs::path making = folder_ / ("." + std::string(kEntryPrefix) + name);
  fd_ = open(making.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) fail(folder_, std::strerror(errno));
  entry_ = folder_ / (kEntryPrefix + name);
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0 || rename(making.c_str(), entry_.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    unlink(making.c_str());
    close(fd_);
    fail(folder_, why);
  }
}

CoreShareRegistry::~CoreShareRegistry() {
  unlink(entry_.c_str());
  close(fd_);
}

CoreCensus CoreShareRegistry::census() const {
  std::vector<std::string> live;
  std::error_code error;
  for (fs::directory_iterator it(folder_, error), end; !error && it != end; it.increment(error)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(kEntryPrefix, 0) != 0) continue;
    if (it->path() == entry_ || !remove_if_dead(it->path())) live.push_back(name);
  }
  const std::string own = entry_.filename().string();
  if (std::find(live.begin(), live.end(), own) == live.end()) live.push_back(own);
  std::sort(live.begin(), live.end());
  const auto rank = std::find(live.begin(), live.end(), own) - live.begin();
  return {static_cast<int>(live.size()), static_cast<int>(rank)};
}

fs::path default_core_share_folder() {
  if (const char* chosen = std::getenv("EFFSCALE_CPU_SHARE_DIR"); chosen != nullptr && *chosen != '\0') return chosen;
  const std::string name = "effscale-cpu-share-" + std::to_string(geteuid());
  std::error_code error;
  if (fs::is_directory("/dev/shm", error)) return fs::path("/dev/shm") / name;
  return fs::temp_directory_path(error) / name;
}

int share_of_cores(int cores, const CoreCensus& census) {
  const int processes = std::max(1, census.processes);
  return std::max(1, cores / processes + (census.rank < cores % processes ? 1 : 0));
}

int usable_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

}  // namespace effscale::base
