#pragma once
// StorageLocation: what a storage URL names, read and checked before anything is opened or connected to.

#include <string>

namespace effscale::store {

// The database a storage URL names.
struct StorageLocation {
  enum class Kind { Sqlite, Postgres };
  Kind kind = Kind::Sqlite;
  std::string sqlite_path;  // Kind::Sqlite: the database file as SQLite opens it (or ":memory:")
  std::string libpq_url;    // Kind::Postgres: the URL as libpq takes it (SQLAlchemy's driver part dropped)
  std::string display;      // the URL as given, every password replaced by "***": for messages and logs
};

// Reads `url`: "sqlite:///relative/path.db", "sqlite:////absolute/path.db", "sqlite:///:memory:" or a libpq URI
// postgresql://[user[:password]@][host][:port][/dbname][?param=value&...] (postgres:// and SQLAlchemy's
// postgresql+DRIVER:// too). A PostgreSQL URL is checked by libpq's own parser without connecting. Throws
// StoreInputError naming the URL (its password hidden) when the scheme is unknown, the SQLite path is empty,
// the URL holds a NUL byte, or libpq cannot read it.
StorageLocation parse_storage_url(const std::string& url);

// `url` with every password replaced by "***": the user-info password (user:PASSWORD@, as libpq reads it: the text
// between the first ':' and the first '@' before any '/') and the value of every query parameter whose name,
// percent-decoded, is "password". Any other text is returned as given.
std::string url_without_password(const std::string& url);

}  // namespace effscale::store
