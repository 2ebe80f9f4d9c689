#include "effscale/store/sql_storage.h"

#include <algorithm>

#include <chrono>
#include <cmath>
#include <ctime>
#include <limits>

#include <fmt/format.h>

#include "effscale/store/optuna_schema.h"
#include "effscale/store/store_error.h"

namespace effscale::store {

using nlohmann::json;

namespace {

// Optuna's value_type column: FINITE, INF_POS, INF_NEG (and NAN for intermediate values).
std::string value_type(double v) {
  if (std::isnan(v)) return "NAN";
  if (std::isinf(v)) return v > 0 ? "INF_POS" : "INF_NEG";
  return "FINITE";
}

double value_from(const SqlStatement& stmt, int value_column, int type_column) {
  const std::string type = stmt.column_text(type_column);
  if (type == "INF_POS") return std::numeric_limits<double>::infinity();
  if (type == "INF_NEG") return -std::numeric_limits<double>::infinity();
  if (type == "NAN" || stmt.column_is_null(value_column)) return std::numeric_limits<double>::quiet_NaN();
  return stmt.column_double(value_column);
}

void bind_value(SqlStatement& stmt, int index, double v) {
  if (std::isfinite(v)) stmt.bind(index, v);
  else stmt.bind_null(index);
}

}  // namespace

std::string utc_now_string(double seconds_offset) {
  const auto now = std::chrono::system_clock::now() +
                   std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(seconds_offset));
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(micros / 1000000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, micros % 1000000);
}

SqlStorage::SqlStorage(std::unique_ptr<SqlConnection> db, bool create, SchemaRevision revision)
    : db_(std::move(db)) {
  try {
    open_warning_ = ensure_optuna_schema(*db_, create, revision);
  } catch (const StoreEnvironmentFailure&) {
    throw;  // a held lock or a full disk: its message says what happened
  } catch (const StoreFailure& e) {
    throw StoreInputError("cannot use '" + db_->name() + "' as a study database: " + e.what());
  }
}

Study SqlStorage::load_study(int64_t study_id) {
  auto stmt = db_->prepare("SELECT study_name FROM studies WHERE study_id = ?");
  stmt.bind(1, study_id);
  if (!stmt.step()) throw StoreInputError(fmt::format("no study with id {}", study_id));
  Study study{study_id, stmt.column_text(0), {}};
  auto dirs = db_->prepare("SELECT direction FROM study_directions WHERE study_id = ? ORDER BY objective");
  dirs.bind(1, study_id);
  while (dirs.step()) study.directions.push_back(parse_direction(dirs.column_text(0)));
  return study;
}

Study SqlStorage::create_or_load_study(const std::string& name, const std::vector<StudyDirection>& directions) {
  if (directions.empty()) throw StoreInputError("study '" + name + "': at least one direction is needed");
  std::lock_guard lock(mutex_);
  SqlTransaction transaction(*db_);
  auto find = db_->prepare("SELECT study_id FROM studies WHERE study_name = ?");
  find.bind(1, name);
  if (find.step()) {
    Study study = load_study(find.column_int(0));
    if (study.directions != directions) {
      std::string have;
      for (auto d : study.directions) have += (have.empty() ? "" : ",") + direction_name(d);
      throw StoreInputError("study '" + name + "' exists with directions " + have + "; pick another study name");
    }
    return study;
  }
  const int64_t id =
      *db_->prepare("INSERT INTO studies (study_name) VALUES (?) RETURNING study_id").bind(1, name).run_returning_int();
  for (size_t i = 0; i < directions.size(); ++i)
    db_->prepare("INSERT INTO study_directions (direction, study_id, objective) VALUES (?, ?, ?)")
        .bind(1, direction_name(directions[i]))
        .bind(2, id)
        .bind(3, static_cast<int64_t>(i))
        .run();
  transaction.commit();
  return Study{id, name, directions};
}

std::optional<Study> SqlStorage::find_study(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto find = db_->prepare("SELECT study_id FROM studies WHERE study_name = ?");
  find.bind(1, name);
  if (!find.step()) return std::nullopt;
  return load_study(find.column_int(0));
}

