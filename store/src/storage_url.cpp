#include <cstdlib>

#include "effscale/store/postgres_storage.h"
#include "effscale/store/sqlite_storage.h"
#include "effscale/store/store_error.h"

namespace effscale::store {

std::unique_ptr<Storage> open_storage(const std::string& url, bool create, SchemaRevision revision) {
  for (const char* scheme : {"postgresql://", "postgres://", "postgresql+"})
    if (url.rfind(scheme, 0) == 0) return std::make_unique<PostgresStorage>(url, create, revision);
  const std::string scheme = "sqlite:///";
  if (url.rfind(scheme, 0) != 0)
    throw StoreInputError("storage URL '" + url +
                          "': expected sqlite:///relative/path.db, sqlite:////absolute/path.db or "
                          "postgresql://user@host:port/dbname");
  const std::string path = url.substr(scheme.size());
  if (path.empty()) throw StoreInputError("storage URL '" + url + "': the database path is empty");
  return std::make_unique<SqliteStorage>(path, create, revision);
}

std::string default_storage_url() {
  for (const char* name : {"EFFSCALE_STORAGE", "OPTUNA_STORAGE"}) {  // ours first, then the one Optuna's CLI reads
    const char* env = std::getenv(name);
    if (env != nullptr && *env != '\0') return env;
  }
  return "sqlite:///effscale.db";
}

}  // namespace effscale::store
