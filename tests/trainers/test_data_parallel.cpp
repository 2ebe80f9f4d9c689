// Data-parallel training over c10d Gloo, with the ranks as threads of one process meeting through a file:
// collectives, gradient averaging against the whole batch's gradient, sharded batches, replicas that stay
// equal, leader-only checkpoints, and resume equivalence across ranks.

#include <torch/torch.h>

#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <functional>
#include <thread>

#include "effscale/trainers/batch_loader.h"
#include "effscale/trainers/data_parallel.h"
#include "effscale/trainers/losses.h"
#include "effscale/trainers/mixed_precision.h"
#include "effscale/trainers/process_group.h"
#include "effscale/trainers/trainer.h"
#include "temp_dir.h"
#include "tiny_training.h"

using namespace effscale::trainers;
namespace m = effscale::models;
using namespace effscale::testing;

namespace {

// Runs body(group) on `ranks` threads, each joined to one group that meets through a new file in `dir`.
// Returns each rank's error message ("" when it finished). Catch's macros are not thread-safe: bodies only
// compute, the test checks afterwards.
std::vector<std::string> run_ranks(int ranks, const TempDir& dir,
                                   const std::function<void(ProcessGroup&)>& body) {
  static std::atomic<int> groups{0};
  const std::string store = dir.file("store-" + std::to_string(groups++));
  std::vector<std::string> errors(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int rank = 0; rank < ranks; ++rank)
    threads.emplace_back([&, rank] {
      try {
        Rendezvous r;
        r.rank = rank;
        r.world_size = ranks;
        r.store_file = store;
        r.timeout = std::chrono::seconds(60);
        ProcessGroup group(r);
        body(group);
      } catch (const std::exception& e) {
        errors[static_cast<size_t>(rank)] = e.what();
      }
    });
  for (std::thread& t : threads) t.join();
  return errors;
}

void require_no_errors(const std::vector<std::string>& errors) {
  for (size_t rank = 0; rank < errors.size(); ++rank) {
    INFO("rank " << rank);
    REQUIRE(errors[rank].empty());
  }
}

}  // namespace

TEST_CASE("a process group sums and broadcasts over its ranks", "[trainers][data_parallel]") {
  REQUIRE(data_parallel_available());
  TempDir dir;
  std::vector<torch::Tensor> sums(3), broadcasts(3);
  require_no_errors(run_ranks(3, dir, [&](ProcessGroup& group) {
    torch::Tensor sum = torch::tensor({double(group.rank()), 1.0});
    group.sum(sum);
    torch::Tensor mine = torch::full({2, 2}, float(group.rank() + 10));
    group.broadcast(mine, 1);
    sums[group.rank()] = sum;
    broadcasts[group.rank()] = mine;
  }));
  for (int rank = 0; rank < 3; ++rank) {
    CHECK(torch::equal(sums[rank], torch::tensor({3.0, 3.0})));
    CHECK(torch::equal(broadcasts[rank], torch::full({2, 2}, 11.0f)));
  }
}

TEST_CASE("ranks that disagree all fail alike, naming what differs", "[trainers][data_parallel]") {
  TempDir dir;
  require_no_errors(run_ranks(2, dir, [](ProcessGroup& group) { require_same_on_all_ranks(group, {{"--epochs", 7}}); }));
  const auto errors = run_ranks(3, dir, [](ProcessGroup& group) {
    require_same_on_all_ranks(group, {{"--epochs", 7}, {"the training set's size", group.rank() == 1 ? 2 : 1}});
  });
  for (const std::string& e : errors) CHECK_THAT(e, Catch::Contains("the training set's size differs between the ranks"));
}

