#pragma once
// What the C++ benchmarks share: a wall clock and the median of repeated runs.

#include <algorithm>
#include <chrono>
#include <vector>

namespace effscale::bench {

// Seconds since `start` on the steady clock.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Runs `step` warmup + iters times (iters >= 1); returns the median duration of the timed runs in seconds.
template <typename Step>
double median_seconds(int warmup, int iters, Step step) {
  for (int i = 0; i < warmup; ++i) step();
  std::vector<double> times;
  for (int i = 0; i < iters; ++i) {
    const auto start = std::chrono::steady_clock::now();
    step();
    times.push_back(seconds_since(start));
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace effscale::bench
