#pragma once
// One training run recorded as a trial: the piece train_model, grid_alpha_beta_gamma and scale_models share.

#include <nlohmann/json.hpp>

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

#include "effscale/app_training/training_flags.h"
#include "effscale/store/pruner.h"
#include "effscale/store/storage.h"

namespace effscale::app_training {

// The trial a run in `out_dir` reports to. Trials carry their folder as the system attribute `run_dir`. With
// `resume`, the latest trial of that folder is reused when it is still RUNNING (a killed run) or COMPLETE
// (a finished run run again: nothing is recorded twice); otherwise a new RUNNING trial is created.
store::Trial open_run_trial(store::Storage& storage, int64_t study_id, const std::string& out_dir, bool resume);

// Trains `spec` on `data` with `options` (checkpoints in out_dir), writes out_dir/spec.json, the evaluated
// weights (the EMA copy when enabled) as out_dir/weights.pth in torch.save format with our names (predict and
// Python's torch.load read it), and out_dir/result.json, and returns the summary row: model, dataset, epochs, val_top1, val_top5, test_top1,
// test_top5, params, macs, resolution, wall_s. With a storage and a RUNNING trial: user attributes (the spec's
// stages, params, MACs, resolution, dataset, seed, checkpoint, and `attrs`), heartbeats, validation top-1 per
// epoch as intermediate values, then COMPLETE with value_of(row) as the value (default: val_top1), PRUNED
// when `pruner` stops it after an epoch (the row then has "pruned": true), or FAIL with a fail_reason when
// training diverges (TrainingDiverged is rethrown). A COMPLETE trial is left as it is. Progress goes to `log`.
// Data-parallel (options.group): every rank trains and gets the row; only the leader writes files and records.
nlohmann::json run_recorded_training(store::Storage* storage, std::optional<store::Trial> trial,
                                     const models::ArchSpec& spec, const ProxyData& data,
                                     const trainers::TrainerOptions& options, const std::string& out_dir,
                                     const nlohmann::json& attrs, std::ostream& log,
                                     const std::function<double(const nlohmann::json& row)>& value_of = nullptr,
                                     store::Pruner* pruner = nullptr);

}  // namespace effscale::app_training
