#include "effscale/trainers/training_run.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <ostream>
#include <sstream>

#include "effscale/base/atomic_file.h"
#include "effscale/models/counts.h"
#include "effscale/models/spec_json.h"
#include "effscale/models/state_dict_file.h"
#include "effscale/models/weight_loading.h"
#include "effscale/trainers/class_names.h"

namespace effscale::trainers {

namespace fs = std::filesystem;
using nlohmann::json;

models::ArchSpec trained_spec(const models::ArchSpec& spec, const ProxyTraining& training, int64_t num_classes) {
  return adapt_spec(shrink_to_proxy(spec, training.proxy), training.bn_momentum, num_classes);
}

TrainerOptions options_for_run(TrainerOptions recipe, const models::ArchSpec& spec, const std::string& out_dir) {
  recipe.transform.resolution = spec.resolution;
  recipe.transform.channels = spec.in_channels;
  recipe.checkpoint_path = (fs::path(out_dir) / "checkpoint.pt").string();
  return recipe;
}

namespace {

// The loop's progress and epoch lines on `log`; the start note and effective learning rate of `options` come first,
// once training has started (so a run refused for its settings prints only the refusal).
TrainerCallbacks logging_callbacks(std::ostream& log, const TrainerOptions& options,
                                   const std::function<bool(const EpochReport&)>& on_epoch) {
  TrainerCallbacks callbacks;
  callbacks.on_progress = [&log, rate_said = false, per_256 = options.lr_per_256, batch = options.batch_size,
                           note = options.start_note](const StepProgress& p) mutable {
    if (!rate_said && !note.empty()) log << note << "\n";
    if (!rate_said)
      log << "learning rate " << per_256 << " per 256 images: " << scaled_learning_rate(per_256, batch) << " at batch "
          << batch << "\n";
    rate_said = true;
    log << "epoch " << p.epoch << "/" << p.epochs << "  step " << p.step << "/" << p.steps << "  loss " << p.loss
        << "  lr " << p.lr << "  " << static_cast<int>(p.images_per_second) << " img/s  eta "
        << static_cast<int>(p.eta_seconds) << "s\n";
  };
  callbacks.on_epoch = [&log, on_epoch](const EpochReport& r) {
    log << "epoch " << r.epoch << "/" << r.epochs << " done: train loss " << r.train_loss << ", val top-1 "
        << r.validation.top1 << ", top-5 " << r.validation.top5 << " (" << static_cast<int>(r.seconds) << "s)\n";
    const bool go_on = !on_epoch || on_epoch(r);
    if (!go_on) log << "pruned after epoch " << r.epoch << ": validation top-1 " << r.validation.top1 << " is behind the study\n";
    return go_on;
  };
  return callbacks;
}

// One row per epoch, as timm's summary.csv: epoch, train_loss, eval_loss, eval_top1, eval_top5, lr, seconds.
std::string summary_csv(const std::vector<EpochReport>& history) {
  std::ostringstream csv;
  csv.precision(17);
  csv << "epoch,train_loss,eval_loss,eval_top1,eval_top5,lr,seconds\n";
  for (const EpochReport& r : history)
    csv << r.epoch << ',' << r.train_loss << ',' << r.validation.loss << ',' << r.validation.top1 << ','
        << r.validation.top5 << ',' << r.lr << ',' << r.seconds << '\n';
  return csv.str();
}

}  // namespace

models::ArchSpec spec_as_trained(models::ArchSpec spec, const TrainerOptions& options) {
  if (options.dropout) spec.dropout = *options.dropout;
  if (options.drop_connect) spec.drop_connect = *options.drop_connect;
  return spec;
}

json run_training(const models::ArchSpec& given, const ProxyData& data, const TrainerOptions& options,
                  const std::string& out_dir, std::ostream& log, const std::function<bool(const EpochReport&)>& on_epoch) {
  const models::ArchSpec spec = spec_as_trained(given, options);
  const auto start = std::chrono::steady_clock::now();
  const bool leader = !options.group || options.group->leader();  // data-parallel: only rank 0 writes
  if (leader) fs::create_directories(out_dir);
  models::EfficientNet model(spec, options.seed);  // its own generators: the same whatever other workers do
  if (options.zero_init_residual) model->zero_init_residual_branches();
  TrainResult result = train(model, data.split.train, data.split.validation, options, logging_callbacks(log, options, on_epoch));
  const EvalResult test = evaluate(result.eval_model, data.test, options.transform, options.batch_size, options.device,
                                   options.group.get());
  const EvalResult& val = result.history.back().validation;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const json row = {{"model", spec.name}, {"dataset", data.dataset}, {"epochs", int64_t(result.history.size())},
                    {"val_top1", val.top1}, {"val_top5", val.top5}, {"test_top1", test.top1}, {"test_top5", test.top5},
                    {"params", models::count_params(spec)}, {"macs", models::count_macs(spec)},
                    {"resolution", spec.resolution}, {"wall_s", std::round(wall * 10) / 10},
                    {"pruned", result.stopped_early}};
  if (leader) {  // spec.json only now: a run refused for another folder's checkpoint leaves that folder as it was
    models::write_spec_file((fs::path(out_dir) / "spec.json").string(), spec);
    models::write_state_dict((fs::path(out_dir) / "weights.pth").string(),
                             models::export_weights(result.eval_model, models::WeightFormat::Effscale));
    effscale::base::write_file_atomically((fs::path(out_dir) / "summary.csv").string(), summary_csv(result.history));
    if (!data.split.train.class_names.empty())  // a folder dataset: predict names its classes
      effscale::base::write_file_atomically((fs::path(out_dir) / "classes.json").string(),
                                            class_names_json(data.split.train.class_names));
    effscale::base::write_file_atomically((fs::path(out_dir) / "result.json").string(), row.dump(2) + "\n");
  }
  return row;
}

std::optional<std::string> training_failure_reason(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const TrainingDiverged& e) {
    return std::string(e.what());
  } catch (const DataError& e) {
    return "bad data: " + std::string(e.what());
  } catch (const std::bad_alloc&) {
    return std::string("out of memory (host allocation failed)");
  } catch (const c10::Error& e) {
    const std::string what = e.what_without_backtrace();
    const bool memory = dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr ||
                        what.find("allocate memory") != std::string::npos || what.find("out of memory") != std::string::npos;
    if (memory) return "out of memory: " + what.substr(0, what.find('\n'));
  } catch (...) {
  }
  return std::nullopt;
}

}  // namespace effscale::trainers
