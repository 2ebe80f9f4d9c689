#include "effscale/store/sqlite_db.h"

#include "effscale/store/store_error.h"

namespace effscale::store {
namespace {

// Throws StoreFailure with SQLite's message and the statement; a lock held past the busy timeout, a database
// that cannot be written and a full or failing disk are named as such, with the file.
[[noreturn]] void fail(sqlite3* db, const std::string& what) {
  const int code = sqlite3_errcode(db) & 0xff;
  const char* file = sqlite3_db_filename(db, "main");
  const std::string name = file != nullptr && *file != '\0' ? file : ":memory:";
  if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
    throw StoreLocked("database '" + name + "' is locked: another program has held its lock for longer than the "
                       "busy timeout (" + what.substr(0, 60) + ")");
  if (code == SQLITE_READONLY)
    throw StoreFailure("database '" + name + "' cannot be written (" + std::string(sqlite3_errmsg(db)) + ": " +
                       what.substr(0, 60) + ")");
  if (code == SQLITE_FULL)
    throw StoreDiskFailure("database '" + name + "' cannot grow: the disk is full (" + what.substr(0, 60) +
                           "); it keeps its last committed state: free space and run the command again");
  if (code == SQLITE_IOERR)
    throw StoreDiskFailure("database '" + name + "' could not be read or written: " + std::string(sqlite3_errmsg(db)) +
                           " (a full or failing disk?) (" + what.substr(0, 60) +
                           "); it keeps its last committed state: free space and run the command again");
  throw StoreFailure("database error: " + std::string(sqlite3_errmsg(db)) + " (" + what.substr(0, 60) + ")");
}

class SqliteStatement : public SqlStatementBackend {
 public:
  SqliteStatement(sqlite3* db, sqlite3_stmt* stmt, std::string sql) : db_(db), stmt_(stmt), sql_(std::move(sql)) {}
  ~SqliteStatement() override { sqlite3_finalize(stmt_); }
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  void bind_int(int index, int64_t value) override { check(sqlite3_bind_int64(stmt_, index, value)); }
  void bind_double(int index, double value) override { check(sqlite3_bind_double(stmt_, index, value)); }
  void bind_text(int index, const std::string& value) override {
    check(sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT));
  }
  void bind_null(int index) override { check(sqlite3_bind_null(stmt_, index)); }
  bool step() override {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, sql_);
  }
  int64_t column_int(int c) const override { return sqlite3_column_int64(stmt_, c); }
  double column_double(int c) const override { return sqlite3_column_double(stmt_, c); }
  bool column_is_null(int c) const override { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  std::string column_text(int c) const override {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, c));
    return text ? std::string(text, sqlite3_column_bytes(stmt_, c)) : std::string();
  }

 private:
  void check(int rc) const {
    if (rc != SQLITE_OK) fail(db_, sql_);
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
  std::string sql_;
};

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
  if (create && sqlite3_db_readonly(db_, "main") == 1) {  // opened to record; SQLite fell back to reading
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreInputError("database '" + path + "' is read-only (file or folder permissions, an immutable flag or a "
                          "read-only filesystem); this command records to it: make it writable or give another --storage");
  }
  try {
    exec("PRAGMA foreign_keys = ON");
    // Reads the file header without changing it: a file that is not a database fails here.
    prepare("SELECT count(*) FROM sqlite_master").step();
  } catch (const StoreFailure& e) {
    sqlite3_close(db_);
    db_ = nullptr;
    if (dynamic_cast<const StoreEnvironmentFailure*>(&e) != nullptr) throw;  // a held lock or a full disk: it says so
    throw StoreInputError("'" + path + "' is not a usable SQLite database: " + e.what());
  }
}

SqliteDb::~SqliteDb() { sqlite3_close(db_); }

void SqliteDb::use_wal() {
  if (path_ != ":memory:") prepare("PRAGMA journal_mode = WAL").step();
}

void SqliteDb::exec(const std::string& sql) {
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) fail(db_, sql);
}

SqlStatement SqliteDb::prepare(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) fail(db_, sql);
  return SqlStatement(std::make_unique<SqliteStatement>(db_, stmt, sql));
}

void SqliteDb::begin_exclusive() { exec("BEGIN IMMEDIATE"); }

void SqliteDb::commit() { exec("COMMIT"); }

void SqliteDb::rollback() noexcept { sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr); }

std::vector<std::string> SqliteDb::table_names() {
  auto stmt = prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
  std::vector<std::string> names;
  while (stmt.step()) names.push_back(stmt.column_text(0));
  return names;
}

}  // namespace effscale::store
