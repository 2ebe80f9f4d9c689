#include "effscale/trainers/recorded_training.h"

#include <filesystem>

#include "effscale/models/counts.h"
#include "effscale/models/spec_json.h"
#include "effscale/store/trial_recorder.h"

namespace effscale::trainers {

namespace fs = std::filesystem;
using nlohmann::json;

store::Trial open_run_trial(store::Storage& storage, int64_t study_id, const std::string& out_dir, bool resume) {
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

namespace {

// What a recorded run says of itself when it starts: the spec, the data and the recipe, then `attrs`.
json start_attributes(const models::ArchSpec& spec, const ProxyData& data, const TrainerOptions& options, const json& attrs) {
  json all = {{"model", spec.name}, {"stages", models::spec_to_json_value(spec)["stages"]},
              {"params", models::count_params(spec)}, {"macs", models::count_macs(spec)},
              {"resolution", spec.resolution}, {"dataset", data.dataset}, {"epochs", options.epochs},
              {"batch_size", options.batch_size}, {"seed", options.seed}, {"checkpoint", options.checkpoint_path}};
  if (options.dropout) all["dropout"] = *options.dropout;
  if (options.drop_connect) all["drop_connect"] = *options.drop_connect;
  if (options.zero_init_residual) all["zero_init_residual"] = true;
  all.update(attrs);
  return all;
}

}  // namespace

json run_recorded_training(store::Storage* storage, std::optional<store::Trial> trial, const models::ArchSpec& spec,
                           const ProxyData& data, const TrainerOptions& options, const std::string& out_dir,
                           const json& attrs, std::ostream& log, const std::function<double(const json&)>& value_of,
                           store::Pruner* pruner) {
  const bool leader = !options.group || options.group->leader();  // data-parallel: only rank 0 records
  std::optional<store::TrialRecorder> recorder;
  if (leader && storage != nullptr && trial && trial->state == store::TrialState::Running)
    recorder.emplace(*storage, *trial, start_attributes(spec, data, options, attrs));
  auto on_epoch = [&](const EpochReport& r) {
    return !recorder || !recorder->report(r.epoch, r.validation.top1, pruner, r.epoch >= r.epochs);
  };
  json row;
  try {
    row = run_training(spec, data, options, out_dir, log, on_epoch);
  } catch (...) {
    if (recorder)
      if (const auto reason = training_failure_reason(std::current_exception())) recorder->fail(*reason);
    throw;
  }
  if (recorder) {
    json final_attrs = json::object();
    for (const char* key : {"val_top1", "val_top5", "test_top1", "test_top5", "wall_s"}) final_attrs[key] = row[key];
    if (row["pruned"].get<bool>()) recorder->finish(store::TrialState::Pruned, {}, final_attrs);
    else recorder->finish(store::TrialState::Complete, {value_of ? value_of(row) : row["val_top1"].get<double>()}, final_attrs);
  }
  return row;
}

}  // namespace effscale::trainers
