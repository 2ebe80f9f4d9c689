#include "peer_cache.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <stdexcept>


namespace effscale::testing {

std::string cached_peer_dir(const std::string& key, const std::function<void(const std::string& dir)>& make) {
  namespace fs = std::filesystem;
  const fs::path root = fs::path(EFFSCALE_PEER_CACHE_ROOT);
  fs::create_directories(root);
  const fs::path target = root / ("peer-" + std::to_string(std::hash<std::string>{}(key)));
  if (fs::exists(target / "done")) return target.string();
  const int fd = ::open((root / "lock").c_str(), O_CREAT | O_RDWR, 0644);
  if (fd < 0 || ::flock(fd, LOCK_EX) != 0) throw std::runtime_error("cannot lock " + (root / "lock").string());
  try {
    if (!fs::exists(target / "done")) {
      const fs::path scratch = root / ("tmp-" + std::to_string(::getpid()));
      fs::remove_all(scratch);
      fs::create_directories(scratch);
      make(scratch.string());
      std::FILE* done = std::fopen((scratch / "done").c_str(), "w");
      if (!done || std::fputs(key.c_str(), done) < 0 || std::fclose(done) != 0)
        throw std::runtime_error("cannot write " + (scratch / "done").string());
      fs::remove_all(target);
      fs::rename(scratch, target);
    }
  } catch (...) {
    ::flock(fd, LOCK_UN);
    ::close(fd);
    throw;
  }
  ::flock(fd, LOCK_UN);
  ::close(fd);
  return target.string();
}

}  // namespace effscale::testing
