// Cross-checks with the real peer, Debian's python3-optuna 3.1, in SQLite and in PostgreSQL: identical
// schema, studies we write load in Optuna (which also runs our enqueued trials), and studies Optuna writes
// read back here.

#include <catch2/catch.hpp>

#include <cmath>

#include "effscale/store/postgres_storage.h"
#include "effscale/store/sqlite_storage.h"
#include "postgres_server.h"
#include "run_command.h"
#include "temp_dir.h"

using namespace effscale::store;
using effscale::testing::run_command;
using effscale::testing::shell_quote;
using nlohmann::json;

namespace {

// Runs a Python script with the storage URL as its argument (Optuna takes our URLs as they are).
effscale::testing::CommandResult python(const std::string& script, const std::string& url) {
  return run_command("/usr/bin/python3 -c " + shell_quote(script) + " " + shell_quote(url));
}

// A new study database of `kind` ("sqlite": a file in `dir`; "postgres": a database of the test server).
std::string new_url(const std::string& kind, const effscale::testing::TempDir& dir, const std::string& name) {
  if (kind == "postgres") return effscale::testing::PostgresServer::shared().new_database();
  return "sqlite:///" + dir.file(name);
}

std::vector<std::string> schema_of(const std::string& path) {
  SqliteDb db(path, 1000);
  auto stmt = db.prepare("SELECT type || ' ' || name || ': ' || coalesce(sql, '') FROM sqlite_master ORDER BY name");
  std::vector<std::string> rows;
  while (stmt.step()) rows.push_back(stmt.column_text(0));
  return rows;
}

const char* const kCreateWithOptuna = R"PY(
import sys, optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.create_study(storage=sys.argv[1], study_name="theirs", direction="maximize")
def objective(trial):
    a = trial.suggest_float("alpha", 1.0, 1.4, step=0.05)
    k = trial.suggest_categorical("kernel", [3, 5])
    n = trial.suggest_int("layers", 1, 4)
    trial.report(0.25, 0)
    trial.report(0.5, 1)
    trial.set_user_attr("macs", 123456)
    if trial.number == 1:
        raise optuna.TrialPruned()
    if trial.number == 2:
        raise RuntimeError("boom")
    return a * n
study.optimize(objective, n_trials=3, catch=(RuntimeError,))
)PY";

const char* const kReadWithOptuna = R"PY(
import sys, json, optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.load_study(study_name="ours", storage=sys.argv[1])
out = {"directions": [d.name for d in study.directions], "user_attrs": study.user_attrs, "trials": []}
for t in study.get_trials(deepcopy=False):
    out["trials"].append({"number": t.number, "state": t.state.name, "params": t.params, "values": t.values,
                          "intermediate_values": {str(k): repr(v) for k, v in t.intermediate_values.items()},
                          "user_attrs": t.user_attrs})
df = study.trials_dataframe()
out["dataframe"] = {"rows": len(df), "states": list(df["state"]), "alpha": [None if a != a else a for a in df["params_alpha"]],
                    "macs": [None if m != m else m for m in df["user_attrs_macs"]]}
study.optimize(lambda trial: trial.suggest_float("alpha", 1.0, 1.4, step=0.05), n_trials=1)
ran = study.trials[4]
out["ran_waiting"] = {"state": ran.state.name, "params": ran.params, "trials": len(study.trials)}
print(json.dumps(out))
)PY";

}  // namespace

TEST_CASE("our schema is Optuna's, table for table", "[store][peer]") {
  effscale::testing::TempDir dir;
  const std::string theirs = dir.file("theirs.db"), ours = dir.file("ours.db");
  const auto created = python("import sys, optuna; optuna.create_study(storage=sys.argv[1])", "sqlite:///" + theirs);
  INFO(created.err);
  REQUIRE(created.exit_status == 0);
  { SqliteStorage storage(ours); }
  CHECK(schema_of(ours) == schema_of(theirs));
}

