#include "row_loops.h"

namespace effscale::models::row_loops {

EFFSCALE_VECTOR_CLONES void sum_run(const float* __restrict x, float* __restrict s, int64_t count, int64_t period) {
  for (int64_t base = 0; base < count; base += period) {
    const int64_t n = count - base < period ? count - base : period;
    for (int64_t j = 0; j < n; ++j) s[j] += x[base + j];
  }
}

EFFSCALE_VECTOR_CLONES void affine_run(const float* __restrict x, const float* __restrict a,
                                       const float* __restrict b, float* __restrict y, int64_t count,
                                       int64_t period) {
  for (int64_t base = 0; base < count; base += period) {
    const int64_t n = count - base < period ? count - base : period;
    for (int64_t j = 0; j < n; ++j) y[base + j] = x[base + j] * a[j] + b[j];
  }
}

}  // namespace effscale::models::row_loops
