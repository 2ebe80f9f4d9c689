#include "effscale/store/postgres_db.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <optional>

#include "effscale/store/storage_location.h"
#include "effscale/store/store_error.h"
#include "one_line.h"

namespace effscale::store {
namespace {

constexpr Oid kTimestampOid = 1114;  // timestamp without time zone (pg_type.h)
// pg_advisory_xact_lock key of every effscale writer: "effscale" in ASCII.
constexpr const char* kWriteLock = "SELECT pg_advisory_xact_lock(7306071563787881573)";

bool succeeded(const PGresult* result) {
  const ExecStatusType status = PQresultStatus(result);
  return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

// Owns a successful PGresult.
struct Result {
  explicit Result(PGresult* result) : result(result) {}
  ~Result() { PQclear(result); }
  Result(const Result&) = delete;
  Result& operator=(const Result&) = delete;
  PGresult* result;
};

// "?" placeholders as PostgreSQL's $1, $2, ... (effscale's statements have no '?' inside literals).
std::string numbered_placeholders(const std::string& sql, int& count) {
  std::string out;
  count = 0;
  for (char c : sql) {
    if (c == '?') out += "$" + std::to_string(++count);
    else out += c;
  }
  return out;
}

// A timestamp as Optuna writes it: six fractional digits always.
std::string full_microseconds(std::string text) {
  const size_t dot = text.find('.');
  if (dot == std::string::npos) return text + ".000000";
  return text + std::string(6 - std::min<size_t>(6, text.size() - dot - 1), '0');
}

class PostgresStatement : public SqlStatementBackend {
 public:
  PostgresStatement(PostgresDb& db, const std::string& sql) : db_(db), sql_(sql) {
    int count = 0;
    numbered_ = numbered_placeholders(sql, count);
    params_.resize(static_cast<size_t>(count));
  }

  void bind_int(int index, int64_t value) override { set(index, std::to_string(value)); }
  void bind_double(int index, double value) override {
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", value);  // round-trips exactly
    set(index, text);
  }
  void bind_text(int index, const std::string& value) override { set(index, value); }
  void bind_null(int index) override { params_.at(static_cast<size_t>(index - 1)).reset(); }
  bool step() override {
    if (!result_) {
      std::vector<const char*> values;
      for (const auto& p : params_) values.push_back(p ? p->c_str() : nullptr);
      result_ = std::make_unique<Result>(db_.run(sql_, [&](PGconn* conn) {
        return PQexecParams(conn, numbered_.c_str(), static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                            nullptr, 0);
      }));
      row_ = -1;
    }
    return ++row_ < PQntuples(result_->result);
  }
  int64_t column_int(int c) const override { return column_is_null(c) ? 0 : std::strtoll(value(c), nullptr, 10); }
  double column_double(int c) const override { return column_is_null(c) ? 0.0 : std::strtod(value(c), nullptr); }
  bool column_is_null(int c) const override { return PQgetisnull(result_->result, row_, c) != 0; }
  std::string column_text(int c) const override {
    if (column_is_null(c)) return {};
    return PQftype(result_->result, c) == kTimestampOid ? full_microseconds(value(c)) : std::string(value(c));
  }

 private:
  void set(int index, std::string text) { params_.at(static_cast<size_t>(index - 1)) = std::move(text); }
  const char* value(int c) const { return PQgetvalue(result_->result, row_, c); }

  PostgresDb& db_;
  std::string sql_, numbered_;
  std::vector<std::optional<std::string>> params_;
  std::unique_ptr<Result> result_;
  int row_ = -1;
};

}  // namespace

PostgresDb::PostgresDb(const std::string& url) {
  const StorageLocation location = parse_storage_url(url);
  name_ = location.display;
  if (location.kind != StorageLocation::Kind::Postgres)
    throw StoreInputError("storage URL '" + name_ + "': not a postgresql:// URL");
  conn_ = PQconnectdb(location.libpq_url.c_str());
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    const std::string message = one_line(conn_ ? PQerrorMessage(conn_) : "out of memory");
    PQfinish(conn_);
    conn_ = nullptr;
    throw StoreInputError("cannot connect to the study database '" + name_ + "': " + message);
  }
  PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);  // no server notices on stderr
}

PostgresDb::~PostgresDb() { PQfinish(conn_); }

PGresult* PostgresDb::run(const std::string& sql, const std::function<PGresult*(PGconn*)>& attempt) {
  PGresult* result = attempt(conn_);
  if (!succeeded(result) && !in_transaction_ && PQstatus(conn_) == CONNECTION_BAD) {
    PQclear(result);  // the server dropped us between transactions: reconnect once and try again
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK)
      throw StoreFailure("lost the connection to the study database '" + name_ + "' and could not reconnect: " +
                         one_line(PQerrorMessage(conn_)));
    result = attempt(conn_);
  }
  if (!succeeded(result)) {
    const std::string message = one_line(result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn_));
    PQclear(result);
    throw StoreFailure("database error: " + message + " (" + sql.substr(0, 60) + ")");
  }
  return result;
}

void PostgresDb::exec(const std::string& sql) {
  PQclear(run(sql, [&](PGconn* conn) { return PQexec(conn, sql.c_str()); }));
}

SqlStatement PostgresDb::prepare(const std::string& sql) {
  return SqlStatement(std::make_unique<PostgresStatement>(*this, sql));
}

void PostgresDb::begin_exclusive() {
  exec("BEGIN");
  in_transaction_ = true;
  try {
    exec(kWriteLock);
  } catch (...) {
    rollback();
    throw;
  }
}

void PostgresDb::commit() {
  exec("COMMIT");
  in_transaction_ = false;
}

void PostgresDb::rollback() noexcept {
  PQclear(PQexec(conn_, "ROLLBACK"));
  in_transaction_ = false;
}

std::vector<std::string> PostgresDb::table_names() {
  auto stmt = prepare("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
                      "ORDER BY table_name");
  std::vector<std::string> names;
  while (stmt.step()) names.push_back(stmt.column_text(0));
  return names;
}

}  // namespace effscale::store
