#pragma once
// A training run recorded as a trial of a study: the training run (trainers) joined to a TrialRecorder (store).
// train_model, scale_models, the grid loop and the search loop all record their runs through it.

#include <nlohmann/json.hpp>

#include <functional>
#include <iosfwd>
#include <optional>
#include <string>

#include "effscale/store/pruner.h"
#include "effscale/store/storage.h"
#include "effscale/trainers/training_run.h"

namespace effscale::trainers {

// The trial a run in `out_dir` reports to. Trials carry their folder as the system attribute `run_dir`. With
// `resume`, the latest trial of that folder is reused when it is still RUNNING (a killed run) or COMPLETE
// (a finished run run again: nothing is recorded twice); otherwise a new RUNNING trial is created, naming its
// folder from the transaction that creates it.
store::Trial open_run_trial(store::Storage& storage, int64_t study_id, const std::string& out_dir, bool resume);

// run_training(spec, data, options, out_dir, log), recorded into `trial` when a storage is given, the trial is
// RUNNING and this process leads (data-parallel: rank 0). Recording opens with the user attributes model,
// stages, params, macs, resolution, dataset, epochs, batch_size, seed, checkpoint and those of `attrs` (one
// transaction, then heartbeats), reports validation top-1 per epoch as intermediate values (`pruner`, when not
// null, may stop the run: PRUNED), and finishes in one transaction with val_top1, val_top5, test_top1, test_top5
// and wall_s and, when COMPLETE, the value value_of(row) (default: val_top1). A failure the training failure
// policy names (divergence, out of memory, bad data) finishes the trial as FAIL with its fail_reason and is
// rethrown; other errors leave it RUNNING and propagate. A COMPLETE trial is left as it is. Returns the row.
nlohmann::json run_recorded_training(store::Storage* storage, std::optional<store::Trial> trial,
                                     const models::ArchSpec& spec, const ProxyData& data, const TrainerOptions& options,
                                     const std::string& out_dir, const nlohmann::json& attrs, std::ostream& log,
                                     const std::function<double(const nlohmann::json& row)>& value_of = nullptr,
                                     store::Pruner* pruner = nullptr);

}  // namespace effscale::trainers
