#pragma once
// A machine-wide register of the effscale processes computing on the CPU, so that processes started without
// --threads divide the cores among themselves instead of each taking all of them (OpenMP threads of several
// processes spinning on the same cores slow every one of them down several times).

#include <filesystem>

namespace effscale::base {

// How many registered processes are alive, and where this one stands among them.
struct CoreCensus {
  int processes = 1;  // live registered processes, this one included (>= 1)
  int rank = 0;       // this process's place among them in the order of their entry names, 0-based
};

// This process's entry in a register folder: a file with a random name on which the process holds an
// exclusive flock(2) until it closes (or dies, when the kernel drops the lock). Entries whose lock can be taken
// belong to dead processes and are removed by whoever counts. Not thread-safe; one per process is enough.
class CoreShareRegistry {
 public:
  // Creates `folder` (mode 0700) if missing and adds this process's entry to it. Throws std::runtime_error
  // naming the folder when it cannot be created or used, or belongs to another user.
  explicit CoreShareRegistry(std::filesystem::path folder);
  // Removes this process's entry.
  ~CoreShareRegistry();
  CoreShareRegistry(const CoreShareRegistry&) = delete;
  CoreShareRegistry& operator=(const CoreShareRegistry&) = delete;

  // Counts the live entries (this one included) and removes the entries of dead processes. Never throws: an
  // entry that cannot be read counts as alive.
  CoreCensus census() const;

  // The folder this registry lives in.
  const std::filesystem::path& folder() const { return folder_; }

 private:
  std::filesystem::path folder_, entry_;
  int fd_ = -1;
};

// The register every effscale process uses: $EFFSCALE_CPU_SHARE_DIR when set, otherwise
// /dev/shm/effscale-cpu-share-UID (memory-backed; the system's temporary folder when there is no /dev/shm).
std::filesystem::path default_core_share_folder();

// The intra-op thread count of a process given `cores` usable cores and the census: the cores split evenly, the
// remainder going to the lowest ranks, never below 1.
int share_of_cores(int cores, const CoreCensus& census);

// The cores this process may run on (its CPU affinity mask; all online cores when that cannot be read), >= 1.
int usable_cores();

}  // namespace effscale::base