std::vector<Study> SqlStorage::list_studies() {
  std::lock_guard lock(mutex_);
  std::vector<int64_t> ids;
  auto stmt = db_->prepare("SELECT study_id FROM studies ORDER BY study_id");
  while (stmt.step()) ids.push_back(stmt.column_int(0));
  std::vector<Study> studies;
  for (int64_t id : ids) studies.push_back(load_study(id));
  return studies;
}

void SqlStorage::write_attr(const char* table, const char* owner, int64_t id, const std::string& key,
                               const json& value) {
  db_->prepare(fmt::format("INSERT INTO {0} ({1}, key, value_json) VALUES (?, ?, ?) "
                          "ON CONFLICT({1}, key) DO UPDATE SET value_json = excluded.value_json",
                          table, owner))
      .bind(1, id)
      .bind(2, key)
      .bind(3, value.dump())
      .run();
}

void SqlStorage::set_study_attr(int64_t study_id, const std::string& key, const json& value, bool system) {
  std::lock_guard lock(mutex_);
  SqlTransaction transaction(*db_);
  load_study(study_id);
  write_attr(system ? "study_system_attributes" : "study_user_attributes", "study_id", study_id, key, value);
  transaction.commit();
}

bool SqlStorage::compare_and_set_study_attrs(int64_t study_id, const std::string& guard_key, const json& expected,
                                                const json& updates, bool system) {
  std::lock_guard lock(mutex_);
  SqlTransaction transaction(*db_);
  load_study(study_id);
  const char* table = system ? "study_system_attributes" : "study_user_attributes";
  auto current = db_->prepare(fmt::format("SELECT value_json FROM {} WHERE study_id = ? AND key = ?", table));
  current.bind(1, study_id).bind(2, guard_key);
  const json value = current.step() ? json::parse(current.column_text(0)) : json(nullptr);
  if (value != expected) return false;  // the transaction rolls back untouched
  for (const auto& [key, v] : updates.items()) write_attr(table, "study_id", study_id, key, v);
  transaction.commit();
  return true;
}

json SqlStorage::study_attrs(int64_t study_id, bool system) {
  std::lock_guard lock(mutex_);
  auto stmt = db_->prepare(fmt::format("SELECT key, value_json FROM {} WHERE study_id = ?",
                                      system ? "study_system_attributes" : "study_user_attributes"));
  stmt.bind(1, study_id);
  json attrs = json::object();
  while (stmt.step()) attrs[stmt.column_text(0)] = json::parse(stmt.column_text(1));
  return attrs;
}

TrialRef SqlStorage::insert_trial(int64_t study_id, TrialState state) {
  load_study(study_id);
  // Inside the write lock no other writer runs, so count-then-insert gives unique numbers.
  auto count = db_->prepare("SELECT count(*) FROM trials WHERE study_id = ?");
  count.bind(1, study_id);
  count.step();
  const int number = static_cast<int>(count.column_int(0));
  auto insert = db_->prepare("INSERT INTO trials (number, study_id, state, datetime_start) VALUES (?, ?, ?, ?) "
                             "RETURNING trial_id");
  insert.bind(1, int64_t{number}).bind(2, study_id).bind(3, state_name(state));
  if (state == TrialState::Running) insert.bind(4, utc_now_string());
  else insert.bind_null(4);
  return TrialRef{*insert.run_returning_int(), number};
}

void SqlStorage::write_heartbeat(int64_t trial_id) {
  db_->prepare("INSERT INTO trial_heartbeats (trial_id, heartbeat) VALUES (?, ?) "
              "ON CONFLICT(trial_id) DO UPDATE SET heartbeat = excluded.heartbeat")
      .bind(1, trial_id)
      .bind(2, utc_now_string())
      .run();
}

TrialRef SqlStorage::insert_waiting_trial(int64_t study_id, const std::map<std::string, ParamValue>& params,
                                             const json& system_attrs) {
  const TrialRef ref = insert_trial(study_id, TrialState::Waiting);
  json fixed = json::object();
  for (const auto& [name, value] : params) {
    write_param(ref.trial_id, name, value);
    fixed[name] = value.external();
  }
  for (auto it = system_attrs.begin(); it != system_attrs.end(); ++it)
    if (it.key() != "fixed_params") write_attr("trial_system_attributes", "trial_id", ref.trial_id, it.key(), it.value());
  write_attr("trial_system_attributes", "trial_id", ref.trial_id, "fixed_params", fixed);
  return ref;
}

