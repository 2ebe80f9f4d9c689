#include "effscale/app_training/recorded_run.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <ostream>

#include "effscale/cli/output_table.h"
#include "effscale/models/atomic_file.h"
#include "effscale/models/counts.h"
#include "effscale/models/spec_json.h"
#include "effscale/models/state_dict_file.h"
#include "effscale/models/weight_loading.h"
#include "effscale/store/trial_heartbeat.h"

namespace effscale::app_training {

namespace fs = std::filesystem;
using nlohmann::json;

store::Trial open_run_trial(store::Storage& storage, int64_t study_id, const std::string& out_dir, bool resume) {
  // The trial names its folder (system attribute run_dir) from the transaction that creates it, so a run
  // killed at any moment never leaves a trial its rerun cannot find.
  const std::string run_dir = fs::absolute(out_dir).lexically_normal().string();
  if (resume) {
    std::optional<store::Trial> latest;
    for (const store::Trial& t : storage.get_trials(study_id, {}))
      if (t.system_attrs.value("run_dir", "") == run_dir) latest = t;
    if (latest && (latest->state == store::TrialState::Running || latest->state == store::TrialState::Complete))
      return *latest;
  }
  return storage.get_trial(storage.create_trial_with(study_id, {}, {{"run_dir", run_dir}}).trial_id);
}

json run_recorded_training(store::Storage* storage, std::optional<store::Trial> trial, const models::ArchSpec& spec,
                           const ProxyData& data, const trainers::TrainerOptions& options, const std::string& out_dir,
                           const json& attrs, std::ostream& log, const std::function<double(const json&)>& value_of,
                           store::Pruner* pruner) {
  const auto start = std::chrono::steady_clock::now();
  const bool leader = !options.group || options.group->leader();  // data-parallel: only rank 0 writes and records
  if (leader) {
    fs::create_directories(out_dir);
    models::write_spec_file((fs::path(out_dir) / "spec.json").string(), spec);
  }
  const bool recording = leader && storage != nullptr && trial && trial->state == store::TrialState::Running;
  std::unique_ptr<store::TrialHeartbeat> heartbeat;
  if (recording) {
    heartbeat = std::make_unique<store::TrialHeartbeat>(*storage, trial->trial_id, std::chrono::seconds(2));
    json all = {{"model", spec.name}, {"stages", json::parse(models::spec_to_json(spec))["stages"]},
                {"params", models::count_params(spec)}, {"macs", models::count_macs(spec)},
                {"resolution", spec.resolution}, {"dataset", data.dataset}, {"epochs", options.epochs},
                {"batch_size", options.batch_size}, {"seed", options.seed}, {"checkpoint", options.checkpoint_path}};
    all.update(attrs);
    for (const auto& [key, value] : all.items()) storage->set_trial_attr(trial->trial_id, key, value, false);
  }

  models::EfficientNet model(spec, options.seed);  // its own generators: the same whatever other workers do
  trainers::TrainerCallbacks callbacks;
  callbacks.on_progress = [&log](const trainers::StepProgress& p) {
    log << "epoch " << p.epoch << "/" << p.epochs << "  step " << p.step << "/" << p.steps << "  loss " << p.loss
        << "  lr " << p.lr << "  " << static_cast<int>(p.images_per_second) << " img/s  eta "
        << static_cast<int>(p.eta_seconds) << "s\n";
  };
  callbacks.on_epoch = [&](const trainers::EpochReport& r) {
    log << "epoch " << r.epoch << "/" << r.epochs << " done: train loss " << r.train_loss << ", val top-1 "
        << r.validation.top1 << ", top-5 " << r.validation.top5 << " (" << static_cast<int>(r.seconds) << "s)\n";
    if (!recording) return true;
    storage->report_intermediate(trial->trial_id, r.epoch, r.validation.top1);
    if (pruner != nullptr && r.epoch < r.epochs &&
        pruner->should_prune(*storage, trial->study_id, trial->trial_id, r.epoch, r.validation.top1)) {
      log << "pruned after epoch " << r.epoch << ": validation top-1 " << r.validation.top1 << " is behind the study\n";
      return false;
    }
    return true;
  };
  trainers::TrainResult result;
  try {
    result = trainers::train(model, data.split.train, data.split.validation, options, callbacks);
  } catch (const trainers::TrainingDiverged& e) {
    if (recording) {
      heartbeat.reset();
      storage->set_trial_attr(trial->trial_id, "fail_reason", e.what(), false);
      storage->finish_trial(trial->trial_id, store::TrialState::Fail, {});
    }
    throw;
  }
  const trainers::EvalResult test = trainers::evaluate(result.eval_model, data.test, options.transform,
                                                      options.batch_size, options.device, options.group.get());
  const trainers::EvalResult& val = result.history.back().validation;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const json row = {{"model", spec.name}, {"dataset", data.dataset}, {"epochs", int64_t(result.history.size())},
                    {"val_top1", val.top1}, {"val_top5", val.top5}, {"test_top1", test.top1}, {"test_top5", test.top5},
                    {"params", models::count_params(spec)}, {"macs", models::count_macs(spec)},
                    {"resolution", spec.resolution}, {"wall_s", std::round(wall * 10) / 10},
                    {"pruned", result.stopped_early}};
  if (leader) {
    models::write_state_dict((fs::path(out_dir) / "weights.pth").string(),
                             models::export_weights(result.eval_model, models::WeightFormat::Effscale));
    models::write_file_atomically((fs::path(out_dir) / "result.json").string(), row.dump(2) + "\n");
  }
  if (recording) {
    heartbeat.reset();
    for (const char* key : {"val_top1", "test_top1", "test_top5", "val_top5", "wall_s"}) storage->set_trial_attr(trial->trial_id, key, row[key], false);
    if (result.stopped_early) storage->finish_trial(trial->trial_id, store::TrialState::Pruned, {});
    else storage->finish_trial(trial->trial_id, store::TrialState::Complete, {value_of ? value_of(row) : val.top1});
  }
  return row;
}

}  // namespace effscale::app_training
