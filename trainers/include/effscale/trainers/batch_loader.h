#pragma once
// BatchLoader: one epoch of transformed batches, shuffled deterministically, prepared ahead of use by a
// background thread.

#include <torch/types.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "effscale/trainers/image_dataset.h"
#include "effscale/trainers/transforms.h"

namespace effscale::trainers {

// One batch: float images [B, C, R, R] and int64 labels [B].
struct Batch {
  torch::Tensor images;
  torch::Tensor labels;
};

// Options of a BatchLoader.
struct BatchLoaderOptions {
  int64_t batch_size = 64;   // samples per batch (>= 1)
  bool training = true;      // shuffle, augment, drop the last partial batch
  uint64_t seed = 0;         // with `epoch`, fixes the order and every random transform
  int64_t epoch = 0;
  int prefetch = 2;          // batches prepared ahead (>= 1)
  int shard = 0;             // data-parallel: this rank's part of every batch, of `shards` equal parts (the last
  int shards = 1;            // batch of an evaluation may leave a part empty); samples keep their randomness
  int64_t first_batch = 0;   // start at this batch of the epoch (a resumed epoch); earlier ones are not made
};

// Produces the batches of one pass over `data` (which must outlive the loader). The order is a
// permutation seeded by (seed, epoch) in training and the dataset order in evaluation; the same options
// always give the same batches. With shards > 1 each batch is the shard's slice of the batch one loader would
// give, transformed identically, so the shards of all ranks together make exactly that batch. A transform
// error is rethrown from next().
class BatchLoader {
 public:
  BatchLoader(const ImageDataset& data, TransformOptions transform, BatchLoaderOptions options);
  // Stops the background thread.
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;
  // The next batch, or nothing at the end of the epoch.
  std::optional<Batch> next();
  // Batches in this epoch.
  int64_t batches() const { return batches_; }

 private:
  void produce();
  Batch make_batch(int64_t index);
  // A float tensor of `sizes` for the next batch: a batch handed out earlier that nobody holds any more
  // (no tensor or view shares its memory), else a new one. Reusing them keeps the pages mapped: a fresh
  // batch of 224 px images is 19 MB that the kernel would zero again page by page.
  torch::Tensor batch_buffer(at::IntArrayRef sizes);

  const ImageDataset& data_;
  const TransformOptions transform_;
  const BatchLoaderOptions options_;
  torch::Tensor order_;
  int64_t batches_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> ready_;
  int64_t produced_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
  std::vector<torch::Tensor> handed_out_;  // producer thread only: the last batches, for batch_buffer
  std::thread thread_;
};

}  // namespace effscale::trainers
