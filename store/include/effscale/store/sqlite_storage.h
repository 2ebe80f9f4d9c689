#pragma once
// SqliteStorage: the study storage in one SQLite file (WAL mode, busy timeout): the embedded default.

#include <string>

#include "effscale/store/sql_storage.h"
#include "effscale/store/sqlite_db.h"

namespace effscale::store {

// Opens a study database (creating it when absent and `create`); ":memory:" gives a private in-memory
// one. Several processes may open the same file. Throws StoreInputError naming the path when it does not
// exist (and !create), is not a SQLite database, has another schema, or cannot be written; a failed open
// leaves an existing file unchanged. A database it creates is at `revision`.
class SqliteStorage : public SqlStorage {
 public:
  explicit SqliteStorage(const std::string& path, bool create = true,
                         SchemaRevision revision = SchemaRevision::Optuna30, int busy_timeout_ms = 60000)
      : SqlStorage(std::make_unique<SqliteDb>(path, busy_timeout_ms, create), create, revision) {
    static_cast<SqliteDb&>(*db_).use_wal();  // only once the schema is known to be Optuna's
  }
};

}  // namespace effscale::store
