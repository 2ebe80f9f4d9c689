#pragma once
// What the training tests share: a tiny B0-derived network, a synthetic dataset it can learn, short-run options
// and a state comparison.

#include <torch/types.h>

#include <string>

#include "effscale/models/arch_spec.h"
#include "effscale/trainers/image_dataset.h"
#include "effscale/trainers/trainer.h"

namespace torch::nn {
class Module;
}

namespace effscale::testing {

// A tiny B0-derived network for 16x16 grey images with `classes` outputs.
models::ArchSpec tiny_spec(int classes);

// `n` noisy synthetic 12x12 grey images of 4 classes (class k is brighter in quadrant k), from `seed`.
trainers::ImageDataset synthetic(int64_t n, uint64_t seed);

// 2 epochs of batch 16 at 16 px with warmup and EMA, seed 11, checkpointing to `checkpoint` ("" for none).
trainers::TrainerOptions tiny_options(const std::string& checkpoint);

// Checks (Catch CHECKs, one per tensor) that two modules have equal parameters and buffers.
void check_same_state(const torch::nn::Module& a, const torch::nn::Module& b);

}  // namespace effscale::testing
