#pragma once
// PostgresDb: a SqlConnection to a PostgreSQL database through libpq, for studies shared by several hosts.

#include <functional>
#include <string>

#include "effscale/store/sql_connection.h"

struct pg_conn;
struct pg_result;

namespace effscale::store {

// One connection. Writers serialise on a transaction-scoped advisory lock (the same one-writer rule as
// SQLite's BEGIN IMMEDIATE), so every read-then-write of the storage is atomic across hosts. A connection
// the server dropped (a restart, a network cut, an idle timeout) is re-established once and the statement
// retried, unless it was inside a transaction (that transaction is lost: its statement fails).
class PostgresDb : public SqlConnection {
 public:
  // Connects to `url`: a libpq URI, postgresql://[user[:password]@][host][:port][/dbname][?param=value&...]
  // (SQLAlchemy's postgresql+psycopg2:// is accepted too, so Optuna's URL works as is). Throws
  // StoreInputError naming the URL, its password hidden, when the URL is malformed (parse_storage_url), or the
  // server cannot be reached or refuses.
  explicit PostgresDb(const std::string& url);
  ~PostgresDb() override;
  PostgresDb(const PostgresDb&) = delete;
  PostgresDb& operator=(const PostgresDb&) = delete;

  SqlDialect dialect() const override { return SqlDialect::Postgres; }
  const std::string& name() const override { return name_; }
  void exec(const std::string& sql) override;
  SqlStatement prepare(const std::string& sql) override;
  void begin_exclusive() override;
  void commit() override;
  void rollback() noexcept override;
  std::vector<std::string> table_names() override;

  // Runs `attempt` (one libpq call returning a result) and returns its successful result; reconnects and
  // retries once when the connection was lost outside a transaction. Throws StoreFailure naming `sql`.
  pg_result* run(const std::string& sql, const std::function<pg_result*(pg_conn*)>& attempt);

 private:
  pg_conn* conn_ = nullptr;
  std::string name_;
  bool in_transaction_ = false;
};

}  // namespace effscale::store