TrialRef SqlStorage::create_trial_with(int64_t study_id, const std::map<std::string, ParamValue>& params,
                                          const json& system_attrs) {
  std::lock_guard lock(mutex_);
  SqlTransaction transaction(*db_);
  const TrialRef ref = insert_trial(study_id, TrialState::Running);
  write_heartbeat(ref.trial_id);
  for (const auto& [name, value] : params) write_param(ref.trial_id, name, value);
  for (auto it = system_attrs.begin(); it != system_attrs.end(); ++it)
    write_attr("trial_system_attributes", "trial_id", ref.trial_id, it.key(), it.value());
  transaction.commit();
  return ref;
}

TrialRef SqlStorage::enqueue_trial(int64_t study_id, const std::map<std::string, ParamValue>& params,
                                      const json& system_attrs) {
  std::lock_guard lock(mutex_);
  SqlTransaction transaction(*db_);
  const TrialRef ref = insert_waiting_trial(study_id, params, system_attrs);
  transaction.commit();
  return ref;
}

bool SqlStorage::enqueue_trials_once(int64_t study_id, const std::string& marker_key,
                                        const std::vector<EnqueueRequest>& requests) {
  std::lock_guard lock(mutex_);
  SqlTransaction transaction(*db_);
  load_study(study_id);
  auto marker = db_->prepare("SELECT 1 FROM study_system_attributes WHERE study_id = ? AND key = ?");
  marker.bind(1, study_id).bind(2, marker_key);
  if (marker.step()) return false;
  for (const EnqueueRequest& r : requests) insert_waiting_trial(study_id, r.params, r.system_attrs);
  write_attr("study_system_attributes", "study_id", study_id, marker_key, true);
  transaction.commit();
  return true;
}

std::optional<TrialRef> SqlStorage::claim_waiting_trial(int64_t study_id) {
  std::lock_guard lock(mutex_);
  SqlTransaction transaction(*db_);
  auto find = db_->prepare("SELECT trial_id, number FROM trials WHERE study_id = ? AND state = 'WAITING' "
                          "ORDER BY number LIMIT 1");
  find.bind(1, study_id);
  if (!find.step()) return std::nullopt;
  const TrialRef ref{find.column_int(0), static_cast<int>(find.column_int(1))};
  // Compare-and-set: only a trial still WAITING becomes RUNNING.
  auto claim = db_->prepare("UPDATE trials SET state = 'RUNNING', datetime_start = ? WHERE trial_id = ? "
                            "AND state = 'WAITING' RETURNING trial_id");
  if (!claim.bind(1, utc_now_string()).bind(2, ref.trial_id).run_returning_int()) return std::nullopt;
  write_heartbeat(ref.trial_id);
  transaction.commit();
  return ref;
}

TrialState SqlStorage::trial_state(int64_t trial_id) {
  auto stmt = db_->prepare("SELECT state FROM trials WHERE trial_id = ?");
  stmt.bind(1, trial_id);
  if (!stmt.step()) throw StoreInputError(fmt::format("no trial with id {}", trial_id));
  return parse_state(stmt.column_text(0));
}

void SqlStorage::write_param(int64_t trial_id, const std::string& name, const ParamValue& value) {
  db_->prepare("INSERT INTO trial_params (trial_id, param_name, param_value, distribution_json) VALUES (?, ?, ?, ?) "
              "ON CONFLICT(trial_id, param_name) DO UPDATE SET param_value = excluded.param_value, "
              "distribution_json = excluded.distribution_json")
      .bind(1, trial_id)
      .bind(2, name)
      .bind(3, value.internal)
      .bind(4, distribution_to_json(value.distribution))
      .run();
}

void SqlStorage::set_param(int64_t trial_id, const std::string& name, const ParamValue& value) {
  std::lock_guard lock(mutex_);
  SqlTransaction transaction(*db_);
  if (is_finished(trial_state(trial_id)))
    throw StoreInputError(fmt::format("trial {} is finished; its parameter '{}' cannot change", trial_id, name));
  write_param(trial_id, name, value);
  transaction.commit();
}

