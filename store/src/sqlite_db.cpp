#include "effscale/store/sqlite_db.h"

#include "effscale/store/store_error.h"

namespace effscale::store {
namespace {

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  throw StoreFailure("database error: " + std::string(sqlite3_errmsg(db)) + " (" + what + ")");
}

}  // namespace

SqliteDb::SqliteDb(const std::string& path, int busy_timeout_ms, bool create) : path_(path) {
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreInputError("cannot open database '" + path + "': " + message);
  }
  sqlite3_busy_timeout(db_, busy_timeout_ms);
  try {
    exec("PRAGMA foreign_keys = ON");
    // Reads the file header without changing it: a file that is not a database fails here.
    prepare("SELECT count(*) FROM sqlite_master").step();
  } catch (const StoreFailure& e) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreInputError("'" + path + "' is not a usable SQLite database: " + e.what());
  }
}

SqliteDb::~SqliteDb() { sqlite3_close(db_); }

void SqliteDb::use_wal() {
  if (path_ != ":memory:") prepare("PRAGMA journal_mode = WAL").step();
}

void SqliteDb::exec(const std::string& sql) {
  char* error = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown";
    sqlite3_free(error);
    throw StoreFailure("database error: " + message + " (" + sql.substr(0, 60) + ")");
  }
}

SqliteStatement SqliteDb::prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) fail(db_, sql.substr(0, 60));
  return SqliteStatement(db_, stmt, sql);
}

int64_t SqliteDb::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }

int SqliteDb::changes() const { return sqlite3_changes(db_); }

SqliteStatement::~SqliteStatement() { sqlite3_finalize(stmt_); }

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : db_(other.db_), stmt_(other.stmt_), sql_(std::move(other.sql_)) {
  other.stmt_ = nullptr;
}

SqliteStatement& SqliteStatement::bind(int index, int64_t value) {
  if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) fail(db_, sql_);
  return *this;
}

SqliteStatement& SqliteStatement::bind(int index, double value) {
  if (sqlite3_bind_double(stmt_, index, value) != SQLITE_OK) fail(db_, sql_);
  return *this;
}

SqliteStatement& SqliteStatement::bind(int index, const std::string& value) {
  if (sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT) != SQLITE_OK)
    fail(db_, sql_);
  return *this;
}

SqliteStatement& SqliteStatement::bind_null(int index) {
  if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) fail(db_, sql_);
  return *this;
}

bool SqliteStatement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, sql_.substr(0, 60));
}

void SqliteStatement::run() {
  while (step()) {
  }
}

int64_t SqliteStatement::column_int(int c) const { return sqlite3_column_int64(stmt_, c); }
double SqliteStatement::column_double(int c) const { return sqlite3_column_double(stmt_, c); }
bool SqliteStatement::column_is_null(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }

std::string SqliteStatement::column_text(int c) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, c));
  return text ? std::string(text, sqlite3_column_bytes(stmt_, c)) : std::string();
}

SqliteTransaction::SqliteTransaction(SqliteDb& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

SqliteTransaction::~SqliteTransaction() {
  if (!done_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void SqliteTransaction::commit() {
  db_.exec("COMMIT");
  done_ = true;
}

}  // namespace effscale::store
