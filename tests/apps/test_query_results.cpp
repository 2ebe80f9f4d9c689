// query_results, run as users run it, on databases written by our store and by python3-optuna.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

#include "effscale/store/sqlite_storage.h"
#include "postgres_server.h"
#include "run_command.h"
#include "temp_dir.h"

using namespace effscale::store;
using effscale::testing::run_command;
using effscale::testing::shell_quote;
using nlohmann::json;

namespace {

effscale::testing::CommandResult query_url(const std::string& url, const std::string& args) {
  return run_command(std::string(EFFSCALE_QUERY_RESULTS) + " --storage " + shell_quote(url) + " " + args);
}

effscale::testing::CommandResult query(const std::string& db, const std::string& args) { return query_url("sqlite:///" + db, args); }

// A study of four trials: accuracy (maximize) with MACs, one pruned, one running.
void write_study_at(const std::string& url) {
  const std::unique_ptr<Storage> owned = open_storage(url);
  Storage& storage = *owned;
  const Study s = storage.create_or_load_study("grid", {StudyDirection::Maximize});
  const double acc[] = {0.80, 0.90, 0.85};
  const int64_t macs[] = {400, 900, 300};
  for (int i = 0; i < 3; ++i) {
    const TrialRef t = storage.create_trial_with(
        s.study_id, {{"alpha", {1.1 + 0.1 * i, Distribution::float_range(1.0, 1.4, 0.05)}}}, nlohmann::json::object());
    storage.report_intermediate(t.trial_id, 0, acc[i] / 2);
    storage.report_intermediate(t.trial_id, 1, acc[i]);
    storage.set_trial_attr(t.trial_id, "macs", macs[i], false);
    storage.finish_trial(t.trial_id, TrialState::Complete, {acc[i]});
  }
  storage.finish_trial(storage.create_trial(s.study_id).trial_id, TrialState::Pruned, {});
  storage.create_trial(s.study_id);
}

void write_study(const std::string& path) { write_study_at("sqlite:///" + path); }

}  // namespace

TEST_CASE("query_results lists studies, trials, best, pareto and curves", "[apps][query_results]") {
  effscale::testing::TempDir dir;
  // The same queries on a SQLite file and on a PostgreSQL database.
  const std::string kind = GENERATE(std::string("sqlite"), std::string("postgres"));
  INFO("backend " << kind);
  const std::string db = kind == "postgres" ? effscale::testing::PostgresServer::shared().new_database()
                                            : "sqlite:///" + dir.file("s.db");
  write_study_at(db);

  const json studies = json::parse(query_url(db, "studies --format json").out);
  REQUIRE(studies.size() == 1);
  CHECK(studies[0]["study"] == "grid");
  CHECK(studies[0]["trials"] == 5);
  CHECK(studies[0]["best_value"] == 0.9);

  const json trials = json::parse(query_url(db, "trials --study grid --format json").out);
  REQUIRE(trials.size() == 5);
  CHECK(trials[0]["number"] == 0);
  CHECK(trials[0]["params"]["alpha"] == Approx(1.1));
  CHECK(trials[0]["intermediate_values"]["1"] == 0.8);
  CHECK(trials[0]["user_attrs"]["macs"] == 400);
  CHECK(trials[3]["state"] == "PRUNED");

  const json top = json::parse(query_url(db, "trials --study grid --state complete --sort value --top 2 --format json").out);
  REQUIRE(top.size() == 2);
  CHECK(top[0]["number"] == 1);
  CHECK(top[1]["number"] == 2);

  const json best = json::parse(query_url(db, "best --study grid --format json").out);
  CHECK(best[0]["values"] == json::array({0.9}));

  const json front = json::parse(query_url(db, "pareto --study grid --format json").out);
  std::vector<int> numbers;
  for (const auto& t : front) numbers.push_back(t["number"]);
  CHECK(numbers == std::vector<int>{1, 2});  // trial 0 is dominated by trial 2 (more accurate, fewer MACs)

  const auto curves = query_url(db, "curves --study grid --trial 1 --format csv");
  CHECK(curves.out == "step,value\n0,0.45\n1,0.9\n");
  const auto table = query_url(db, "trials --study grid");
  REQUIRE(table.exit_status == 0);
  CHECK(table.out.find("alpha=1.2") != std::string::npos);
  CHECK(query_url(db, "export --study grid --format csv").exit_status == 0);
}