TEST_CASE("the shards of a batch are the whole batch, transformed alike", "[trainers][data_parallel]") {
  const ImageDataset data = synthetic(20, 4);
  TransformOptions transform;
  transform.resolution = 16;
  transform.channels = 1;
  for (const bool training : {true, false}) {
    INFO("training " << training);
    BatchLoader whole(data, transform, {8, training, 5, 1, 2});
    std::vector<std::unique_ptr<BatchLoader>> shards;
    for (int s = 0; s < 3; ++s) shards.push_back(std::make_unique<BatchLoader>(data, transform, BatchLoaderOptions{8, training, 5, 1, 2, s, 3}));
    int64_t batches = 0;
    while (auto batch = whole.next()) {
      std::vector<torch::Tensor> images, labels;
      for (auto& shard : shards) {
        const auto part = shard->next();
        REQUIRE(part);
        images.push_back(part->images);
        labels.push_back(part->labels);
      }
      CHECK(torch::equal(torch::cat(images), batch->images));
      CHECK(torch::equal(torch::cat(labels), batch->labels));
      ++batches;
    }
    CHECK(batches == (training ? 2 : 3));  // evaluation keeps the short last batch of 4 (shards of 1, 1, 2)
    for (auto& shard : shards) CHECK_FALSE(shard->next());
  }
}

TEST_CASE("gradients averaged over shards equal the whole batch's gradient", "[trainers][data_parallel]") {
  const bool channels_last = GENERATE(false, true);
  INFO("channels_last " << channels_last);
  TempDir dir;
  const m::ArchSpec spec = tiny_spec(4);
  torch::manual_seed(8);
  const torch::Tensor images = torch::randn({8, 1, 16, 16}), labels = torch::randint(0, 4, {8}, torch::kLong);
  const auto loss_of = [&](m::EfficientNet& model, int64_t begin, int64_t end) {
    model->eval();  // batch norm from its running statistics, no dropout: the loss is a mean over samples
    return label_smoothing_cross_entropy(model->forward(images.slice(0, begin, end)), labels.slice(0, begin, end), 0.1);
  };
  const auto build = [&] {
    m::EfficientNet model(spec, 21);
    if (channels_last) model->set_layout(torch::MemoryFormat::ChannelsLast);
    return model;
  };
  m::EfficientNet whole = build();
  const torch::Tensor whole_loss = loss_of(whole, 0, 8);
  whole_loss.backward();

  std::vector<std::vector<torch::Tensor>> grads(2);
  std::vector<double> losses(2);
  require_no_errors(run_ranks(2, dir, [&](ProcessGroup& group) {
    m::EfficientNet replica = build();
    FlatGradients gradients(replica->parameters());
    const int64_t begin = group.rank() * 4;
    torch::Tensor loss = loss_of(replica, begin, begin + 4);
    loss.backward();
    losses[group.rank()] = gradients.average(group, loss.item<double>());
    for (const torch::Tensor& p : replica->parameters()) grads[group.rank()].push_back(p.grad().clone());
  }));
  const std::vector<torch::Tensor> expected = whole->parameters();
  for (int rank = 0; rank < 2; ++rank) {
    CHECK(losses[rank] == Approx(whole_loss.item<double>()).epsilon(1e-6));
    REQUIRE(grads[rank].size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) CHECK(torch::allclose(grads[rank][i], expected[i].grad(), 1e-4, 1e-6));
  }
  for (size_t i = 0; i < expected.size(); ++i) CHECK(torch::equal(grads[0][i], grads[1][i]));
}

