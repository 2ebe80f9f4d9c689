#pragma once
// Process-wide CPU settings every effscale command applies before running torch work.

namespace effscale::base {

// Sets LibTorch's intra-op thread count to `threads`, or to every core when threads <= 0 (Debian's
// LibTorch otherwise uses one thread on small machines), and keeps freed tensor memory in the process
// (glibc malloc: every allocation comes from the heap, never a fresh mapping, and the heap is not trimmed below 1 GiB),
// so the same large activations are not mapped, zeroed and unmapped at every step. Returns the thread
// count in effect. Call once, early, from main(); not thread-safe.
int configure_cpu_runtime(int threads);

// Limits the torch ops of the calling thread to `threads` intra-op threads (OpenMP's per-thread team size),
// for workers that train side by side in one process. No effect when LibTorch was built without OpenMP.
void limit_thread_intra_op(int threads);

}  // namespace effscale::base
