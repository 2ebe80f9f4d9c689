#include "effscale/models/cpu_runtime.h"

#include <ATen/Parallel.h>
#include <malloc.h>

#include <algorithm>
#include <thread>

namespace effscale::models {

int configure_cpu_runtime(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
#if defined(__GLIBC__)
  // 32 MiB is glibc's largest mmap threshold; fixing it also stops its dynamic adjustment.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
  return at::get_num_threads();
}

}  // namespace effscale::models
