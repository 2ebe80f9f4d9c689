#pragma once
// Running one body on several threads of a command, with the first error rethrown after all have stopped.

#include <functional>

namespace effscale::trainers {

// Runs body(threads_each) on `workers` threads at once, where threads_each = max(1, total_threads / workers)
// is the intra-op thread budget of each (while they run, the workers are declared to the CPU share, so that under
// configure_cpu_runtime's share each takes 1/workers of it). Waits for every thread; then rethrows the first exception any of them
// threw (by worker index), so a failing worker never leaves the others running unseen.
void run_worker_threads(int workers, int total_threads, const std::function<void(int threads_each)>& body);

}  // namespace effscale::trainers
