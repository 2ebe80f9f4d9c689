#include "effscale/trainers/checkpoint.h"

#include <torch/torch.h>

#include <sstream>

#include "effscale/base/atomic_file.h"
#include "effscale/models/spec_json.h"

namespace effscale::trainers {
namespace {

torch::Tensor text_tensor(const std::string& text) {
  return torch::from_blob(const_cast<char*>(text.data()), {static_cast<int64_t>(text.size())}, torch::kUInt8).clone();
}

std::string tensor_text(const torch::Tensor& t) {
  const torch::Tensor c = t.contiguous();
  return std::string(reinterpret_cast<const char*>(c.data_ptr<uint8_t>()), static_cast<size_t>(c.numel()));
}

}  // namespace

void save_checkpoint(const std::string& path, const models::EfficientNet& model, const models::EfficientNet* ema,
                     const TrainOptimizer& optimizer, const CheckpointMeta& meta) {
  torch::serialize::OutputArchive archive, model_archive, ema_archive;
  model->save(model_archive);
  archive.write("model", model_archive);
  if (ema != nullptr) {
    (*ema)->save(ema_archive);
    archive.write("ema", ema_archive);
  }
  optimizer.save(archive);
  archive.write("meta/epochs_done", torch::tensor(meta.epochs_done));
  archive.write("meta/steps_done", torch::tensor(meta.steps_done));
  archive.write("meta/history", text_tensor(meta.history_json));
  archive.write("meta/batches_done", torch::tensor(meta.batches_done));
  archive.write("meta/epoch_loss_sum", torch::tensor(meta.epoch_loss_sum, torch::kDouble));
  archive.write("meta/spec", text_tensor(models::spec_to_json(model->spec)));
  // Training draws from the model's own generator only (never LibTorch's global one, which other worker
  // threads of the process share): its state is the run's whole random state.
  archive.write("rng/model_noise", model->noise.get_state());
  std::ostringstream bytes;
  archive.save_to(bytes);
  effscale::base::write_file_atomically(path, bytes.str());
}

CheckpointMeta load_checkpoint(const std::string& path, models::EfficientNet& model, models::EfficientNet* ema,
                               TrainOptimizer& optimizer) {
  torch::serialize::InputArchive archive;
  CheckpointMeta meta;
  try {
    archive.load_from(path);
    torch::Tensor spec, epochs, steps, history;
    archive.read("meta/spec", spec);
    const std::string written_for = tensor_text(spec);
    if (models::spec_from_json(written_for, path) != model->spec)
      throw std::invalid_argument("checkpoint '" + path + "' was written for another model (spec '" +
                                  models::spec_from_json(written_for, path).name + "'); train this model in another folder");
    torch::serialize::InputArchive model_archive, ema_archive;
    archive.read("model", model_archive);
    model->load(model_archive);
    if (ema != nullptr) {
      archive.read("ema", ema_archive);
      (*ema)->load(ema_archive);
    }
    optimizer.load(archive);
    archive.read("meta/epochs_done", epochs);
    archive.read("meta/steps_done", steps);
    archive.read("meta/history", history);
    meta = {epochs.item<int64_t>(), steps.item<int64_t>(), tensor_text(history)};
    torch::Tensor batches, loss_sum;  // absent from checkpoints of before mid-epoch saves: an epoch's end
    if (archive.try_read("meta/batches_done", batches)) meta.batches_done = batches.item<int64_t>();
    if (archive.try_read("meta/epoch_loss_sum", loss_sum)) meta.epoch_loss_sum = loss_sum.item<double>();
    torch::Tensor noise;  // absent from checkpoints of before per-model generators: the stream starts afresh
    if (archive.try_read("rng/model_noise", noise)) model->noise.set_state(noise);
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::exception& e) {
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    throw std::invalid_argument("checkpoint '" + path + "' cannot be read: " + what);
  }
  return meta;
}

}  // namespace effscale::trainers