TEST_CASE("our PostgreSQL schema is Optuna's, as pg_dump shows it", "[store][peer][postgres]") {
  auto& server = effscale::testing::PostgresServer::shared();
  const std::string theirs = server.new_database(), ours = server.new_database();
  const auto created = python("import sys, optuna; optuna.create_study(storage=sys.argv[1])", theirs);
  INFO(created.err);
  REQUIRE(created.exit_status == 0);
  { PostgresStorage storage(ours); }
  const auto dump = [&](const std::string& url) {
    const size_t begin = url.find("@/") + 2;
    const std::string name = url.substr(begin, url.find('?') - begin);
    // pg_dump fences its output with \restrict / \unrestrict lines holding a random key: drop those.
    return run_command("pg_dump --schema-only -h " + shell_quote(server.socket_dir()) + " -U postgres " + name +
                       " | grep -v '^.\\(un\\)\\?restrict '").out;
  };
  const std::string ours_dump = dump(ours);
  CHECK(ours_dump.find("CREATE TABLE public.trials") != std::string::npos);
  CHECK(ours_dump == dump(theirs));
}

TEST_CASE("Optuna reads the studies we write and runs our waiting trials", "[store][peer]") {
  effscale::testing::TempDir dir;
  const std::string kind = GENERATE(std::string("sqlite"), std::string("postgres"));
  INFO("backend " << kind);
  const std::string url = new_url(kind, dir, "ours.db");
  {
    const std::unique_ptr<Storage> owned = open_storage(url);
    SqlStorage& storage = dynamic_cast<SqlStorage&>(*owned);  // its extras (set_param, enqueue_trial) too
    const Study s = storage.create_or_load_study("ours", {StudyDirection::Maximize});
    storage.set_study_attr(s.study_id, "best", json{{"alpha", 1.2}}, false);
    const ParamValue alpha{1.2, Distribution::float_range(1.0, 1.4, 0.05)};
    const ParamValue kernel{1, Distribution::categorical({3, 5})};
    const ParamValue layers{3, Distribution::int_range(1, 4)};
    const TrialRef done = storage.create_trial(s.study_id);
    storage.set_param(done.trial_id, "alpha", alpha);
    storage.set_param(done.trial_id, "kernel", kernel);
    storage.set_param(done.trial_id, "layers", layers);
    storage.report_intermediate(done.trial_id, 0, 0.5);
    storage.report_intermediate(done.trial_id, 1, 0.625);
    storage.report_intermediate(done.trial_id, 2, std::nan(""));
    storage.report_intermediate(done.trial_id, 3, INFINITY);
    storage.report_intermediate(done.trial_id, 4, -INFINITY);
    storage.set_trial_attr(done.trial_id, "macs", 385814752, false);
    storage.finish_trial(done.trial_id, TrialState::Complete, {0.875});
    const TrialRef pruned = storage.create_trial(s.study_id);
    storage.finish_trial(pruned.trial_id, TrialState::Pruned, {});
    const TrialRef failed = storage.create_trial(s.study_id);
    storage.finish_trial(failed.trial_id, TrialState::Fail, {});
    storage.create_trial(s.study_id);  // still RUNNING
    storage.enqueue_trial(s.study_id, {{"alpha", {1.35, alpha.distribution}}}, json::object());
  }
  const auto r = python(kReadWithOptuna, url);
  INFO(r.err);
  REQUIRE(r.exit_status == 0);
  const json out = json::parse(r.out);
  CHECK(out["directions"] == json::array({"MAXIMIZE"}));
  CHECK(out["user_attrs"]["best"]["alpha"] == 1.2);
  const json& t = out["trials"];
  REQUIRE(t.size() == 5);
  CHECK(t[0]["state"] == "COMPLETE");
  CHECK(t[0]["params"] == json{{"alpha", 1.2}, {"kernel", 5}, {"layers", 3}});
  CHECK(t[0]["values"] == json::array({0.875}));
  CHECK(t[0]["intermediate_values"] ==
        json{{"0", "0.5"}, {"1", "0.625"}, {"2", "nan"}, {"3", "inf"}, {"4", "-inf"}});
  CHECK(t[0]["user_attrs"]["macs"] == 385814752);
  CHECK(t[1]["state"] == "PRUNED");
  CHECK(t[2]["state"] == "FAIL");
  CHECK(t[3]["state"] == "RUNNING");
  CHECK(t[4]["state"] == "WAITING");
  // Optuna's optimize() took our WAITING trial and ran it with our fixed params.
  CHECK(out["ran_waiting"] == json{{"state", "COMPLETE"}, {"params", {{"alpha", 1.35}}}, {"trials", 5}});
  // trials_dataframe (taken before Optuna ran the waiting trial) sees the same trials.
  CHECK(out["dataframe"]["rows"] == 5);
  CHECK(out["dataframe"]["states"] == json::array({"COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"}));
  CHECK(out["dataframe"]["alpha"][0] == 1.2);
  CHECK(out["dataframe"]["alpha"][4] == 1.35);
  CHECK(out["dataframe"]["macs"][0] == 385814752);
}