void SqlStorage::report_intermediate(int64_t trial_id, int64_t step, double value) {
  std::lock_guard lock(mutex_);
  SqlTransaction transaction(*db_);
  if (trial_state(trial_id) != TrialState::Running)
    throw StoreInputError(fmt::format("trial {} is not running; cannot report step {}", trial_id, step));
  auto stmt = db_->prepare(
      "INSERT INTO trial_intermediate_values (trial_id, step, intermediate_value, intermediate_value_type) "
      "VALUES (?, ?, ?, ?) ON CONFLICT(trial_id, step) DO UPDATE SET intermediate_value = "
      "excluded.intermediate_value, intermediate_value_type = excluded.intermediate_value_type");
  stmt.bind(1, trial_id).bind(2, step);
  bind_value(stmt, 3, value);
  stmt.bind(4, value_type(value)).run();
  transaction.commit();
}

void SqlStorage::set_trial_attrs(int64_t trial_id, const json& attrs, bool system) {
  if (!attrs.is_object()) throw StoreInputError(fmt::format("trial {}: attributes must be a JSON object", trial_id));
  std::lock_guard lock(mutex_);
  SqlTransaction transaction(*db_);
  trial_state(trial_id);
  for (const auto& [key, value] : attrs.items())
    write_attr(system ? "trial_system_attributes" : "trial_user_attributes", "trial_id", trial_id, key, value);
  transaction.commit();
}

void SqlStorage::finish_trial(int64_t trial_id, TrialState state, const std::vector<double>& values,
                              const json& user_attrs) {
  if (!is_finished(state))
    throw StoreInputError("finish_trial: state " + state_name(state) + " is not COMPLETE, PRUNED or FAIL");
  if (!user_attrs.is_object()) throw StoreInputError(fmt::format("trial {}: attributes must be a JSON object", trial_id));
  std::lock_guard lock(mutex_);
  SqlTransaction transaction(*db_);
  const TrialState current = trial_state(trial_id);
  if (current != TrialState::Running)
    throw StoreInputError(fmt::format("trial {} is {}, not RUNNING; it cannot finish", trial_id, state_name(current)));
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::isnan(values[i])) throw StoreInputError(fmt::format("trial {}: objective {} is NaN", trial_id, i));
    auto stmt = db_->prepare("INSERT INTO trial_values (trial_id, objective, value, value_type) VALUES (?, ?, ?, ?)");
    stmt.bind(1, trial_id).bind(2, static_cast<int64_t>(i));
    bind_value(stmt, 3, values[i]);
    stmt.bind(4, value_type(values[i])).run();
  }
  for (const auto& [key, value] : user_attrs.items())
    write_attr("trial_user_attributes", "trial_id", trial_id, key, value);
  db_->prepare("UPDATE trials SET state = ?, datetime_complete = ? WHERE trial_id = ?")
      .bind(1, state_name(state))
      .bind(2, utc_now_string())
      .bind(3, trial_id)
      .run();
  transaction.commit();
}

void SqlStorage::heartbeat(int64_t trial_id) {
  std::lock_guard lock(mutex_);
  SqlTransaction transaction(*db_);
  if (trial_state(trial_id) != TrialState::Running)
    throw StoreInputError(fmt::format("trial {} is not running; no heartbeat", trial_id));
  write_heartbeat(trial_id);
  transaction.commit();
}

