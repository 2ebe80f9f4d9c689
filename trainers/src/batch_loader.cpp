#include "effscale/trainers/batch_loader.h"

#include <torch/torch.h>

#include <algorithm>

#include <tbb/parallel_for.h>

#include "effscale/base/cpu_runtime.h"

namespace effscale::trainers {

BatchLoader::BatchLoader(const ImageDataset& data, TransformOptions transform, BatchLoaderOptions options)
    : data_(data), transform_(std::move(transform)), options_(options) {
  TORCH_CHECK(options_.batch_size >= 1 && options_.prefetch >= 1, "BatchLoader: batch_size and prefetch must be >= 1");
  TORCH_CHECK(options_.shards >= 1 && options_.shard >= 0 && options_.shard < options_.shards, "BatchLoader: bad shard");
  TORCH_CHECK(options_.first_batch >= 0, "BatchLoader: first_batch must be >= 0");
  const int64_t n = data_.size();
  order_ = options_.training ? seeded_permutation(n, mix_seed(options_.seed, static_cast<uint64_t>(options_.epoch), 0xba7c))
                             : torch::arange(n, torch::kLong);
  batches_ = options_.training ? n / options_.batch_size : (n + options_.batch_size - 1) / options_.batch_size;
  produced_ = std::min(options_.first_batch, batches_);
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

torch::Tensor BatchLoader::batch_buffer(at::IntArrayRef sizes) {
  for (torch::Tensor& spare : handed_out_)
    if (spare.use_count() == 1 && spare.storage().use_count() == 1 && spare.sizes() == sizes) {
      torch::Tensor reused = spare;
      spare = torch::Tensor();  // handed out again by make_batch
      return reused;
    }
  return torch::empty(sizes, torch::kFloat);
}

Batch BatchLoader::make_batch(int64_t index) {
  // The whole batch is order_[batch_begin, +batch_count); this shard makes its slots [first, last).
  const int64_t batch_begin = index * options_.batch_size;
  const int64_t batch_count = std::min(batch_begin + options_.batch_size, data_.size()) - batch_begin;
  const int64_t first = batch_count * options_.shard / options_.shards;
  const int64_t last = batch_count * (options_.shard + 1) / options_.shards;
  const torch::Tensor idx = order_.slice(0, batch_begin + first, batch_begin + last).contiguous();
  const uint64_t seed = mix_seed(options_.seed, static_cast<uint64_t>(options_.epoch), static_cast<uint64_t>(index));
  // Decoding and transforming are per sample and independent: run them on TBB's workers, each writing its
  // slot of the batch. Each sample's randomness comes from its own seed, so the batch is the same whatever
  // the scheduling. Files decode only the region their crop reads.
  const int64_t count = last - first, resolution = transform_.resolution;
  torch::Tensor images = batch_buffer({count, transform_.channels, resolution, resolution});
  float* slots = images.data_ptr<float>();
  const int64_t slot_size = transform_.channels * resolution * resolution;
  const int64_t* ids = idx.data_ptr<int64_t>();
  tbb::parallel_for(int64_t{0}, count, [&](int64_t i) {
    // Each TBB worker runs its samples' torch ops on itself alone: an OpenMP team per worker on top of the workers
    // would oversubscribe the cores (measured: about 1.3x slower loading on 2 cores). Set once per worker thread
    // here rather than by a scheduler observer, whose registration TBB may still hold at exit.
    static thread_local const bool single_threaded = (effscale::base::limit_thread_intra_op(1), true);
    (void)single_threaded;
    const uint64_t sample_seed = mix_seed(seed, static_cast<uint64_t>(first + i));
    float* slot = slots + i * slot_size;
    if (data_.files.empty()) {
      transform_image_into(data_.images[ids[i]], transform_, options_.training, sample_seed, slot);
    } else {
      transform_image_file(data_.files.at(static_cast<size_t>(ids[i])), transform_, options_.training, sample_seed, slot);
    }
  });
  handed_out_.erase(std::remove_if(handed_out_.begin(), handed_out_.end(), [](const torch::Tensor& t) { return !t.defined(); }),
                    handed_out_.end());
  if (handed_out_.size() > size_t(options_.prefetch) + 2) handed_out_.erase(handed_out_.begin());
  handed_out_.push_back(images);
  return {images, data_.labels.index_select(0, idx)};
}

void BatchLoader::produce() {
  // This thread only prepares batches; its own torch ops stay single-threaded too.
  effscale::base::limit_thread_intra_op(1);
  for (int64_t i = options_.first_batch; i < batches_; ++i) {
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
