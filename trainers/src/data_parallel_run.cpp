#include "effscale/trainers/data_parallel_run.h"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "effscale/base/core_share.h"

namespace effscale::trainers {

int threads_for_process(int requested, const std::optional<Rendezvous>& rendezvous) {
  if (requested > 0) return requested;
  return rendezvous ? std::max(1, effscale::base::usable_cores() / rendezvous->local_world_size) : 0;
}

std::shared_ptr<ProcessGroup> join_data_parallel(const std::optional<Rendezvous>& rendezvous) {
  return rendezvous ? std::make_shared<ProcessGroup>(*rendezvous) : nullptr;
}

void use_data_parallel(const std::shared_ptr<ProcessGroup>& group, TrainerOptions& options) {
  if (!group) return;
  const int local_rank = group->rendezvous().local_rank;
  if (options.device.is_cuda()) {
    if (local_rank >= static_cast<int>(torch::cuda::device_count()))
      throw std::invalid_argument("LOCAL_RANK " + std::to_string(local_rank) + " has no CUDA device (this host has " +
                                  std::to_string(torch::cuda::device_count()) + ")");
    options.device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(local_rank));
  }
  options.group = group;
}

}  // namespace effscale::trainers
