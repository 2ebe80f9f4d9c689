#include "effscale/trainers/worker_threads.h"

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

#include "effscale/base/cpu_runtime.h"

namespace effscale::trainers {

void run_worker_threads(int workers, int total_threads, const std::function<void(int threads_each)>& body) {
  const int each = std::max(1, total_threads / std::max(1, workers));
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

}  // namespace effscale::trainers
