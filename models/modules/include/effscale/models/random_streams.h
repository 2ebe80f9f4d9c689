#pragma once
// Random streams that do not depend on threads: a model's own generators, and the lock around LibTorch's
// process-wide one.

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <mutex>

namespace effscale::models {

// LibTorch's global CPU generator is shared by every thread, and torch module constructors draw from it.
// Code that seeds it and then builds modules from it, and code that builds modules while other threads may
// do so, holds this lock for the whole sequence, so that no other thread's draws fall in between (recursive:
// a holder may build models, which take it too).
std::recursive_mutex& global_generator_mutex();

// A new CPU generator seeded with `seed`, independent of every other generator.
at::Generator make_cpu_generator(uint64_t seed);

// A seed drawn from LibTorch's global CPU generator (so that torch::manual_seed still decides it).
uint64_t draw_global_seed();

// Multiplies x by a mask that keeps each element of a [shape] draw with probability `keep` and scales kept
// ones by 1 / keep; `shape` broadcasts against x (per sample: {N, 1, 1, 1}). The mask is drawn on the CPU
// from `generator` and moved to x's device and type, so the result depends on the generator alone, on any
// device. 0 < keep <= 1.
at::Tensor apply_keep_mask(const at::Tensor& x, at::IntArrayRef shape, double keep, at::Generator& generator);

}  // namespace effscale::models
