#pragma once
// Internal to effscale_modules' CPU training kernels (batch_norm_training.cpp, squeeze_excite_training.cpp): loops
// over channels_last rows in periods of whole rows, compiled for AVX-512, AVX2 with FMA and the x86-64 baseline, the
// CPU's chosen when the program loads. The shared loops are defined once, in row_loops.cpp. A file's own cloned
// loops need names no other file of the library uses, even when static: clang gives their resolvers external
// linkage, so two static clones of one name fail to link.

#include <algorithm>
#include <cstdint>
#include <vector>

// target_clones (GCC and clang on x86-64): LibTorch dispatches its own vector kernels by the CPU, and built for the
// baseline alone effscale's loops ran at half their speed or less. Results depend on the CPU (FMA contraction), not
// on the thread count.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define EFFSCALE_VECTOR_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define EFFSCALE_VECTOR_CLONES
#endif

namespace effscale::models::row_loops {

// Rows per period of the loops: enough for 128 values (eight AVX-512 vectors, so that a remainder is a small part)
// when a row of `channels` values is shorter; one row otherwise.
inline int64_t rows_per_period(int64_t channels) {
  return channels >= 128 ? 1 : (128 + channels - 1) / channels;
}

// `values` repeated `times` times.
inline std::vector<float> tiled(const float* values, int64_t size, int64_t times) {
  std::vector<float> out(size * times);
  for (int64_t t = 0; t < times; ++t) std::copy(values, values + size, out.begin() + t * size);
  return out;
}

// A per-channel array tiled to the period of rows of `channels` values.
inline std::vector<float> per_period(const float* values, int64_t channels) {
  return tiled(values, channels, rows_per_period(channels));
}

// The loops below run over `count` values of channels_last rows in periods of `period` values (a whole number of
// rows); their per-channel arrays are tiled to the period.

// Per position of the period: s += x.
void sum_run(const float* __restrict x, float* __restrict s, int64_t count, int64_t period);

// y = x * a + b.
void affine_run(const float* __restrict x, const float* __restrict a, const float* __restrict b, float* __restrict y,
                int64_t count, int64_t period);

}  // namespace effscale::models::row_loops
