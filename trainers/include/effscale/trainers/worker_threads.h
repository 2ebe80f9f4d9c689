#pragma once
// Running one body on several threads of a command, with the first error rethrown after all have stopped.

#include <cstdint>
#include <functional>

#include "effscale/models/arch_spec.h"

namespace effscale::trainers {

// The intra-op threads each of `workers` workers gets of `total_threads`: max(1, total_threads / workers).
int threads_each(int workers, int total_threads);

// Runs body(threads_each) on `workers` threads at once, where threads_each(workers, total_threads) is the intra-op
// thread budget of each (while they run, the workers are declared to the CPU share, so that under
// configure_cpu_runtime's share each takes 1/workers of it). Waits for every thread; then rethrows the first exception any of them
// threw (by worker index), so a failing worker never leaves the others running unseen.
void run_worker_threads(int workers, int total_threads, const std::function<void(int threads_each)>& body);

// The worker count `--workers auto` chooses for `threads` intra-op threads in all. On a CUDA device, 1 (the runs
// share one card). On the CPU, one worker per thread, each training on one thread, since side-by-side runs of
// the small proxy networks a search trains add up to nearly `threads` times one run, where one run on all the
// threads gains 0.8-1.4x on two (docs/benchmarks.md, "Workers"); but at most `most_useful` (a round's candidates,
// a grid's points) and at most as many as half of the memory available now (Linux: MemAvailable) holds at
// `bytes_each` a worker. Always at least 1.
int auto_worker_count(int threads, bool cuda, int64_t bytes_each, int most_useful);

// An estimate of the memory one worker takes to train `spec` (as trained: at the proxy) with batches of
// `batch_size` on the CPU: four float copies of every conv output of the batch (the output, its batch-norm and
// activation copies kept for the backward pass, and a gradient; measured: MobileNetV2 at 64 px and width 1, batch
// 64, peaks 3.3 times its conv outputs above the process's base) and four of every parameter (weights, gradients,
// momentum, a spare). Throws SpecError when the spec is invalid.
int64_t estimated_training_bytes(const models::ArchSpec& spec, int64_t batch_size);

// Bytes of memory the system could give this process now without swapping (Linux: /proc/meminfo's
// MemAvailable; elsewhere, or when it cannot be read, the physical memory).
int64_t available_memory_bytes();

}  // namespace effscale::trainers
