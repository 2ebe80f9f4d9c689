#include "effscale/store/optuna_schema.h"

#include "effscale/store/store_error.h"

namespace effscale::store {
namespace {

// Optuna 3.1's DDL, statement by statement, exactly as its SQLAlchemy models create it in SQLite
// (read back with `sqlite3 file.db .schema` from a study python3-optuna created).
const char* const kOptunaDdl[] = {
    R"SQL(CREATE TABLE studies (
	study_id INTEGER NOT NULL, 
	study_name VARCHAR(512) NOT NULL, 
	PRIMARY KEY (study_id)
))SQL",
    R"SQL(CREATE UNIQUE INDEX ix_studies_study_name ON studies (study_name))SQL",
    R"SQL(CREATE TABLE version_info (
	version_info_id INTEGER NOT NULL, 
	schema_version INTEGER, 
	library_version VARCHAR(256), 
	PRIMARY KEY (version_info_id), 
	CHECK (version_info_id=1)
))SQL",
    R"SQL(CREATE TABLE study_directions (
	study_direction_id INTEGER NOT NULL, 
	direction VARCHAR(8) NOT NULL, 
	study_id INTEGER NOT NULL, 
	objective INTEGER NOT NULL, 
	PRIMARY KEY (study_direction_id), 
	UNIQUE (study_id, objective), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
))SQL",
    R"SQL(CREATE TABLE study_user_attributes (
	study_user_attribute_id INTEGER NOT NULL, 
	study_id INTEGER, 
	"key" VARCHAR(512), 
	value_json TEXT, 
	PRIMARY KEY (study_user_attribute_id), 
	UNIQUE (study_id, "key"), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
))SQL",
    R"SQL(CREATE TABLE study_system_attributes (
	study_system_attribute_id INTEGER NOT NULL, 
	study_id INTEGER, 
	"key" VARCHAR(512), 
	value_json TEXT, 
	PRIMARY KEY (study_system_attribute_id), 
	UNIQUE (study_id, "key"), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
))SQL",
    R"SQL(CREATE TABLE trials (
	trial_id INTEGER NOT NULL, 
	number INTEGER, 
	study_id INTEGER, 
	state VARCHAR(8) NOT NULL, 
	datetime_start DATETIME, 
	datetime_complete DATETIME, 
	PRIMARY KEY (trial_id), 
	FOREIGN KEY(study_id) REFERENCES studies (study_id)
))SQL",
    R"SQL(CREATE TABLE trial_user_attributes (
	trial_user_attribute_id INTEGER NOT NULL, 
	trial_id INTEGER, 
	"key" VARCHAR(512), 
	value_json TEXT, 
	PRIMARY KEY (trial_user_attribute_id), 
	UNIQUE (trial_id, "key"), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
))SQL",
    R"SQL(CREATE TABLE trial_system_attributes (
	trial_system_attribute_id INTEGER NOT NULL, 
	trial_id INTEGER, 
	"key" VARCHAR(512), 
	value_json TEXT, 
	PRIMARY KEY (trial_system_attribute_id), 
	UNIQUE (trial_id, "key"), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
))SQL",
    R"SQL(CREATE TABLE trial_params (
	param_id INTEGER NOT NULL, 
	trial_id INTEGER, 
	param_name VARCHAR(512), 
	param_value FLOAT, 
	distribution_json TEXT, 
	PRIMARY KEY (param_id), 
	UNIQUE (trial_id, param_name), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
))SQL",
    R"SQL(CREATE TABLE trial_values (
	trial_value_id INTEGER NOT NULL, 
	trial_id INTEGER NOT NULL, 
	objective INTEGER NOT NULL, 
	value FLOAT, 
	value_type VARCHAR(7) NOT NULL, 
	PRIMARY KEY (trial_value_id), 
	UNIQUE (trial_id, objective), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
))SQL",
    R"SQL(CREATE TABLE trial_intermediate_values (
	trial_intermediate_value_id INTEGER NOT NULL, 
	trial_id INTEGER NOT NULL, 
	step INTEGER NOT NULL, 
	intermediate_value FLOAT, 
	intermediate_value_type VARCHAR(7) NOT NULL, 
	PRIMARY KEY (trial_intermediate_value_id), 
	UNIQUE (trial_id, step), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
))SQL",
    R"SQL(CREATE TABLE trial_heartbeats (
	trial_heartbeat_id INTEGER NOT NULL, 
	trial_id INTEGER NOT NULL, 
	heartbeat DATETIME NOT NULL, 
	PRIMARY KEY (trial_heartbeat_id), 
	UNIQUE (trial_id), 
	FOREIGN KEY(trial_id) REFERENCES trials (trial_id)
))SQL",
    R"SQL(CREATE TABLE alembic_version (
	version_num VARCHAR(32) NOT NULL, 
	CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
))SQL"};

bool table_exists(SqliteDb& db, const std::string& table) {
  auto stmt = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  stmt.bind(1, table);
  return stmt.step();
}

int64_t table_count(SqliteDb& db) {
  auto stmt = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'");
  stmt.step();
  return stmt.column_int(0);
}

void check_version(SqliteDb& db) {
  auto version = db.prepare("SELECT schema_version, library_version FROM version_info WHERE version_info_id = 1");
  const int64_t schema = version.step() ? version.column_int(0) : -1;
  std::string alembic = "(none)";
  if (table_exists(db, "alembic_version")) {
    auto revision = db.prepare("SELECT version_num FROM alembic_version");
    if (revision.step()) alembic = revision.column_text(0);
  }
  if (schema != kOptunaSchemaVersion || alembic != kOptunaAlembicRevision)
    throw StoreInputError("database '" + db.path() + "' has Optuna schema version " + std::to_string(schema) +
                          " (alembic " + alembic + "); effscale reads schema " +
                          std::to_string(kOptunaSchemaVersion) + " (" + kOptunaAlembicRevision +
                          ", Optuna 3.0-3.1): upgrade or downgrade it with `optuna storage upgrade`");
}

}  // namespace

void ensure_optuna_schema(SqliteDb& db) {
  SqliteTransaction transaction(db);
  if (table_exists(db, "version_info")) {
    check_version(db);
    return;
  }
  if (table_count(db) > 0)
    throw StoreInputError("database '" + db.path() + "' holds other tables and no Optuna study schema");
  for (const char* statement : kOptunaDdl) db.exec(statement);
  db.prepare("INSERT INTO version_info (version_info_id, schema_version, library_version) VALUES (1, ?, ?)")
      .bind(1, int64_t{kOptunaSchemaVersion})
      .bind(2, std::string(kOptunaLibraryVersion))
      .run();
  db.prepare("INSERT INTO alembic_version (version_num) VALUES (?)").bind(1, std::string(kOptunaAlembicRevision)).run();
  transaction.commit();
}

}  // namespace effscale::store
