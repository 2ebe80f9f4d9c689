#include "loop_fixtures.h"

#include "effscale/store/sqlite_storage.h"
#include "tiny_training.h"

namespace effscale::testing {

trainers::ProxyData tiny_proxy_data() {
  trainers::ProxyData data;
  data.dataset = "synthetic";
  data.split = trainers::split_validation(synthetic(96, 1), 0.25, 1);
  data.test = synthetic(32, 2);
  data.num_classes = 4;
  return data;
}

trainers::ProxyTraining tiny_proxy_training() {
  trainers::ProxyTraining training;
  training.proxy = {16, 0.25, 0.25, 1};
  training.bn_momentum = 0.1;
  training.recipe = tiny_options("");
  training.recipe.epochs = 1;
  training.recipe.schedule.warmup_epochs = 0.5;
  return training;
}

std::shared_ptr<store::Storage> loop_backend(const std::string& kind, const TempDir& dir) {
  if (kind == "memory") return std::make_shared<store::SqliteStorage>(":memory:");
  return std::shared_ptr<store::Storage>(store::open_storage("sqlite:///" + dir.file("loops.db")));
}

std::function<std::unique_ptr<store::Storage>()> connect_to(std::shared_ptr<store::Storage> backend,
                                                           FaultyStorage::Fault fault) {
  return [backend, fault] { return std::make_unique<FaultyStorage>(backend, fault); };
}

}  // namespace effscale::testing
