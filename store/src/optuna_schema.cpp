#include "effscale/store/optuna_schema.h"

#include <algorithm>
#include <regex>
#include <string>
#include <vector>

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

// Optuna's enum types as SQLAlchemy creates them in PostgreSQL (SQLite holds them in VARCHAR columns).
const char* const kPostgresEnums[] = {
    "CREATE TYPE studydirection AS ENUM ('NOT_SET', 'MINIMIZE', 'MAXIMIZE')",
    "CREATE TYPE trialstate AS ENUM ('RUNNING', 'COMPLETE', 'PRUNED', 'FAIL', 'WAITING')",
    "CREATE TYPE trialvaluetype AS ENUM ('FINITE', 'INF_POS', 'INF_NEG')",
    "CREATE TYPE trialintermediatevaluetype AS ENUM ('FINITE', 'INF_POS', 'INF_NEG', 'NAN')"};

void replace_all(std::string& text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) text.replace(at, from.size(), to);
}

// A statement of kOptunaDdl as SQLAlchemy writes it for PostgreSQL: DATETIME is TIMESTAMP WITHOUT TIME ZONE,
// the enum columns have their types, and a table's leading integer key is SERIAL (autoincrement), except
// version_info's. Checked against the schema python3-optuna creates in PostgreSQL (test_optuna_peer).
std::string postgres_statement(std::string sql) {
  const std::pair<const char*, const char*> types[] = {
      {" DATETIME", " TIMESTAMP WITHOUT TIME ZONE"},
      {"\tdirection VARCHAR(8)", "\tdirection studydirection"},
      {"\tstate VARCHAR(8)", "\tstate trialstate"},
      {"\tintermediate_value_type VARCHAR(7)", "\tintermediate_value_type trialintermediatevaluetype"},
      {"\tvalue_type VARCHAR(7)", "\tvalue_type trialvaluetype"}};
  for (const auto& [from, to] : types) replace_all(sql, from, to);
  std::smatch key;
  if (std::regex_search(sql, key, std::regex("^CREATE TABLE \\w+ \\(\n\t(\\w+) INTEGER NOT NULL")) &&
      key[1] != "version_info_id")
    sql.replace(static_cast<size_t>(key.position(0)), static_cast<size_t>(key.length(0)),
                std::regex_replace(key.str(0), std::regex(" INTEGER NOT NULL$"), " SERIAL NOT NULL"));
  return sql;
}

bool table_exists(SqlConnection& db, const std::string& table) {
  const std::vector<std::string> names = db.table_names();
  return std::find(names.begin(), names.end(), table) != names.end();
}

// Checks the schema version and revision; returns a warning for a revision newer than effscale knows when the
// database is opened only to read (writes to it are refused).
std::string check_version(SqlConnection& db, bool read_only) {
  auto version = db.prepare("SELECT schema_version, library_version FROM version_info WHERE version_info_id = 1");
  const int64_t schema = version.step() ? version.column_int(0) : -1;
  std::string alembic = "(none)";
  if (table_exists(db, "alembic_version")) {
    auto revision = db.prepare("SELECT version_num FROM alembic_version");
    if (revision.step()) alembic = revision.column_text(0);
  }
  if (schema == kOptunaSchemaVersion && (alembic == kOptunaAlembicRevision || alembic == kOptunaAlembicRevision32))
    return "";
  const bool older = schema < kOptunaSchemaVersion || alembic < std::string(kOptunaAlembicRevision);
  if (!older && read_only && schema == kOptunaSchemaVersion)  // a later revision of the same schema: readable
    return "database '" + db.name() + "' is at Optuna schema version " + std::to_string(schema) + " (alembic " + alembic +
           "), newer than this effscale knows; reading it as " + kOptunaAlembicRevision32 + ", and no command will write to it";
  throw StoreInputError("database '" + db.name() + "' has Optuna schema version " + std::to_string(schema) +
                        " (alembic " + alembic + "); effscale reads schema " + std::to_string(kOptunaSchemaVersion) +
                        " at " + kOptunaAlembicRevision + " (Optuna 3.0-3.1) or " + kOptunaAlembicRevision32 +
                        " (Optuna 3.2 and later)" +
                        (older ? ": upgrade it with `optuna storage upgrade`"
                               : ": it was written by an Optuna this effscale does not know; use a newer effscale"));
}

}  // namespace

SchemaRevision parse_schema_revision(const std::string& text) {
  if (text == "3.0" || text == kOptunaAlembicRevision) return SchemaRevision::Optuna30;
  if (text == "latest" || text == "3.2" || text == kOptunaAlembicRevision32) return SchemaRevision::Optuna32;
  throw StoreInputError("unknown schema revision '" + text + "': expected 3.0 (" + kOptunaAlembicRevision +
                        ", Optuna 3.0-3.1) or latest (" + kOptunaAlembicRevision32 + ", Optuna 3.2 and later)");
}

std::string ensure_optuna_schema(SqlConnection& db, bool create, SchemaRevision created) {
  SqlTransaction transaction(db);
  if (table_exists(db, "version_info")) return check_version(db, /*read_only=*/!create);
  if (!db.table_names().empty())
    throw StoreInputError("database '" + db.name() + "' holds other tables and no Optuna study schema");
  if (!create) throw StoreInputError("database '" + db.name() + "' is empty: it holds no study yet");
  const bool postgres = db.dialect() == SqlDialect::Postgres;
  if (postgres)
    for (const char* statement : kPostgresEnums) db.exec(statement);
  for (const char* statement : kOptunaDdl) db.exec(postgres ? postgres_statement(statement) : statement);
  db.prepare("INSERT INTO version_info (version_info_id, schema_version, library_version) VALUES (1, ?, ?)")
      .bind(1, int64_t{kOptunaSchemaVersion})
      .bind(2, std::string(kOptunaLibraryVersion))
      .run();
  const bool v32 = created == SchemaRevision::Optuna32;
  if (v32) db.exec("CREATE INDEX trials_study_id_key ON trials (study_id)");  // Optuna 3.2's migration, as it names it
  db.prepare("INSERT INTO alembic_version (version_num) VALUES (?)")
      .bind(1, std::string(v32 ? kOptunaAlembicRevision32 : kOptunaAlembicRevision))
      .run();
  transaction.commit();
  return "";
}

}  // namespace effscale::store
