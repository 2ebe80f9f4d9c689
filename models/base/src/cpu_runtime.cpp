#include "effscale/base/cpu_runtime.h"

#include <ATen/Parallel.h>
#include <malloc.h>

#include <algorithm>
#include <thread>

// Resolved from the libgomp LibTorch links; weak so that a LibTorch without OpenMP still links.
extern "C" void omp_set_num_threads(int) __attribute__((weak));

namespace effscale::base {

void limit_thread_intra_op(int threads) {
  // ATen sets each thread's OpenMP team size lazily, from the process-wide count, the first time the thread
  // asks for it; that would undo a limit set before. Asking first makes the limit below the last word.
  at::get_num_threads();
  if (omp_set_num_threads != nullptr) omp_set_num_threads(std::max(1, threads));
}

int configure_cpu_runtime(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(threads);
#if defined(__GLIBC__)
  // 32 MiB is glibc's largest mmap threshold; fixing it also stops its dynamic adjustment.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  // Larger blocks (a batch of 32 at 224 px has 150 MB activations) would still be mapped afresh and
  // page-faulted on every call, which made B0 inference at batch 32 five times slower: keep them on the heap.
  mallopt(M_MMAP_MAX, 0);
#endif
  return at::get_num_threads();
}

}  // namespace effscale::base
