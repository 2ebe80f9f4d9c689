#pragma once
// One training run in its folder: train, evaluate on the test set, and write what a user keeps.

#include <nlohmann/json.hpp>

#include <exception>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

#include "effscale/models/arch_spec.h"
#include "effscale/trainers/proxy_task.h"
#include "effscale/trainers/trainer.h"

namespace effscale::trainers {

// How the networks a search or a grid scores are trained: each shrunk to the proxy, then trained by the recipe.
struct ProxyTraining {
  ProxyArchitecture proxy;             // how a full-size network shrinks to what is trained
  std::optional<double> bn_momentum;   // replaces the networks' BN momentum (PyTorch sense) when set
  TrainerOptions recipe;               // resolution, channels and checkpoint are set per run (options_for_run)
};

// `spec` as `training` trains it on data of `num_classes` classes: shrunk to the proxy, BN momentum and classes
// replaced (adapt_spec), validated. Throws SpecError when the result is not a valid spec.
models::ArchSpec trained_spec(const models::ArchSpec& spec, const ProxyTraining& training, int64_t num_classes);

// `recipe` made to train `spec` in `out_dir`: the transform's resolution and input channels are the spec's,
// and the checkpoint is out_dir/checkpoint.pt.
TrainerOptions options_for_run(TrainerOptions recipe, const models::ArchSpec& spec, const std::string& out_dir);

// `spec` with the recipe's regularisation: options.dropout and options.drop_connect replace the spec's rates when
// set. What run_training trains, writes to spec.json and checks a checkpoint against.
models::ArchSpec spec_as_trained(models::ArchSpec spec, const TrainerOptions& options);

// Trains spec_as_trained(`spec`, `options`) on `data` with `options`, evaluates the result on the test set, and (on the leader: every process
// unless options.group says otherwise) writes, once trained, out_dir/spec.json, out_dir/weights.pth (the evaluated
// weights, the EMA copy when enabled, in torch.save format with our names), out_dir/summary.csv (one row per
// epoch: epoch, train_loss, eval_loss, eval_top1, eval_top5, lr, seconds), out_dir/classes.json (the class
// names, for folder datasets) and out_dir/result.json, each
// atomically. Progress lines go to `log`, the effective learning rate first; `on_epoch` (optional) is called after each epoch on the leader and
// returning false stops the run there (pruning). Returns the summary row: model, dataset, epochs, val_top1,
// val_top5, test_top1, test_top5, params, macs, resolution, wall_s, pruned. Throws what train() throws.
nlohmann::json run_training(const models::ArchSpec& spec, const ProxyData& data, const TrainerOptions& options,
                            const std::string& out_dir, std::ostream& log,
                            const std::function<bool(const EpochReport&)>& on_epoch = nullptr);

// The failure policy of runs scored inside a study: the reason a training error belongs to the run's own trial
// (the loss diverged, memory ran out, an image could not be decoded), or nothing for every other error (bad
// settings, storage trouble), which must stop the worker. Pass std::current_exception() from a catch block.
std::optional<std::string> training_failure_reason(const std::exception_ptr& error);

}  // namespace effscale::trainers
