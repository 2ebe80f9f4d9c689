#pragma once
// What the search-loop and grid-loop tests share: tiny synthetic proxy data, a tiny proxy recipe, and study
// databases (SQLite in memory shared by every worker, or a SQLite file) behind a fault-injecting wrapper.

#include <memory>
#include <string>

#include "effscale/store/storage.h"
#include "effscale/trainers/proxy_task.h"
#include "effscale/trainers/training_run.h"
#include "faulty_storage.h"
#include "temp_dir.h"

namespace effscale::testing {

// 72 training, 24 validation and 32 test synthetic 12x12 grey images of 4 classes.
trainers::ProxyData tiny_proxy_data();

// Shrinks to width and depth 0.25 at 16 px with one input channel, BN momentum 0.1, one epoch of batch 16.
trainers::ProxyTraining tiny_proxy_training();

// A study database: "memory" (one in-memory SQLite every connection shares) or "file" (a SQLite file in `dir`).
std::shared_ptr<store::Storage> loop_backend(const std::string& kind, const TempDir& dir);

// Connections to `backend` for a job's workers, failing as `fault` says (null: never).
std::function<std::unique_ptr<store::Storage>()> connect_to(std::shared_ptr<store::Storage> backend,
                                                           FaultyStorage::Fault fault = nullptr);

}  // namespace effscale::testing
