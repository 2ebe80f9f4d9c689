#include "file_size_limit.h"

#include <csignal>
#include <stdexcept>

namespace effscale::testing {

FileSizeLimit::FileSizeLimit(uint64_t bytes) {
  if (::getrlimit(RLIMIT_FSIZE, &before_) != 0) throw std::runtime_error("getrlimit(RLIMIT_FSIZE) failed");
  before_handler_ = std::signal(SIGXFSZ, SIG_IGN);  // the write fails with EFBIG instead of killing the process
  rlimit limited = before_;
  limited.rlim_cur = before_.rlim_max == RLIM_INFINITY || bytes < before_.rlim_max ? bytes : before_.rlim_max;
  if (::setrlimit(RLIMIT_FSIZE, &limited) != 0) throw std::runtime_error("setrlimit(RLIMIT_FSIZE) failed");
}

FileSizeLimit::~FileSizeLimit() {
  ::setrlimit(RLIMIT_FSIZE, &before_);
  std::signal(SIGXFSZ, before_handler_);
}

}  // namespace effscale::testing
