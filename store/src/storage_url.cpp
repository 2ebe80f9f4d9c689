#include <cstdlib>

#include "effscale/store/postgres_storage.h"
#include "effscale/store/sqlite_storage.h"
#include "effscale/store/storage_location.h"

namespace effscale::store {

std::unique_ptr<Storage> open_storage(const std::string& url, bool create, SchemaRevision revision) {
  const StorageLocation location = parse_storage_url(url);
  if (location.kind == StorageLocation::Kind::Postgres)
    return std::make_unique<PostgresStorage>(url, create, revision);
  return std::make_unique<SqliteStorage>(location.sqlite_path, create, revision);
}

std::string default_storage_url() {
  for (const char* name : {"EFFSCALE_STORAGE", "OPTUNA_STORAGE"}) {  // ours first, then the one Optuna's CLI reads
    const char* env = std::getenv(name);
    if (env != nullptr && *env != '\0') return env;
  }
  return "sqlite:///effscale.db";
}

}  // namespace effscale::store