TEST_CASE("we read the studies Optuna writes", "[store][peer]") {
  effscale::testing::TempDir dir;
  const std::string kind = GENERATE(std::string("sqlite"), std::string("postgres"));
  INFO("backend " << kind);
  const std::string url = new_url(kind, dir, "theirs.db");
  const auto r = python(kCreateWithOptuna, url);
  INFO(r.err);
  REQUIRE(r.exit_status == 0);
  const std::unique_ptr<Storage> owned = open_storage(url);
  SqlStorage& storage = dynamic_cast<SqlStorage&>(*owned);
  const auto study = storage.find_study("theirs");
  REQUIRE(study);
  CHECK(study->directions == std::vector<StudyDirection>{StudyDirection::Maximize});
  const auto trials = storage.get_trials(study->study_id, {});
  REQUIRE(trials.size() == 3);
  CHECK(trials[0].state == TrialState::Complete);
  CHECK(trials[1].state == TrialState::Pruned);
  CHECK(trials[2].state == TrialState::Fail);
  const Trial& t = trials[0];
  const double alpha = t.params.at("alpha").external().get<double>();
  const int64_t layers = t.params.at("layers").external().get<int64_t>();
  CHECK(t.params.at("kernel").distribution.choices == std::vector<json>{3, 5});
  REQUIRE(t.values.size() == 1);
  CHECK(t.values[0] == Approx(alpha * layers));
  CHECK(t.intermediate_values == std::map<int64_t, double>{{0, 0.25}, {1, 0.5}});
  CHECK(t.user_attrs["macs"] == 123456);
  // Both sides keep appending to the same study: ours is number 3, Optuna's next two 4 and 5, and both
  // read all six.
  const TrialRef ours = storage.create_trial(study->study_id);
  CHECK(ours.number == 3);
  storage.set_param(ours.trial_id, "alpha", {1.3, Distribution::float_range(1.0, 1.4, 0.05)});
  storage.finish_trial(ours.trial_id, TrialState::Complete, {0.5});
  const auto more = python(R"PY(
import sys, optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
s = optuna.load_study(study_name="theirs", storage=sys.argv[1])
s.optimize(lambda t: t.suggest_float("alpha", 1.0, 1.4, step=0.05), n_trials=2)
print(" ".join(str(t.number) + ":" + t.state.name for t in s.trials))
)PY", url);
  INFO(more.err);
  REQUIRE(more.exit_status == 0);
  CHECK(more.out == "0:COMPLETE 1:PRUNED 2:FAIL 3:COMPLETE 4:COMPLETE 5:COMPLETE\n");
  const auto all = storage.get_trials(study->study_id, {});
  REQUIRE(all.size() == 6);
  CHECK(all[5].number == 5);
  CHECK(all[5].state == TrialState::Complete);
}

namespace {

// Optuna 3.2's migration (alembic v3.0.0.d -> v3.2.0.a) and its downgrade, run by SQLAlchemy as alembic runs them.
const char* const kMigrate = R"PY(
import sys, sqlalchemy as sa
engine = sa.create_engine(sys.argv[1])
with engine.begin() as c:
    if sys.argv[2] == "up":
        c.execute(sa.text("CREATE INDEX trials_study_id_key ON trials (study_id)"))
        c.execute(sa.text("UPDATE alembic_version SET version_num = 'v3.2.0.a'"))
    else:
        c.execute(sa.text("DROP INDEX trials_study_id_key"))
        c.execute(sa.text("UPDATE alembic_version SET version_num = 'v3.0.0.d'"))
)PY";

void migrate(const std::string& url, const std::string& direction) {
  const auto r = run_command("/usr/bin/python3 -c " + shell_quote(kMigrate) + " " + shell_quote(url) + " " + direction);
  INFO(r.err);
  REQUIRE(r.exit_status == 0);
}