TEST_CASE("query_results export writes Optuna's trials_dataframe columns, then the intermediate values",
          "[apps][query_results][peer]") {
  effscale::testing::TempDir dir;
  const std::string db = dir.file("s.db");
  write_study(db);
  const auto exported = query(db, "export --study grid --format csv");
  INFO(exported.err);
  REQUIRE(exported.exit_status == 0);
  const std::string header = exported.out.substr(0, exported.out.find('\n'));
  const auto optuna = run_command("/usr/bin/python3 -c " + shell_quote(
      "import sys, optuna\noptuna.logging.set_verbosity(optuna.logging.ERROR)\n"
      "s = optuna.load_study(study_name='grid', storage='sqlite:///' + sys.argv[1])\n"
      "print(','.join(s.trials_dataframe().columns))") + " " + shell_quote(db));
  INFO(optuna.err);
  REQUIRE(optuna.exit_status == 0);
  const std::string theirs = optuna.out.substr(0, optuna.out.find('\n'));
  CHECK(header.rfind(theirs, 0) == 0);  // Optuna's columns, in Optuna's order, first
  CHECK(header.substr(theirs.size()) == ",intermediate_values_0,intermediate_values_1");
  CHECK(std::count(exported.out.begin(), exported.out.end(), '\n') == 6);  // the header and five trials
}

TEST_CASE("query_results answers in Optuna's CLI spellings: best-trial, best-trials, --study-name, -f, OPTUNA_STORAGE",
          "[apps][query_results]") {
  effscale::testing::TempDir dir;
  const std::string db = dir.file("s.db");
  write_study(db);
  CHECK(query(db, "best-trial --study-name grid -f json").out == query(db, "best --study grid --format json").out);
  CHECK(query(db, "best-trials --study grid -f csv").out == query(db, "pareto --study grid --format csv").out);
  CHECK(query(db, "best --study grid --study-name other").exit_status == 2);
  const std::string bin = EFFSCALE_QUERY_RESULTS;
  const auto from_env = run_command("env -u EFFSCALE_STORAGE OPTUNA_STORAGE=" + shell_quote("sqlite:///" + db) + " " + bin +
                                    " best-trial --study-name grid -f json");
  INFO(from_env.err);
  REQUIRE(from_env.exit_status == 0);
  CHECK(json::parse(from_env.out)[0]["values"] == json::array({0.9}));
  const auto unknown = query(db, "frobnicate");
  CHECK(unknown.err.find("best (or best-trial), pareto (or best-trials), curves, export, plot or report") != std::string::npos);
}

TEST_CASE("query_results reads a study python3-optuna wrote", "[apps][query_results][peer]") {
  effscale::testing::TempDir dir;
  const std::string db = dir.file("o.db");
  const char* script = R"PY(
import sys, optuna
optuna.logging.set_verbosity(optuna.logging.ERROR)
s = optuna.create_study(storage="sqlite:///" + sys.argv[1], study_name="opt", direction="minimize")
s.optimize(lambda t: (t.suggest_float("x", -2, 2) - 1) ** 2, n_trials=5)
print(s.best_trial.number, s.best_value)
)PY";
  const auto made = run_command("/usr/bin/python3 -c " + shell_quote(script) + " " + shell_quote(db));
  REQUIRE(made.exit_status == 0);
  int number = -1;
  double value = 0;
  std::sscanf(made.out.c_str(), "%d %lf", &number, &value);
  const json best = json::parse(query(db, "best --study opt --format json").out);
  CHECK(best[0]["number"] == number);
  CHECK(best[0]["values"][0].get<double>() == Approx(value));
}

