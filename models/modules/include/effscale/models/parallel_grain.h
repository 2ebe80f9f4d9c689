#pragma once
// How finely effscale's CPU kernels split their work among threads.

#include <algorithm>
#include <cstdint>

namespace effscale::models {

// ATen's own grain (at::internal::GRAIN_SIZE): a task of fewer elementary operations than this costs more to hand to
// another thread than it saves. The proxies a search trains have many such small layers (8 channels at 7 x 7).
inline constexpr int64_t kGrainWork = 32768;

// The grain (items per task) for at::parallel_for over items of `work_per_item` elementary operations each: as many
// items as make kGrainWork, at least 1. A loop with fewer items than that runs on the calling thread alone.
inline int64_t grain_for(int64_t work_per_item) {
  return std::max<int64_t>(1, kGrainWork / std::max<int64_t>(1, work_per_item));
}

}  // namespace effscale::models
