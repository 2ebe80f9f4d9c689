#pragma once
// A training command started as one of several data-parallel processes (by torchrun, or with its variables).

#include <memory>
#include <optional>

#include "effscale/trainers/process_group.h"
#include "effscale/trainers/trainer.h"

namespace effscale::trainers {

// The CPU threads this process should use when `requested` threads are asked for: that number when above 0; otherwise,
// with a `rendezvous`, the usable cores shared evenly by its processes on this host (LOCAL_WORLD_SIZE), fixed so that
// the ranks keep step; without one, 0: configure_cpu_runtime's share of the cores among effscale's processes.
int threads_for_process(int requested, const std::optional<Rendezvous>& rendezvous);

// Joins the group `rendezvous` describes, blocking until every rank has; null when there is none (one
// process). Throws std::invalid_argument when the build has no Gloo, std::runtime_error when the group
// cannot be joined.
std::shared_ptr<ProcessGroup> join_data_parallel(const std::optional<Rendezvous>& rendezvous);

// Makes `options` train data-parallel in `group` (nothing when it is null): sets options.group, and a CUDA
// device becomes this host's cuda:LOCAL_RANK. Throws std::invalid_argument when that device is missing.
void use_data_parallel(const std::shared_ptr<ProcessGroup>& group, TrainerOptions& options);

}  // namespace effscale::trainers
