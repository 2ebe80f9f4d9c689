#pragma once
// Thin RAII wrappers over the SQLite C API: a connection, prepared statements and transactions.
// Every failure throws StoreFailure with SQLite's message and the statement.

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>

namespace effscale::store {

class SqliteStatement;

// One connection, opened read-write (creating the file when `create`), busy timeout, foreign keys on.
// Opening never changes the file. Not thread-safe: use one connection per thread.
class SqliteDb {
 public:
  // Throws StoreInputError naming `path` when it cannot be opened (or does not exist and !create) or is
  // not a SQLite database.
  SqliteDb(const std::string& path, int busy_timeout_ms, bool create = true);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Switches the file to write-ahead logging (persistent; readers and a writer no longer block each other).
  void use_wal();
  // Runs one or more statements without results.
  void exec(const std::string& sql);
  // Compiles one statement.
  SqliteStatement prepare(const std::string& sql);
  int64_t last_insert_rowid() const;
  // Rows changed by the last INSERT / UPDATE / DELETE.
  int changes() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

// A prepared statement. Bind indices are 1-based; columns 0-based.
class SqliteStatement {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt, std::string sql) : db_(db), stmt_(stmt), sql_(std::move(sql)) {}
  ~SqliteStatement();
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  SqliteStatement& bind(int index, int64_t value);
  SqliteStatement& bind(int index, double value);
  SqliteStatement& bind(int index, const std::string& value);
  SqliteStatement& bind_null(int index);
  // Advances to the next row: true when a row is available, false when done.
  bool step();
  // Runs a statement that returns no rows.
  void run();
  int64_t column_int(int column) const;
  double column_double(int column) const;
  std::string column_text(int column) const;
  bool column_is_null(int column) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string sql_;
};

// BEGIN IMMEDIATE on construction (taking the write lock up front, so read-then-write is atomic across
// processes); ROLLBACK on destruction unless commit() was called.
class SqliteTransaction {
 public:
  explicit SqliteTransaction(SqliteDb& db);
  ~SqliteTransaction();
  void commit();

 private:
  SqliteDb& db_;
  bool done_ = false;
};

}  // namespace effscale::store
