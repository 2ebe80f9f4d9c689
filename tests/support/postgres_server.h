#pragma once
// A throwaway PostgreSQL server for the tests (Debian's postgresql package): initdb in a new folder under
// /tmp, listening only on a Unix socket there, with trust authentication; stopped and removed at exit.
// As root it runs as the `postgres` user (PostgreSQL refuses root).

#include <string>

namespace effscale::testing {

class PostgresServer {
 public:
  // The process's server, started on first use. Throws std::runtime_error with the server's log when it
  // cannot start.
  static PostgresServer& shared();
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // Creates a new empty database and returns its URL (postgresql://postgres@/NAME?host=SOCKET_DIR).
  std::string new_database();
  // Restarts the server (fast shutdown: every connection is dropped), as a maintenance restart would.
  void restart();
  // The folder holding the server's socket (libpq's host).
  const std::string& socket_dir() const { return dir_; }

 private:
  PostgresServer();
  std::string dir_, bin_, as_owner_;
  int databases_ = 0;
};

}  // namespace effscale::testing
