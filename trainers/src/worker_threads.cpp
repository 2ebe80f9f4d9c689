#include "effscale/trainers/worker_threads.h"

#include <algorithm>
#include <exception>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "effscale/base/cpu_runtime.h"
#include "effscale/models/counts.h"

namespace effscale::trainers {

int threads_each(int workers, int total_threads) { return std::max(1, total_threads / std::max(1, workers)); }

void run_worker_threads(int workers, int total_threads, const std::function<void(int threads_each)>& body) {
  const int each = threads_each(workers, total_threads);
  effscale::base::share_threads_among_workers(workers);
  std::vector<std::thread> pool;
  std::vector<std::exception_ptr> errors(static_cast<size_t>(workers));
  for (int w = 0; w < workers; ++w)
    pool.emplace_back([&, w] {
      try {
        body(each);
      } catch (...) {
        errors[static_cast<size_t>(w)] = std::current_exception();
      }
    });
  for (auto& t : pool) t.join();
  effscale::base::share_threads_among_workers(1);
  for (const auto& e : errors)
    if (e) std::rethrow_exception(e);
}

int64_t available_memory_bytes() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  while (meminfo >> key >> kib) {
    if (key == "MemAvailable:") return kib * 1024;
    meminfo.ignore(64, '\n');
  }
  return int64_t(sysconf(_SC_PHYS_PAGES)) * int64_t(sysconf(_SC_PAGE_SIZE));
}

int64_t estimated_training_bytes(const models::ArchSpec& spec, int64_t batch_size) {
  const double floats = 4.0 * double(models::count_activations(spec)) * double(std::max<int64_t>(1, batch_size)) +
                        4.0 * double(models::count_params(spec));
  return int64_t(std::min(floats * 4.0, 9.0e18));
}

int auto_worker_count(int threads, bool cuda, int64_t bytes_each, int most_useful) {
  if (cuda) return 1;
  int64_t workers = std::min<int64_t>(std::max(1, threads), std::max(1, most_useful));
  if (bytes_each > 0) workers = std::min(workers, available_memory_bytes() / 2 / bytes_each);
  return int(std::max<int64_t>(1, workers));
}

}  // namespace effscale::trainers
