#pragma once
// ProcessGroup: the processes of one data-parallel run and the two collectives training needs (sum and
// broadcast), over c10d's Gloo backend (torch.distributed's own engine), joined the way torchrun starts
// its workers: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT in the environment.

#include <torch/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>

namespace effscale::trainers {

// Where and as what this process joins a group.
struct Rendezvous {
  int rank = 0;                      // RANK: 0 .. world_size - 1; rank 0 leads (checkpoints, records, prints)
  int world_size = 1;                // WORLD_SIZE
  int local_rank = 0;                // LOCAL_RANK: which device of this host (cuda:LOCAL_RANK)
  int local_world_size = 1;          // LOCAL_WORLD_SIZE: processes on this host (they share its cores)
  std::string master_addr = "127.0.0.1";  // MASTER_ADDR: the host of the rendezvous store
  int master_port = 29500;           // MASTER_PORT
  bool agent_store = false;          // TORCHELASTIC_USE_AGENT_STORE=True: torchrun's agent hosts the store
  int restart_count = 0;             // TORCHELASTIC_RESTART_COUNT: torchrun's attempt (keys are per attempt)
  std::string store_file;            // non-empty: meet through this file instead of TCP (one host or a shared
                                     // filesystem; the tests use it); it must not exist before the first joins
  std::chrono::milliseconds timeout = std::chrono::minutes(30);  // for joining and for every collective
};

// The rendezvous the environment describes (torchrun's variables above), or nothing when WORLD_SIZE is unset
// or 1. Throws std::invalid_argument naming the variable when one is missing or malformed.
std::optional<Rendezvous> rendezvous_from_environment();

// True when this build can join a group of several processes (LibTorch with Gloo and its headers).
bool data_parallel_available();

// One process's membership of a group. Every member must call each collective in the same order.
class ProcessGroup {
 public:
  // Joins: blocks until all world_size processes have joined. Throws std::runtime_error naming the address
  // when they do not within the timeout, std::invalid_argument when the rendezvous is inconsistent or this
  // build has no Gloo.
  explicit ProcessGroup(const Rendezvous& rendezvous);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const { return rendezvous_.rank; }
  int size() const { return rendezvous_.world_size; }
  bool leader() const { return rendezvous_.rank == 0; }
  const Rendezvous& rendezvous() const { return rendezvous_; }

  // Replaces `values` (a contiguous CPU tensor) by its elementwise sum over all ranks. Throws
  // std::runtime_error when a member fails or the timeout passes.
  void sum(torch::Tensor& values);
  // Replaces `values` (a contiguous CPU tensor of the same shape on every rank) by rank `root`'s.
  void broadcast(torch::Tensor& values, int root = 0);

 private:
  struct Backend;
  Rendezvous rendezvous_;
  std::unique_ptr<Backend> backend_;
};

}  // namespace effscale::trainers