TEST_CASE("query_results rejects bad input with exit status 2 and leaves files alone", "[apps][query_results]") {
  effscale::testing::TempDir dir;
  const std::string db = dir.file("s.db");
  write_study(db);
  const std::string junk = dir.write("junk.db", std::string(2048, 'j'));
  const std::string truncated = dir.write("trunc.db", effscale::testing::read_file(db).substr(0, 1000));
  const std::string old = dir.file("old.db");
  {
    SqliteStorage created(old);
    SqliteDb raw(old, 1000);
    raw.exec("UPDATE version_info SET schema_version = 13");
  }
  struct Case {
    std::string db, args, message;
  };
  const Case cases[] = {
      {db, "trials --study nope", "no study named 'nope'"},
      {db, "frobnicate", "unknown query 'frobnicate'"},
      {db, "trials", "needs --study"},
      {db, "curves --study grid --trial 99", "no trial number 99"},
      {db, "trials --study grid --state DONE", "trial state 'DONE'"},
      {db, "trials --study grid --top 0", "--top: 0: must be 1 or more"},
      {db, "export --study grid --output x.csv", "--output is read by plot, not by export"},
      {db, "best --study grid --top 3", "--top is read by trials, not by best"},
      {db, "studies --study grid", "--study is read by trials, best, pareto, curves, export and plot, not by studies"},
      {db, "trials --study grid --sort nothing", "--sort 'nothing': no trial of study 'grid' has a user attribute or param"},
      {db, "studies --format yaml", "--format 'yaml'"},
      {junk, "studies", junk},
      {truncated, "studies", truncated},
      {old, "studies", "schema version 13"},
      {dir.file("missing.db"), "studies", "missing.db"},
  };
  for (const Case& c : cases) {
    INFO(c.args << " on " << c.db);
    const std::string before = effscale::testing::read_file(c.db);
    const auto r = query(c.db, c.args);
    CHECK(r.exit_status == 2);
    CHECK_THAT(r.err, Catch::StartsWith("query_results: error: ") && Catch::Contains(c.message));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(effscale::testing::read_file(c.db) == before);
  }
  CHECK_FALSE(std::filesystem::exists(dir.file("missing.db")));
  const auto url = run_command(std::string(EFFSCALE_QUERY_RESULTS) + " studies --storage mysql://x");
  CHECK(url.exit_status == 2);
  CHECK_THAT(url.err, Catch::Contains("storage URL 'mysql://x'"));
}

TEST_CASE("query_results plot writes SVG charts a browser and an XML parser read", "[apps][query_results]") {
  effscale::testing::TempDir dir;
  const std::string db = dir.file("s.db");
  write_study(db);
  for (const char* kind : {"pareto", "history", "curves", "grid"}) {
    INFO(kind);
    const std::string out = dir.file(std::string(kind) + ".svg");
    const auto r = query(db, std::string("plot --study grid --kind ") + kind + " --output " + shell_quote(out));
    REQUIRE(r.exit_status == 0);
    const std::string svg = effscale::testing::read_file(out);
    CHECK(svg.rfind("<svg", 0) == 0);
    const auto parsed = run_command("/usr/bin/python3 -c " + shell_quote(
        "import sys, xml.dom.minidom\nd = xml.dom.minidom.parse(sys.argv[1])\nprint(len(d.getElementsByTagName('circle')))") +
        " " + shell_quote(out));
    REQUIRE(parsed.exit_status == 0);
    // pareto: 3 trials + the 2 on the front; history: 3 values; curves: 2 steps x 3 trials; grid: the 3
    // alpha values (this study has no beta or gamma).
    const int expected = std::string(kind) == "pareto" ? 5 : std::string(kind) == "curves" ? 6 : 3;
    CHECK(std::stoi(parsed.out) == expected);
  }
  const auto bad = query(db, "plot --study grid --kind pie --output " + shell_quote(dir.file("pie.svg")));
  CHECK(bad.exit_status == 2);
  CHECK_THAT(bad.err, Catch::Contains("--kind 'pie'"));
  CHECK(query(db, "plot --study grid --kind pareto").exit_status == 2);
  SqliteStorage(db).create_or_load_study("empty", {StudyDirection::Maximize});
  const std::string none = dir.file("none.svg");
  const auto empty = query(db, "plot --study empty --kind history --output " + shell_quote(none));
  CHECK(empty.exit_status == 2);
  CHECK_THAT(empty.err, Catch::Contains("nothing to plot"));
  CHECK_FALSE(std::filesystem::exists(none));
}

TEST_CASE("a database at an Optuna revision effscale does not know is read with a warning and never written",
          "[apps][query_results][errors]") {
  effscale::testing::TempDir dir;
  const std::string db = dir.file("future.db");
  write_study_at("sqlite:///" + db);
  REQUIRE(run_command("sqlite3 " + shell_quote(db) + " \"UPDATE alembic_version SET version_num = 'v9.9.9.z'\"").exit_status == 0);
  const auto studies = query(db, "studies --format csv");
  INFO(studies.err);
  REQUIRE(studies.exit_status == 0);
  CHECK_THAT(studies.out, Catch::Contains("grid"));
  CHECK_THAT(studies.err, Catch::StartsWith("query_results: warning: database") && Catch::Contains("v9.9.9.z") &&
                              Catch::Contains("no command will write to it"));
  const std::string before = effscale::testing::read_file(db);
  CHECK_THROWS_WITH(SqliteStorage(db), Catch::Contains("v9.9.9.z") && Catch::Contains("use a newer effscale"));
  CHECK(effscale::testing::read_file(db) == before);
}
