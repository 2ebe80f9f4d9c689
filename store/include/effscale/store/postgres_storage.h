#pragma once
// PostgresStorage: the study storage in a PostgreSQL database, for workers on several hosts.

#include <string>

#include "effscale/store/postgres_db.h"
#include "effscale/store/sql_storage.h"

namespace effscale::store {

// Connects to `url` (postgresql://user@host:port/dbname, as PostgresDb takes it) and creates Optuna's
// schema in an empty database (unless `create` is false: then an empty database is refused), exactly as
// python3-optuna would, or checks an existing one. Throws
// StoreInputError naming the URL (password hidden) when it cannot connect or the schema is not Optuna's. A
// database it gives the schema is at `revision`.
class PostgresStorage : public SqlStorage {
 public:
  explicit PostgresStorage(const std::string& url, bool create = true,
                           SchemaRevision revision = SchemaRevision::Optuna30)
      : SqlStorage(std::make_unique<PostgresDb>(url), create, revision) {}
};

}  // namespace effscale::store
