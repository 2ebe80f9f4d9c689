#include "effscale/base/cpu_runtime.h"

#include <ATen/Parallel.h>
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>

// Resolved from the libgomp LibTorch links; weak so that a LibTorch without OpenMP still links.
extern "C" void omp_set_num_threads(int) __attribute__((weak));

namespace effscale::base {
namespace {

constexpr std::chrono::milliseconds kCensusInterval{200};

// What configure_cpu_runtime leaves for follow_core_share.
struct CoreShareState {
  std::mutex mutex;  // guards registry and the census refresh
  std::unique_ptr<CoreShareRegistry> registry;
  std::atomic<bool> adaptive{false};
  std::atomic<int> share{1}, workers{1};
  std::atomic<int64_t> next_census{0};  // steady-clock nanoseconds
};

CoreShareState& core_share_state() {
  static CoreShareState state;
  return state;
}

// The intra-op thread count this thread last set through limit_thread_intra_op (0: none yet).
thread_local int applied_threads = 0;
// The innermost ScopedThreadLimit's count on this thread, which follow_core_share stays within (0: none).
thread_local int scoped_ceiling = 0;

int64_t steady_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Joins the register at `folder` unless already there; false (with the reason in `why`) when it cannot be used.
bool join_register(CoreShareState& state, const std::filesystem::path& folder, std::string& why) {
  if (state.registry && state.registry->folder() == folder) return true;
  state.registry.reset();
  try {
    state.registry = std::make_unique<CoreShareRegistry>(folder);
    return true;
  } catch (const std::runtime_error& e) {
    why = e.what();
    return false;
  }
}

// Counts the register again (state.mutex held, registry set): the share, and when to count next.
void recount(CoreShareState& state, int64_t now) {
  state.share = share_of_cores(usable_cores(), state.registry->census());
  state.next_census = now + std::chrono::nanoseconds(kCensusInterval).count();
}

void keep_freed_memory() {
#if defined(__GLIBC__)
  // 32 MiB is glibc's largest mmap threshold; fixing it also stops its dynamic adjustment.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  // Larger blocks (a batch of 32 at 224 px has 150 MB activations) would still be mapped afresh and
  // page-faulted on every call, which made B0 inference at batch 32 five times slower: keep them on the heap.
  mallopt(M_MMAP_MAX, 0);
#endif
}

}  // namespace

void limit_thread_intra_op(int threads) {
  // ATen sets each thread's OpenMP team size lazily, from the process-wide count, the first time the thread
  // asks for it; that would undo a limit set before. Asking first makes the limit below the last word.
  at::get_num_threads();
  threads = std::max(1, threads);
  if (omp_set_num_threads != nullptr) omp_set_num_threads(threads);
  applied_threads = threads;
}

ScopedThreadLimit::ScopedThreadLimit(int threads) {
  const int now = at::get_num_threads();
  if (threads >= now) return;
  restore_ = now;
  outer_ceiling_ = scoped_ceiling;
  scoped_ceiling = std::max(1, threads);
  limit_thread_intra_op(threads);
}

ScopedThreadLimit::~ScopedThreadLimit() {
  if (restore_ == 0) return;
  scoped_ceiling = outer_ceiling_;
  limit_thread_intra_op(restore_);
}

int configure_cpu_runtime(int threads, const std::filesystem::path& share_folder) {
  CoreShareState& state = core_share_state();
  {
    const std::lock_guard<std::mutex> lock(state.mutex);
    std::string why;
    const bool registered = join_register(state, share_folder, why);
    state.adaptive = threads <= 0 && registered;
    if (threads <= 0 && registered) {
      recount(state, steady_now());
      threads = state.share;
    } else if (threads <= 0) {
      threads = usable_cores();
      std::fprintf(stderr, "warning: %s; each process takes all %d cores\n", why.c_str(), threads);
    }
  }
  // Not at::set_num_threads: once it has been called, every thread's first ATen call (each batch loader's producer
  // thread, one per epoch and per evaluation pass) calls it again, and LibTorch 1.13 then destroys and recreates its
  // pthreadpool, whose new worker spins for a million pauses on another core, and clears oneDNN's primitive cache.
  // The thread count is OpenMP's, per thread: set here for this thread, and by each worker for itself.
  limit_thread_intra_op(threads);
  keep_freed_memory();
  return at::get_num_threads();
}

void follow_core_share() {
  CoreShareState& state = core_share_state();
  if (!state.adaptive.load(std::memory_order_relaxed)) return;
  const int64_t now = steady_now();
  if (now >= state.next_census.load(std::memory_order_relaxed)) {
    const std::unique_lock<std::mutex> lock(state.mutex, std::try_to_lock);  // another thread counting is enough
    if (lock.owns_lock() && state.registry && now >= state.next_census) recount(state, now);
  }
  int wanted = std::max(1, state.share / std::max(1, state.workers.load()));
  if (scoped_ceiling > 0) wanted = std::min(wanted, scoped_ceiling);  // a ScopedThreadLimit holds
  if (wanted != applied_threads) limit_thread_intra_op(wanted);
}

void share_threads_among_workers(int workers) { core_share_state().workers = std::max(1, workers); }

}  // namespace effscale::base
