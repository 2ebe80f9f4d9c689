#include "effscale/trainers/process_group.h"

#include <torch/torch.h>

#include <cstdlib>
#include <stdexcept>

#if EFFSCALE_WITH_GLOO
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace effscale::trainers {
namespace {

std::optional<std::string> environment(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

std::invalid_argument missing(const char* name) {
  return std::invalid_argument(std::string("environment variable ") + name +
                               " is not set (WORLD_SIZE is above 1, so RANK, MASTER_ADDR and MASTER_PORT must be set too)");
}

// The integer in variable `name`, `fallback` when it is unset; throws naming it when it is not an integer
// in [low, high].
int environment_int(const char* name, std::optional<int> fallback, int low, int high) {
  const std::optional<std::string> text = environment(name);
  if (!text) {
    if (fallback) return *fallback;
    throw missing(name);
  }
  size_t used = 0;
  long value = 0;
  try {
    value = std::stol(*text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != text->size() || value < low || value > high)
    throw std::invalid_argument(std::string("environment variable ") + name + "='" + *text + "': expected an integer in [" +
                                std::to_string(low) + ", " + std::to_string(high) + "]");
  return static_cast<int>(value);
}

}  // namespace

std::optional<Rendezvous> rendezvous_from_environment() {
  const int world_size = environment_int("WORLD_SIZE", 1, 1, 1 << 20);
  if (world_size == 1) return std::nullopt;
  Rendezvous r;
  r.world_size = world_size;
  r.rank = environment_int("RANK", std::nullopt, 0, world_size - 1);
  r.local_world_size = environment_int("LOCAL_WORLD_SIZE", 1, 1, world_size);
  r.local_rank = environment_int("LOCAL_RANK", 0, 0, r.local_world_size - 1);
  const std::optional<std::string> addr = environment("MASTER_ADDR");
  if (!addr) throw missing("MASTER_ADDR");
  r.master_addr = *addr;
  r.master_port = environment_int("MASTER_PORT", std::nullopt, 1, 65535);
  r.agent_store = environment("TORCHELASTIC_USE_AGENT_STORE").value_or("") == "True";
  r.restart_count = environment_int("TORCHELASTIC_RESTART_COUNT", 0, 0, 1 << 30);
  return r;
}

#if EFFSCALE_WITH_GLOO

bool data_parallel_available() { return true; }

struct ProcessGroup::Backend {
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group;
};

namespace {

// The store every member meets at: a file, or TCP at MASTER_ADDR:MASTER_PORT hosted by rank 0 (or, under
// torchrun, by its agent; keys then live under the attempt's prefix, as torch.distributed does).
c10::intrusive_ptr<c10d::Store> open_store(const Rendezvous& r) {
  if (!r.store_file.empty()) return c10::make_intrusive<c10d::FileStore>(r.store_file, r.world_size);
  c10d::TCPStoreOptions options;
  options.port = static_cast<uint16_t>(r.master_port);
  options.isServer = !r.agent_store && r.rank == 0;
  options.numWorkers = static_cast<size_t>(r.world_size);
  options.timeout = r.timeout;
  if (r.agent_store) {
    const auto tcp = c10::make_intrusive<c10d::TCPStore>(r.master_addr, options);
    return c10::make_intrusive<c10d::PrefixStore>("/worker/attempt_" + std::to_string(r.restart_count), tcp);
  }
  options.multiTenant = true;
  return c10::make_intrusive<c10d::TCPStore>(r.master_addr, options);
}

}  // namespace

ProcessGroup::ProcessGroup(const Rendezvous& r) : rendezvous_(r), backend_(std::make_unique<Backend>()) {
  if (r.world_size < 1 || r.rank < 0 || r.rank >= r.world_size)
    throw std::invalid_argument("rank " + std::to_string(r.rank) + " is outside a group of " + std::to_string(r.world_size));
  const std::string where = r.store_file.empty() ? r.master_addr + ":" + std::to_string(r.master_port) : r.store_file;
  try {
    auto options = c10d::ProcessGroupGloo::Options::create(r.timeout);
    const std::optional<std::string> interface = environment("GLOO_SOCKET_IFNAME");
    options->devices.push_back(interface ? c10d::ProcessGroupGloo::createDeviceForInterface(*interface)
                                         : c10d::ProcessGroupGloo::createDefaultDevice());
    backend_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(open_store(r), r.rank, r.world_size, options);
  } catch (const std::exception& e) {
    throw std::runtime_error("rank " + std::to_string(r.rank) + " could not join the group of " +
                             std::to_string(r.world_size) + " at " + where + ": " + e.what());
  }
}

void ProcessGroup::sum(torch::Tensor& values) {
  TORCH_CHECK(values.is_contiguous() && values.device().is_cpu(), "ProcessGroup::sum: a contiguous CPU tensor");
  std::vector<torch::Tensor> tensors{values};
  backend_->group->allreduce(tensors)->wait(rendezvous_.timeout);
}

void ProcessGroup::broadcast(torch::Tensor& values, int root) {
  TORCH_CHECK(values.is_contiguous() && values.device().is_cpu(), "ProcessGroup::broadcast: a contiguous CPU tensor");
  std::vector<torch::Tensor> tensors{values};
  c10d::BroadcastOptions options;
  options.rootRank = root;
  backend_->group->broadcast(tensors, options)->wait(rendezvous_.timeout);
}

#else

bool data_parallel_available() { return false; }

struct ProcessGroup::Backend {};

ProcessGroup::ProcessGroup(const Rendezvous& r) : rendezvous_(r) {
  throw std::invalid_argument("WORLD_SIZE=" + std::to_string(r.world_size) +
                              ": this build has no Gloo (install libgloo-dev, or Gloo's headers beside LibTorch's, "
                              "and rebuild) so it cannot train data-parallel");
}

void ProcessGroup::sum(torch::Tensor&) {}
void ProcessGroup::broadcast(torch::Tensor&, int) {}

#endif

ProcessGroup::~ProcessGroup() = default;

}  // namespace effscale::trainers
