#pragma once
// FileSizeLimit: a full disk, as this process sees it, for its lifetime.

#include <sys/resource.h>

#include <cstdint>

namespace effscale::testing {

// Makes every write of this process past `bytes` into any file fail with EFBIG (RLIMIT_FSIZE, with SIGXFSZ ignored),
// as writes fail on a full disk; undone on destruction. Files already longer may still be rewritten in place.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(uint64_t bytes);
  ~FileSizeLimit();
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit before_{};
  void (*before_handler_)(int) = nullptr;
};

}  // namespace effscale::testing
