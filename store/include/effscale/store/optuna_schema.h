#pragma once
// Optuna's relational schema (version 12: alembic v3.0.0.d for Optuna 3.0-3.1, v3.2.0.a for Optuna 3.2 on), created
// or checked.

#include <string>

#include "effscale/store/sql_connection.h"

namespace effscale::store {

inline constexpr int kOptunaSchemaVersion = 12;
inline constexpr const char* kOptunaAlembicRevision = "v3.0.0.d";
inline constexpr const char* kOptunaLibraryVersion = "3.1.0";
// Optuna 3.2's revision: v3.0.0.d plus the non-unique index trials_study_id_key on trials(study_id), which every
// Optuna from 3.2 on asks `optuna storage upgrade` for. effscale reads and writes it as it does v3.0.0.d.
inline constexpr const char* kOptunaAlembicRevision32 = "v3.2.0.a";

// The revision a new database is created at: v3.0.0.d (the default, which Debian's Optuna 3.1 reads) or v3.2.0.a
// (what Optuna 3.2 and later create, and optuna-dashboard asks for). An existing database keeps its own.
enum class SchemaRevision { Optuna30, Optuna32 };

// "3.0" / "v3.0.0.d" -> Optuna30; "latest" / "3.2" / "v3.2.0.a" -> Optuna32. Throws StoreInputError naming the
// accepted spellings for anything else.
SchemaRevision parse_schema_revision(const std::string& text);

// In one transaction: creates Optuna's tables (in SQLite or PostgreSQL, as Optuna 3.1 would: v3.0.0.d, which
// Debian's python3-optuna reads; with `created` Optuna32, v3.2.0.a with its index) in an empty database, or checks that an existing one has Optuna's schema version
// 12 at alembic v3.0.0.d or v3.2.0.a. Throws StoreInputError naming the database when it has another schema
// version or revision (an older one: upgrade it with Optuna; a newer one: this effscale does not know it) or
// unrelated tables; the database is then unchanged.
// With `create` false (a database opened only to read) an empty database is refused too (StoreInputError), and
// left empty; a newer alembic revision of schema version 12 is accepted then, and the returned text warns of it (empty
// otherwise): queries read it as v3.2.0.a, and any open to write it is refused as above.
std::string ensure_optuna_schema(SqlConnection& db, bool create = true,
                                 SchemaRevision created = SchemaRevision::Optuna30);

}  // namespace effscale::store
