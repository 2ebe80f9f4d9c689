#pragma once
// Optuna's relational schema (version 12, alembic v3.0.0.d: Optuna 3.0 and 3.1), created or checked.

#include "effscale/store/sql_connection.h"

namespace effscale::store {

inline constexpr int kOptunaSchemaVersion = 12;
inline constexpr const char* kOptunaAlembicRevision = "v3.0.0.d";
inline constexpr const char* kOptunaLibraryVersion = "3.1.0";

// In one transaction: creates Optuna's tables (in SQLite or PostgreSQL, as Optuna would) in an empty
// database, or checks that an existing one has Optuna's schema version 12 (alembic v3.0.0.d). Throws
// StoreInputError naming the database when it has another schema version or unrelated tables.
void ensure_optuna_schema(SqlConnection& db);

}  // namespace effscale::store