std::vector<TrialRef> SqlStorage::fail_stale_trials(int64_t study_id, double grace_seconds, int max_retries,
                                                 const std::vector<int64_t>& also) {
  std::lock_guard lock(mutex_);
  SqlTransaction transaction(*db_);
  auto stale = db_->prepare(
      "SELECT t.trial_id, t.number FROM trials t JOIN trial_heartbeats h ON h.trial_id = t.trial_id "
      "WHERE t.study_id = ? AND t.state = 'RUNNING' AND h.heartbeat < ? ORDER BY t.number");
  stale.bind(1, study_id).bind(2, utc_now_string(-grace_seconds));
  std::vector<TrialRef> failed;
  while (stale.step()) failed.push_back({stale.column_int(0), static_cast<int>(stale.column_int(1))});
  for (int64_t id : also) {  // named by the caller: failed whatever their heartbeat, if still RUNNING in this study
    auto named = db_->prepare("SELECT number FROM trials WHERE trial_id = ? AND study_id = ? AND state = 'RUNNING'");
    named.bind(1, id).bind(2, study_id);
    const bool listed = std::any_of(failed.begin(), failed.end(), [id](const TrialRef& r) { return r.trial_id == id; });
    if (named.step() && !listed) failed.push_back({id, static_cast<int>(named.column_int(0))});
  }
  for (const TrialRef& ref : failed) {
    db_->prepare("UPDATE trials SET state = 'FAIL', datetime_complete = ? WHERE trial_id = ? AND state = 'RUNNING'")
        .bind(1, utc_now_string())
        .bind(2, ref.trial_id)
        .run();
    const Trial old = read_trial(ref.trial_id);
    json history = old.system_attrs.value("retry_history", json::array());
    history.push_back(ref.number);
    if (static_cast<int>(history.size()) > max_retries) continue;
    json attrs = old.system_attrs;
    attrs["failed_trial"] = ref.number;
    attrs["retry_history"] = history;
    insert_waiting_trial(study_id, old.params, attrs);  // writes fixed_params from the params
  }
  transaction.commit();
  return failed;
}

Trial SqlStorage::read_trial(int64_t trial_id) {
  auto row = db_->prepare("SELECT number, study_id, state, datetime_start, datetime_complete FROM trials WHERE trial_id = ?");
  row.bind(1, trial_id);
  if (!row.step()) throw StoreInputError(fmt::format("no trial with id {}", trial_id));
  Trial t;
  t.trial_id = trial_id;
  t.number = static_cast<int>(row.column_int(0));
  t.study_id = row.column_int(1);
  t.state = parse_state(row.column_text(2));
  t.datetime_start = row.column_text(3);
  t.datetime_complete = row.column_text(4);
  auto params = db_->prepare("SELECT param_name, param_value, distribution_json FROM trial_params WHERE trial_id = ?");
  params.bind(1, trial_id);
  while (params.step())
    t.params[params.column_text(0)] = ParamValue{params.column_double(1), distribution_from_json(params.column_text(2))};
  auto values = db_->prepare("SELECT value, value_type FROM trial_values WHERE trial_id = ? ORDER BY objective");
  values.bind(1, trial_id);
  while (values.step()) t.values.push_back(value_from(values, 0, 1));
  auto steps = db_->prepare("SELECT step, intermediate_value, intermediate_value_type FROM trial_intermediate_values "
                           "WHERE trial_id = ? ORDER BY step");
  steps.bind(1, trial_id);
  while (steps.step()) t.intermediate_values[steps.column_int(0)] = value_from(steps, 1, 2);
  for (const bool system : {false, true}) {
    auto attrs = db_->prepare(fmt::format("SELECT key, value_json FROM {} WHERE trial_id = ?",
                                         system ? "trial_system_attributes" : "trial_user_attributes"));
    attrs.bind(1, trial_id);
    while (attrs.step()) (system ? t.system_attrs : t.user_attrs)[attrs.column_text(0)] = json::parse(attrs.column_text(1));
  }
  return t;
}

Trial SqlStorage::get_trial(int64_t trial_id) {
  std::lock_guard lock(mutex_);
  return read_trial(trial_id);
}

std::vector<Trial> SqlStorage::get_trials(int64_t study_id, const std::vector<TrialState>& states) {
  std::lock_guard lock(mutex_);
  SqlTransaction snapshot(*db_);  // one consistent view of every trial
  load_study(study_id);
  std::vector<int64_t> ids;
  auto stmt = db_->prepare("SELECT trial_id, state FROM trials WHERE study_id = ? ORDER BY number");
  stmt.bind(1, study_id);
  while (stmt.step()) {
    const TrialState s = parse_state(stmt.column_text(1));
    if (states.empty() || std::find(states.begin(), states.end(), s) != states.end()) ids.push_back(stmt.column_int(0));
  }
  std::vector<Trial> trials;
  for (int64_t id : ids) trials.push_back(read_trial(id));
  return trials;
}

}  // namespace effscale::store
