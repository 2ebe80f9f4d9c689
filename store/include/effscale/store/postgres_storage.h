#pragma once
// PostgresStorage: the study storage in a PostgreSQL database, for workers on several hosts.

#include <string>

#include "effscale/store/postgres_db.h"
#include "effscale/store/sql_storage.h"

namespace effscale::store {

// Connects to `url` (postgresql://user@host:port/dbname, as PostgresDb takes it) and creates Optuna's
// schema in an empty database, exactly as python3-optuna would, or checks an existing one. Throws
// StoreInputError naming the URL (password hidden) when it cannot connect or the schema is not Optuna's.
class PostgresStorage : public SqlStorage {
 public:
  explicit PostgresStorage(const std::string& url) : SqlStorage(std::make_unique<PostgresDb>(url)) {}
};

}  // namespace effscale::store
