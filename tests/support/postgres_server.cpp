#include "postgres_server.h"

#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

#include "run_command.h"

namespace effscale::testing {
namespace {

std::string checked(const std::string& what, const std::string& command) {
  const CommandResult r = run_command(command);
  if (r.exit_status != 0) throw std::runtime_error("test PostgreSQL server: " + what + " failed: " + r.err + r.out);
  return r.out;
}

}  // namespace

PostgresServer& PostgresServer::shared() {
  static PostgresServer server;
  return server;
}

PostgresServer::PostgresServer() {
  char pattern[] = "/tmp/effscale-pg-XXXXXX";
  if (mkdtemp(pattern) == nullptr) throw std::runtime_error("test PostgreSQL server: cannot make a folder in /tmp");
  dir_ = pattern;
  bin_ = checked("finding the server", "ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1");
  while (!bin_.empty() && bin_.back() == '\n') bin_.pop_back();
  if (geteuid() == 0) {
    as_owner_ = "runuser -u postgres -- ";
    checked("handing the folder over", "chown postgres " + shell_quote(dir_));
  }
  checked("initdb", as_owner_ + bin_ + "/initdb --no-sync -A trust -U postgres -D " + shell_quote(dir_ + "/data"));
  checked("starting it (log: " + dir_ + "/log)",
          as_owner_ + bin_ + "/pg_ctl -w -D " + shell_quote(dir_ + "/data") + " -l " + shell_quote(dir_ + "/log") +
              " -o " + shell_quote("-k " + dir_ + " -c listen_addresses='' -c fsync=off -c max_connections=60") + " start");
}

PostgresServer::~PostgresServer() {
  run_command(as_owner_ + bin_ + "/pg_ctl -D " + shell_quote(dir_ + "/data") + " -m immediate stop");
  run_command("rm -rf " + shell_quote(dir_));
}

void PostgresServer::restart() {
  checked("restarting it", as_owner_ + bin_ + "/pg_ctl -w -m fast -D " + shell_quote(dir_ + "/data") + " restart");
}

std::string PostgresServer::new_database() {
  const std::string name = "study" + std::to_string(++databases_);
  checked("creating a database", "psql -q -h " + shell_quote(dir_) + " -U postgres -d postgres -c " +
                                      shell_quote("CREATE DATABASE " + name));
  return "postgresql://postgres@/" + name + "?host=" + dir_;
}

}  // namespace effscale::testing
