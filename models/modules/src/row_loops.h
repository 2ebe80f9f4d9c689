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

// Rows summed in float before the sums are added, block after block in order, in double: bounds the float error of
// a long sum and keeps the order, so results do not depend on the thread count.
inline constexpr int64_t kRowsPerBlock = 512;

// The per-channel array `values` tiled into out[period] (period a whole number of rows of `channels` values).
inline void tile_into(const float* values, int64_t channels, float* out, int64_t period) {
  for (int64_t base = 0; base < period; base += channels) std::copy(values, values + channels, out + base);
}

// A per-channel array tiled to the period of rows of `channels` values.
inline std::vector<float> per_period(const float* values, int64_t channels) {
  std::vector<float> out(rows_per_period(channels) * channels);
  tile_into(values, channels, out.data(), int64_t(out.size()));
  return out;
}

// Adds sums per position of a period (partial[period]) into per-channel totals (total[channels]), in double.
inline void fold_into_channels(const float* partial, int64_t period, int64_t channels, double* total) {
  for (int64_t j = 0; j < period; ++j) total[j % channels] += partial[j];
}

// The loops below run over `count` values of channels_last rows in periods of `period` values (a whole number of
// rows); their per-channel arrays are tiled to the period.

// Per position of the period: s += x.
void sum_run(const float* __restrict x, float* __restrict s, int64_t count, int64_t period);

// y = x * a + b.
void affine_run(const float* __restrict x, const float* __restrict a, const float* __restrict b, float* __restrict y,
                int64_t count, int64_t period);

}  // namespace effscale::models::row_loops