// The database's alembic revision and whether it has Optuna 3.2's index on trials(study_id), as Optuna sees them.
std::string revision_and_index(const std::string& url) {
  const auto r = python(R"PY(
import sys, sqlalchemy as sa
engine = sa.create_engine(sys.argv[1])
indexes = [i["name"] for i in sa.inspect(engine).get_indexes("trials")]
with engine.connect() as c:
    print(c.execute(sa.text("SELECT version_num FROM alembic_version")).scalar(), "trials_study_id_key" in indexes)
)PY", url);
  INFO(r.err);
  REQUIRE(r.exit_status == 0);
  return r.out;
}

// Adds one COMPLETE trial with value `value` to study `name` through effscale and returns the study's trial count.
size_t add_trial(const std::string& url, const std::string& name, double value) {
  const std::unique_ptr<Storage> storage = open_storage(url);
  CHECK(storage->open_warning().empty());
  const int64_t study = storage->create_or_load_study(name, {StudyDirection::Maximize}).study_id;
  const TrialRef t = storage->create_trial_with(study, {{"alpha", {1.2, Distribution::float_range(1.0, 1.4, 0.05)}}}, {});
  storage->finish_trial(t.trial_id, TrialState::Complete, {value});
  return storage->get_trials(study, {}).size();
}

}  // namespace

TEST_CASE("databases effscale and Optuna wrote, upgraded by Optuna 3.2's migration, stay readable and writable",
          "[store][peer]") {
  effscale::testing::TempDir dir;
  const std::string kind = GENERATE(std::string("sqlite"), std::string("postgres"));
  INFO("backend " << kind);
  const std::string ours = new_url(kind, dir, "ours.db"), theirs = new_url(kind, dir, "theirs.db");
  CHECK(add_trial(ours, "ours", 0.5) == 1);
  REQUIRE(python(kCreateWithOptuna, theirs).exit_status == 0);
  for (const std::string& url : {ours, theirs}) {
    migrate(url, "up");
    REQUIRE(revision_and_index(url) == "v3.2.0.a True\n");
  }
  CHECK(add_trial(ours, "ours", 0.6) == 2);
  CHECK(add_trial(theirs, "theirs", 0.7) == 4);  // Optuna's 3 and ours
  CHECK(revision_and_index(ours) == "v3.2.0.a True\n");  // effscale keeps the revision it found
  CHECK(revision_and_index(theirs) == "v3.2.0.a True\n");
}

TEST_CASE("a database created at v3.2.0.a has Optuna 3.2's index, and after the downgrade Optuna 3.1 reads it",
          "[store][peer]") {
  effscale::testing::TempDir dir;
  const std::string kind = GENERATE(std::string("sqlite"), std::string("postgres"));
  INFO("backend " << kind);
  const std::string url = new_url(kind, dir, "latest.db");
  {
    const std::unique_ptr<Storage> storage = open_storage(url, true, SchemaRevision::Optuna32);
    storage->create_or_load_study("ours", {StudyDirection::Maximize});
  }
  CHECK(revision_and_index(url) == "v3.2.0.a True\n");
  CHECK(add_trial(url, "ours", 0.25) == 1);
  // Debian's Optuna 3.1 does not know v3.2.0.a; Optuna's own downgrade makes it readable there.
  CHECK(python("import sys, optuna; optuna.load_study(study_name='ours', storage=sys.argv[1])", url).exit_status != 0);
  migrate(url, "down");
  const auto r = python(R"PY(
import sys, optuna
s = optuna.load_study(study_name="ours", storage=sys.argv[1])
print(len(s.trials), s.best_value, s.best_params["alpha"])
)PY", url);
  INFO(r.err);
  REQUIRE(r.exit_status == 0);
  CHECK(r.out == "1 0.25 1.2\n");
  CHECK_THROWS_WITH(parse_schema_revision("3.1"), Catch::Contains("expected 3.0") && Catch::Contains("or latest"));
  CHECK(parse_schema_revision("latest") == SchemaRevision::Optuna32);
  CHECK(parse_schema_revision("v3.0.0.d") == SchemaRevision::Optuna30);
}
