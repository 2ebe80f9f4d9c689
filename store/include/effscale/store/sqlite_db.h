#pragma once
// SqliteDb: a SqlConnection over one SQLite file (busy timeout, foreign keys on).

#include <sqlite3.h>

#include <cstdint>
#include <string>

#include "effscale/store/sql_connection.h"

namespace effscale::store {

// One connection, opened read-write (creating the file when `create`). Opening never changes the file.
class SqliteDb : public SqlConnection {
 public:
  // Throws StoreInputError naming `path` when it cannot be opened (or does not exist and !create), is not a
  // SQLite database, or (when `create`: opened to write) can only be read. A statement that meets a lock held past
  // the busy timeout throws StoreLocked naming the file.
  SqliteDb(const std::string& path, int busy_timeout_ms, bool create = true);
  ~SqliteDb() override;
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Switches the file to write-ahead logging (persistent; readers and a writer no longer block each other).
  void use_wal();

  SqlDialect dialect() const override { return SqlDialect::Sqlite; }
  const std::string& name() const override { return path_; }
  void exec(const std::string& sql) override;
  SqlStatement prepare(const std::string& sql) override;
  // BEGIN IMMEDIATE: SQLite's write lock, taken up front.
  void begin_exclusive() override;
  void commit() override;
  void rollback() noexcept override;
  std::vector<std::string> table_names() override;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

}  // namespace effscale::store
