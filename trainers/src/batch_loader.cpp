#include "effscale/trainers/batch_loader.h"

#include <torch/torch.h>

#include <tbb/parallel_for.h>
#include <tbb/task_scheduler_observer.h>

#include "effscale/models/cpu_runtime.h"

namespace effscale::trainers {
namespace {

// Each TBB worker runs its samples' torch ops on itself alone: an OpenMP team per worker on top of the
// workers themselves would oversubscribe the cores (measured: about 1.3x slower loading on 2 cores).
class SingleThreadedTorchOnWorkers : public tbb::task_scheduler_observer {
 public:
  SingleThreadedTorchOnWorkers() { observe(true); }
  void on_scheduler_entry(bool /*is_worker*/) override {
    models::limit_thread_intra_op(1);
  }
};

void limit_worker_threads() { static SingleThreadedTorchOnWorkers observer; }

}  // namespace

BatchLoader::BatchLoader(const ImageDataset& data, TransformOptions transform, BatchLoaderOptions options)
    : data_(data), transform_(std::move(transform)), options_(options) {
  TORCH_CHECK(options_.batch_size >= 1 && options_.prefetch >= 1, "BatchLoader: batch_size and prefetch must be >= 1");
  const int64_t n = data_.size();
  order_ = options_.training ? seeded_permutation(n, mix_seed(options_.seed, static_cast<uint64_t>(options_.epoch), 0xba7c))
                             : torch::arange(n, torch::kLong);
  batches_ = options_.training ? n / options_.batch_size : (n + options_.batch_size - 1) / options_.batch_size;
  thread_ = std::thread([this] { produce(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

Batch BatchLoader::make_batch(int64_t index) const {
  const int64_t begin = index * options_.batch_size;
  const int64_t end = std::min(begin + options_.batch_size, data_.size());
  const torch::Tensor idx = order_.slice(0, begin, end).contiguous();
  const uint64_t seed = mix_seed(options_.seed, static_cast<uint64_t>(options_.epoch), static_cast<uint64_t>(index));
  // Decoding and transforming are per sample and independent: run them on TBB's workers. Each sample's
  // randomness comes from its own seed, so the batch is the same whatever the scheduling.
  std::vector<torch::Tensor> samples(static_cast<size_t>(end - begin));
  const int64_t* ids = idx.data_ptr<int64_t>();
  limit_worker_threads();
  tbb::parallel_for(size_t{0}, samples.size(), [&](size_t i) {
    samples[i] = transform_image(data_.image(ids[i]), transform_, options_.training, mix_seed(seed, i));
  });
  return {torch::cat(samples), data_.labels.index_select(0, idx)};
}

void BatchLoader::produce() {
  // This thread only prepares batches; its own torch ops stay single-threaded too.
  models::limit_thread_intra_op(1);
  for (int64_t i = 0; i < batches_; ++i) {
    {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [&] { return stop_ || static_cast<int>(ready_.size()) < options_.prefetch; });
      if (stop_) return;
    }
    Batch batch;
    try {
      batch = make_batch(i);
    } catch (...) {
      std::lock_guard lock(mutex_);
      error_ = std::current_exception();
      changed_.notify_all();
      return;
    }
    std::lock_guard lock(mutex_);
    ready_.push_back(std::move(batch));
    ++produced_;
    changed_.notify_all();
  }
}

std::optional<Batch> BatchLoader::next() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return !ready_.empty() || error_ || produced_ == batches_; });
  if (!ready_.empty()) {
    Batch batch = std::move(ready_.front());
    ready_.pop_front();
    changed_.notify_all();
    return batch;
  }
  if (error_) std::rethrow_exception(error_);
  return std::nullopt;
}

}  // namespace effscale::trainers