TEST_CASE("data-parallel replicas stay equal, the leader alone checkpoints, and resume gives identical weights",
          "[trainers][data_parallel][resume]") {
  TempDir dir;
  const ImageDataset train_set = synthetic(96, 1), val = synthetic(30, 2);
  // Each rank trains its own replica; rank 1's checkpoint path differs, to see that it never writes one.
  const auto train_ranks = [&](const std::string& name, int64_t epochs, bool resume, uint64_t model_seed) {
    std::vector<m::EfficientNet> models(2, m::EfficientNet(nullptr)), ema(2, m::EfficientNet(nullptr));
    std::vector<TrainResult> results(2);
    const auto errors = run_ranks(2, dir, [&](ProcessGroup& group) {
      const int rank = group.rank();
      TrainerOptions o = tiny_options(dir.file(rank == 0 ? name : name + ".rank1"));
      o.epochs = epochs;
      o.resume = resume;
      o.group = std::shared_ptr<ProcessGroup>(&group, [](ProcessGroup*) {});
      models[rank] = m::EfficientNet(tiny_spec(4), model_seed + static_cast<uint64_t>(rank));
      results[rank] = train(models[rank], train_set, val, o);
    });
    return std::make_tuple(errors, models, results);
  };

  const auto [errors, straight, full] = train_ranks("straight.pt", 2, false, 3);
  require_no_errors(errors);
  REQUIRE(full[0].history.size() == 2);
  CHECK(std::filesystem::exists(dir.file("straight.pt")));
  CHECK_FALSE(std::filesystem::exists(dir.file("straight.pt.rank1")));
  check_same_state(*straight[0], *straight[1]);  // different initial weights: rank 0's won, and stayed in step
  check_same_state(*full[0].eval_model, *full[1].eval_model);
  CHECK(full[0].history[1].validation.samples == 30);  // shared out over the ranks, then summed
  CHECK(full[0].history[1].validation.top1 == full[1].history[1].validation.top1);

  require_no_errors(std::get<0>(train_ranks("resumed.pt", 1, false, 3)));  // "killed" after epoch 1
  // A rank that cannot see the leader's checkpoint stops every rank with the reason.
  const std::vector<std::string> unseen = std::get<0>(train_ranks("resumed.pt", 2, true, 50));
  for (const std::string& e : unseen) CHECK_THAT(e, Catch::Contains("is not visible to every data-parallel rank"));
  std::filesystem::copy_file(dir.file("resumed.pt"), dir.file("resumed.pt.rank1"));
  const auto [resume_errors, resumed, rest] = train_ranks("resumed.pt", 2, true, 99);
  require_no_errors(resume_errors);
  REQUIRE(rest[0].history.size() == 2);
  CHECK(rest[0].history[1].train_loss == full[0].history[1].train_loss);
  check_same_state(*straight[0], *resumed[0]);
  check_same_state(*straight[0], *resumed[1]);
  check_same_state(*full[0].eval_model, *rest[1].eval_model);
}

TEST_CASE("data-parallel ranks killed after a mid-epoch checkpoint resume there with identical weights",
          "[trainers][data_parallel][resume]") {
  TempDir dir;
  const ImageDataset train_set = synthetic(96, 1), val = synthetic(30, 2);  // 6 steps of 16 (8 a rank) an epoch
  const auto train_ranks = [&](const std::string& name, bool resume, bool kill) {
    std::vector<m::EfficientNet> models(2, m::EfficientNet(nullptr));
    const auto errors = run_ranks(2, dir, [&](ProcessGroup& group) {
      TrainerOptions o = tiny_options(dir.file(name));
      o.checkpoint_every_steps = 4;
      o.progress_every = 1;
      o.resume = resume;
      o.group = std::shared_ptr<ProcessGroup>(&group, [](ProcessGroup*) {});
      TrainerCallbacks callbacks;  // the leader's progress: "killed" at epoch 2, batch 4 (step 10)
      if (kill) callbacks.on_progress = [](const StepProgress& p) {
        if (p.epoch == 2 && p.step == 4) throw std::runtime_error("killed");
      };
      models[group.rank()] = m::EfficientNet(tiny_spec(4), 3);
      train(models[group.rank()], train_set, val, o, callbacks);
    });
    return std::make_pair(errors, models);
  };
  const auto [errors, straight] = train_ranks("straight.pt", false, false);
  require_no_errors(errors);
  const auto killed = train_ranks("resumed.pt", false, true).first;
  CHECK(killed[0] == "killed");
  CHECK_FALSE(killed[1].empty());  // rank 1 lost its peer in the next exchange
  const auto [resume_errors, resumed] = train_ranks("resumed.pt", true, false);
  require_no_errors(resume_errors);
  check_same_state(*straight[0], *resumed[0]);
  check_same_state(*straight[0], *resumed[1]);
}
