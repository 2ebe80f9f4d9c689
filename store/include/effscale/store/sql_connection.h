#pragma once
// SqlConnection: what the study storage needs of a relational database (prepared statements with '?'
// placeholders, a transaction holding the write lock, the table list), implemented over SQLite
// (sqlite_db.h) and PostgreSQL (postgres_db.h). Failures throw StoreFailure with the database's message.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace effscale::store {

enum class SqlDialect { Sqlite, Postgres };

// One prepared statement inside a backend. Bind indices are 1-based; columns 0-based.
class SqlStatementBackend {
 public:
  virtual ~SqlStatementBackend() = default;
  virtual void bind_int(int index, int64_t value) = 0;
  virtual void bind_double(int index, double value) = 0;
  virtual void bind_text(int index, const std::string& value) = 0;
  virtual void bind_null(int index) = 0;
  // Runs the statement on the first call; advances to the next row: true when a row is available.
  virtual bool step() = 0;
  virtual int64_t column_int(int column) const = 0;
  virtual double column_double(int column) const = 0;
  // Timestamps read as Optuna writes them: "YYYY-MM-DD HH:MM:SS.ffffff".
  virtual std::string column_text(int column) const = 0;
  virtual bool column_is_null(int column) const = 0;
};

// A prepared statement: bind its parameters, then step() through its rows or run() it.
class SqlStatement {
 public:
  explicit SqlStatement(std::unique_ptr<SqlStatementBackend> backend) : backend_(std::move(backend)) {}

  SqlStatement& bind(int index, int64_t value) { return backend_->bind_int(index, value), *this; }
  SqlStatement& bind(int index, double value) { return backend_->bind_double(index, value), *this; }
  SqlStatement& bind(int index, const std::string& value) { return backend_->bind_text(index, value), *this; }
  SqlStatement& bind_null(int index) { return backend_->bind_null(index), *this; }
  // Advances to the next row: true when a row is available, false when done.
  bool step() { return backend_->step(); }
  // Runs a statement, discarding any rows.
  void run() {
    while (step()) {
    }
  }
  // Runs a statement that returns at most one integer (INSERT / UPDATE ... RETURNING id): that integer, or
  // nothing when no row came back. The statement is finished before it returns.
  std::optional<int64_t> run_returning_int() {
    std::optional<int64_t> value;
    if (step()) value = column_int(0);
    run();
    return value;
  }
  int64_t column_int(int column) const { return backend_->column_int(column); }
  double column_double(int column) const { return backend_->column_double(column); }
  std::string column_text(int column) const { return backend_->column_text(column); }
  bool column_is_null(int column) const { return backend_->column_is_null(column); }

 private:
  std::unique_ptr<SqlStatementBackend> backend_;
};

// One connection to a database. Not thread-safe: one per thread, or behind a mutex.
class SqlConnection {
 public:
  virtual ~SqlConnection() = default;
  virtual SqlDialect dialect() const = 0;
  // The database as messages name it (a file path, or a URL without its password).
  virtual const std::string& name() const = 0;
  // Runs one or more statements without parameters or results.
  virtual void exec(const std::string& sql) = 0;
  // Compiles one statement; parameters are written '?' in every dialect.
  virtual SqlStatement prepare(const std::string& sql) = 0;
  // Starts a transaction that holds the database's write lock from the start, so that read-then-write
  // inside it is atomic across processes.
  virtual void begin_exclusive() = 0;
  virtual void commit() = 0;
  // Rolls the open transaction back; never throws.
  virtual void rollback() noexcept = 0;
  // The tables of the database (its current schema), by name.
  virtual std::vector<std::string> table_names() = 0;
};

// begin_exclusive() on construction; rolled back on destruction unless commit() was called.
class SqlTransaction {
 public:
  explicit SqlTransaction(SqlConnection& db) : db_(db) { db_.begin_exclusive(); }
  ~SqlTransaction() {
    if (!done_) db_.rollback();
  }
  SqlTransaction(const SqlTransaction&) = delete;
  SqlTransaction& operator=(const SqlTransaction&) = delete;
  void commit() {
    db_.commit();
    done_ = true;
  }

 private:
  SqlConnection& db_;
  bool done_ = false;
};

}  // namespace effscale::store
