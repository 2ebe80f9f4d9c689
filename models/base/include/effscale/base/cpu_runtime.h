#pragma once
// Process-wide CPU settings every effscale command applies before running torch work.

#include <filesystem>

#include "effscale/base/core_share.h"

namespace effscale::base {

// Sets the calling thread's intra-op thread count (OpenMP's, which LibTorch's CPU ops follow) to `threads`, or,
// when threads <= 0, to this process's share of the usable cores: the cores divided among the effscale processes
// in the CPU share register at `share_folder` (see core_share.h), a share that follow_core_share() keeps current
// as processes come and go (Debian's LibTorch otherwise uses one thread on small machines, and every process
// taking all cores makes their OpenMP threads spin against each other). Either way the process joins the register
// (once), so the others count it; when the register cannot be used, a share is all usable cores and one warning
// line goes to stderr. Also keeps freed tensor memory in the process (glibc malloc: every allocation comes from
// the heap, never a fresh mapping, and the heap is not trimmed below 1 GiB), so the same large activations are not
// mapped, zeroed and unmapped at every step. Threads the process starts later set their own count
// (limit_thread_intra_op); at::set_num_threads is never called (see cpu_runtime.cpp). Returns the thread count in
// effect. Call early from main(); not thread-safe.
int configure_cpu_runtime(int threads, const std::filesystem::path& share_folder = default_core_share_folder());

// Limits the torch ops of the calling thread to `threads` intra-op threads (OpenMP's per-thread team size),
// for workers that train side by side in one process. No effect when LibTorch was built without OpenMP.
void limit_thread_intra_op(int threads);

// For its lifetime, limits the calling thread's torch ops to at most `threads` intra-op threads (fewer than now
// in effect; never more), then restores the count in effect before. For work too small to share among threads.
// follow_core_share() inside the scope keeps to the limit (it lowers the count with the share, never above it).
class ScopedThreadLimit {
 public:
  explicit ScopedThreadLimit(int threads);
  ~ScopedThreadLimit();
  ScopedThreadLimit(const ScopedThreadLimit&) = delete;
  ScopedThreadLimit& operator=(const ScopedThreadLimit&) = delete;

 private:
  int restore_ = 0;         // the count to set again on exit; 0 when nothing was changed
  int outer_ceiling_ = 0;   // the enclosing scope's limit, in force again on exit (0: none)
};

// When the last configure_cpu_runtime() chose the share (threads <= 0): counts the register again if the last
// count is over 200 ms old, and sets the calling thread's intra-op threads to its part of the share (the share
// divided among the workers declared by share_threads_among_workers, at least 1). Otherwise does nothing.
// Thread-safe and cheap; call it between steps from every thread that runs torch work.
void follow_core_share();

// Declares that `workers` (>= 1) threads of this process run torch work side by side, each taking
// 1/workers of the process's share; declare 1 again when they have stopped.
void share_threads_among_workers(int workers);

}  // namespace effscale::base
