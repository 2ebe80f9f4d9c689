// train_model, run as users run it: a tiny run recorded as a trial, a killed run resumed without losing
// or repeating anything, and bad input with exit status 2.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "dataset_files.h"
#include "effscale/store/sqlite_storage.h"
#include "effscale/store/study_owner.h"
#include "read_only_file.h"
#include "run_command.h"
#include "temp_dir.h"

using namespace effscale::store;
using namespace effscale::testing;
using nlohmann::json;

namespace {

std::string write_tiny_mnist(const TempDir& dir) { return write_mnist_folder(dir.file("mnist"), 160, 40, true, true); }

std::string train_model(const std::string& args) { return std::string(EFFSCALE_TRAIN_MODEL) + " " + args; }

std::string tiny_args(const std::string& data, const std::string& out, const std::string& db, int epochs) {
  return "--model b0 --width-mult 0.25 --depth-mult 0.25 --resolution 16 --in-channels 1 --dataset mnist --data-dir " +
         shell_quote(data) + " --epochs " + std::to_string(epochs) + " --batch-size 16 --warmup-epochs 1 --bn-recalibrate 2 " +
         "--threads 1 --output-dir " + shell_quote(out) + " --study tiny --storage " + shell_quote("sqlite:///" + db);
}

// A shell command that starts `command` (a run into `out`), SIGKILLs it once its first checkpoint exists, and exits 0
// when the checkpoint is there.
std::string killed_after_first_checkpoint(const std::string& command, const std::string& out) {
  const std::string checkpoint = shell_quote(out + "/checkpoint.pt");
  return command + " 2>/dev/null & pid=$!; for i in $(seq 600); do [ -f " + checkpoint +
         " ] && break; sleep 0.05; done; kill -9 $pid; wait $pid; [ -f " + checkpoint + " ]";
}

}  // namespace

TEST_CASE("train_model trains, records a trial and resumes a killed run", "[apps][train_model]") {
  TempDir dir;
  const std::string data = write_tiny_mnist(dir), db = dir.file("study.db"), out = dir.file("run");
  const auto done = run_command(
      train_model(tiny_args(data, dir.file("first"), db, 2) + " --augment randaugment --format json --schema latest"));
  INFO(done.err);
  REQUIRE(done.exit_status == 0);
  const json summary = json::parse(done.out);
  CHECK(summary["epochs"] == 2);
  CHECK(summary["val_top1"].get<double>() >= 0.0);
  CHECK(std::filesystem::exists(dir.file("first/checkpoint.pt")));
  CHECK(std::filesystem::exists(dir.file("first/spec.json")));
  // The trained weights classify with predict.
  write_png(dir.file("digit.png"), 28, 28, pattern_bytes(28 * 28 * 3, 5));
  const auto predicted = run_command(std::string(EFFSCALE_PREDICT) + " --model " + dir.file("first/spec.json") + " --weights " +
                                     dir.file("first/weights.pth") + " --topk 1 --format csv " + dir.file("digit.png"));
  INFO(predicted.err);
  CHECK(predicted.exit_status == 0);
  CHECK(predicted.out.find("digit.png,1,") != std::string::npos);
  CHECK(done.err.find("epoch 2/2 done") != std::string::npos);
  // Another model resumed in that folder is refused and leaves the folder's spec as it was.
  const std::string spec_before = read_file(dir.file("first/spec.json"));
  const auto other = run_command(train_model(tiny_args(data, dir.file("first"), db, 2) + " --bn-momentum 0.2 --resume"));
  CHECK(other.exit_status == 2);
  CHECK(other.err.find("was written for another model") != std::string::npos);
  CHECK(read_file(dir.file("first/spec.json")) == spec_before);
  // 18 steps: the recipe settings not given take the short-run recipe (--warmup-epochs, --bn-recalibrate were given).
  CHECK(done.err.find("a short run (18 steps < 10000): the settings not given take the short-run recipe: --optimizer "
                      "sgd --lr 0.4 --label-smoothing 0 --ema-decay 0 --bn-momentum 0.1 --crop-min-area 1 --eval-crop 1 "
                      "(--recipe paper keeps the paper's)\nlearning rate 0.4 per 256 images: 0.025 at batch 16") !=
        std::string::npos);
  // The finished run again without --resume is refused: its weights stay and no second trial is recorded.
  const std::string weights_before = read_file(dir.file("first/weights.pth"));
  const auto again = run_command(train_model(tiny_args(data, dir.file("first"), db, 2)));
  CHECK(again.exit_status == 2);
  CHECK(again.err.find("holds a finished run; give --resume") != std::string::npos);
  CHECK(read_file(dir.file("first/weights.pth")) == weights_before);
  {
    SqliteStorage storage(db);
    CHECK(storage.get_trials(storage.find_study("tiny")->study_id, {}).size() == 1);
  }
  // --schema latest created the database at Optuna 3.2's revision, and the later opens (at the default 3.0) kept it.
  const auto revision = run_command("sqlite3 " + shell_quote(db) +
                                    " \"SELECT version_num FROM alembic_version; SELECT name FROM sqlite_master WHERE "
                                    "type = 'index' AND name = 'trials_study_id_key'\"");
  CHECK(revision.out == "v3.2.0.a\ntrials_study_id_key\n");
  // timm's per-run metrics file: a header and one row per epoch.
  std::ifstream metrics(dir.file("first/summary.csv"));
  std::vector<std::string> rows;
  for (std::string line; std::getline(metrics, line);) rows.push_back(line);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == "epoch,train_loss,eval_loss,eval_top1,eval_top5,lr,seconds");
  CHECK(rows[2].rfind("2,", 0) == 0);

  // Kill a 3-epoch run once its first checkpoint exists, then resume it.
  REQUIRE(run_command(killed_after_first_checkpoint(train_model(tiny_args(data, out, db, 3)), out)).exit_status == 0);
  const auto resumed = run_command(train_model(tiny_args(data, out, db, 3) + " --resume --format json"));
  INFO(resumed.err);
  REQUIRE(resumed.exit_status == 0);
  CHECK(json::parse(resumed.out)["epochs"] == 3);
  CHECK(resumed.err.find("epoch 1/3") == std::string::npos);  // epoch 1 was not trained again
  // Running the finished run again changes nothing.
  REQUIRE(run_command(train_model(tiny_args(data, out, db, 3) + " --resume")).exit_status == 0);

  SqliteStorage storage(db);
  const auto trials = storage.get_trials(storage.find_study("tiny")->study_id, {});
  REQUIRE(trials.size() == 2);  // the first run and the killed-then-resumed one, once each
  for (const Trial& t : trials) {
    CHECK(t.state == TrialState::Complete);
    CHECK(t.user_attrs["macs"].is_number_integer());
    CHECK(t.user_attrs["dataset"] == "mnist");
    // --in-channels 1 shrank it: the nominal network (3 input channels, 1000 classes) is recorded too, and costs more.
    CHECK(t.user_attrs["target_macs"].get<int64_t>() > t.user_attrs["macs"].get<int64_t>());
    CHECK(t.user_attrs["target_params"].get<int64_t>() > t.user_attrs["params"].get<int64_t>());
  }
  CHECK(trials[1].intermediate_values.size() == 3);
  CHECK(trials[1].values.size() == 1);
}

TEST_CASE("train_model --dropout, --drop-connect and --zero-init-residual train the spec so, and say so",
          "[apps][train_model]") {
  TempDir dir;
  const std::string data = write_tiny_mnist(dir), db = dir.file("study.db"), out = dir.file("run");
  const std::string args = tiny_args(data, out, db, 1) + " --dropout 0 --drop-connect 0.05 --zero-init-residual";
  const auto done = run_command(train_model(args));
  INFO(done.err);
  REQUIRE(done.exit_status == 0);
  const json spec = json::parse(read_file(dir.file("run/spec.json")));
  CHECK(spec["dropout"] == 0.0);
  CHECK(spec["drop_connect"] == 0.05);
  {
    SqliteStorage storage(db);
    const auto trials = storage.get_trials(storage.find_study("tiny")->study_id, {});
    REQUIRE(trials.size() == 1);
    CHECK(trials[0].user_attrs["dropout"] == 0.0);
    CHECK(trials[0].user_attrs["drop_connect"] == 0.05);
    CHECK(trials[0].user_attrs["zero_init_residual"] == true);
  }
  // The checkpoint is of that network: resuming with another rate is refused, and the same rates resume.
  const auto other = run_command(train_model(tiny_args(data, out, db, 1) + " --dropout 0 --drop-connect 0.1 --resume"));
  CHECK(other.exit_status == 2);
  CHECK(other.err.find("was written for another model") != std::string::npos);
  CHECK(run_command(train_model(args + " --resume")).exit_status == 0);
}

TEST_CASE("train_model on a full disk fails naming the file, keeps its checkpoint and study, and resumes to the same "
          "weights",
          "[apps][train_model][faults]") {
  namespace fs = std::filesystem;
  TempDir dir;
  const std::string data = write_tiny_mnist(dir), db = dir.file("study.db"), out = dir.file("run");
  const std::string whole = dir.file("whole");  // the uninterrupted run the resumed one must equal
  REQUIRE(run_command(train_model(tiny_args(data, whole, dir.file("whole.db"), 3))).exit_status == 0);
  REQUIRE(run_command(killed_after_first_checkpoint(train_model(tiny_args(data, out, db, 3)), out)).exit_status == 0);
  const std::string checkpoint = read_file(out + "/checkpoint.pt");
  // The disk fills: no file may grow past half the weights (the smallest large file the run writes).
  const uint64_t limit_kib = std::min(fs::file_size(whole + "/weights.pth"), uint64_t(checkpoint.size())) / 2 / 1024;
  const auto full = run_command("ulimit -f " + std::to_string(limit_kib) + "; trap '' XFSZ; " +
                                train_model(tiny_args(data, out, db, 3) + " --resume"));
  CHECK(full.exit_status == 1);
  CHECK(full.err.find("train_model: error: cannot write '" + out + "/") != std::string::npos);
  CHECK(full.err.find("File too large") != std::string::npos);
  CHECK(read_file(out + "/checkpoint.pt") == checkpoint);  // the previous checkpoint is intact
  for (const auto& entry : fs::directory_iterator(out))
    CHECK(entry.path().filename().string().find(".tmp.") == std::string::npos);  // no partial file is left
  CHECK(run_command("sqlite3 " + shell_quote(db) + " 'PRAGMA integrity_check; SELECT state FROM trials'").out ==
        "ok\nRUNNING\n");
  // Room again: the run resumes from the kept checkpoint to the uninterrupted run's weights, one trial.
  const auto resumed = run_command(train_model(tiny_args(data, out, db, 3) + " --resume"));
  INFO(resumed.err);
  REQUIRE(resumed.exit_status == 0);
  CHECK(read_file(out + "/weights.pth") == read_file(whole + "/weights.pth"));
  CHECK(run_command("sqlite3 " + shell_quote(db) + " 'SELECT state FROM trials'").out == "COMPLETE\n");
}

TEST_CASE("train_model rejects bad input with one line and exit status 2", "[apps][train_model]") {
  TempDir dir;
  const std::string data = write_tiny_mnist(dir);
  const std::string corrupt = dir.file("corrupt");
  std::filesystem::create_directories(corrupt);
  for (const char* f : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"})
    std::filesystem::copy_file(data + "/" + f + ".gz", corrupt + "/" + f + ".gz");
  write_idx(corrupt + "/train-images-idx3-ubyte.gz", {160, 12, 12}, pattern_bytes(1000, 1), true);
  const std::string base = "--model b0 --width-mult 0.25 --resolution 16 --epochs 1 --output-dir " + shell_quote(dir.file("o"));
  struct Case {
    std::string args, message;
  };
  const Case cases[] = {
      {base + " --dataset imagenet", "unknown dataset 'imagenet'"},
      {base + " --dataset mnist --data-dir " + shell_quote(dir.file("none")), "does not exist"},
      {base + " --dataset mnist --data-dir " + shell_quote(corrupt), "train-images-idx3-ubyte.gz': the IDX header promises"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --optimizer adam", "optimizer 'adam'"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --schedule step", "schedule 'step'"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --device tpu", "--device: device 'tpu'"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --val-fraction 1.5", "validation fraction"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --val-fraction 0", "holds no sample (fraction 0 of "},
      {base + " --config " + shell_quote(dir.write("raw.ini", "epochs = 1\nfoo\tbar \xff\n")),  // printed as one line
       "contains an invalid line 'foo\\x09bar \\xff'"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --batch-size 1000", "smaller than one batch"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --augment mixup", "--augment: augmentation 'mixup'"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --in-channels 4", "--in-channels: 4: must be 1 (grey) or 3 (RGB)"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --channels-last yes", "--channels-last: channels_last choice 'yes'"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --zero-init-residual yes",
       "--zero-init-residual: 'yes': expected on or off"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --checkpoint-every=-1", "--checkpoint-every must be"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --augment randaugment --randaugment-magnitude 12",
       "--randaugment-magnitude must be in [0, 10]"},
      {"--dataset mnist", "--model"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --lr=-0.1", "--lr: -0.1: must be a finite number > 0"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --lr nan", "--lr: nan: must be a finite number > 0"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --threads=-2", "--threads: -2: must be 0 or more"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --train-limit=-5", "--train-limit: -5: must be 0 or more"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --warmup-epochs=-1", "--warmup-epochs: -1: must be a finite number >= 0"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --bn-recalibrate=-3", "--bn-recalibrate: -3: must be 0 or more"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --dropout 1", "--dropout must be in [0, 1)"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --drop-connect=-0.1", "--drop-connect must be in [0, 1)"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --drop-connect nan", "--drop-connect must be in [0, 1)"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --study ''", "--study: must not be empty"},
      {base + " --dataset mnist --data-dir " + shell_quote(data) + " --schema 3.3", "--schema: unknown schema revision '3.3'"},
      // Boost 1.74 looped forever filling its message's placeholders when a value held one (found by fuzz_config).
      {base + " --seed 'x%value%'", "the argument ('x\xEF\xBC\x85value\xEF\xBC\x85') for option '--seed' is invalid"},
      {base + " '--x%canonical_option%'", "unrecognised option '--x\xEF\xBC\x85" "canonical_option\xEF\xBC\x85'"},
      {base + " --config " + shell_quote(dir.write("placeholder.ini", "seed = 1%value%\n")), "config file '"},
  };
  for (const Case& c : cases) {
    INFO(c.args);
    const auto r = run_command("timeout 60 " + train_model(c.args));  // a hang fails (124) rather than stalls
    CHECK(r.exit_status == 2);
    CHECK_THAT(r.err, Catch::StartsWith("train_model: error: ") && Catch::Contains(c.message));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
}

TEST_CASE("train_model refuses another command's study and leaves it unchanged", "[apps][train_model][errors]") {
  TempDir dir;
  const std::string data = write_tiny_mnist(dir), db = dir.file("study.db");
  {
    SqliteStorage storage(db);
    open_study_for(storage, "tiny", {StudyDirection::Maximize}, "grid_alpha_beta_gamma");
  }
  const auto r = run_command(train_model(tiny_args(data, dir.file("run"), db, 1)));
  CHECK(r.exit_status == 2);
  CHECK_THAT(r.err, Catch::Contains("study 'tiny' belongs to grid_alpha_beta_gamma"));
  SqliteStorage storage(db);
  CHECK(storage.get_trials(storage.find_study("tiny")->study_id, {}).empty());
  CHECK(storage.study_attrs(storage.find_study("tiny")->study_id, true)[kStudyOwnerAttr] == "grid_alpha_beta_gamma");
}

TEST_CASE("train_model --pruner median stops a trial behind the study", "[apps][train_model]") {
  TempDir dir;
  const std::string data = write_tiny_mnist(dir), db = dir.file("study.db");
  {
    SqliteStorage storage(db);
    const int64_t study = storage.create_or_load_study("tiny", {StudyDirection::Maximize}).study_id;
    for (int i = 0; i < 5; ++i) {  // five finished trials that were far better after epoch 1
      const TrialRef t = storage.create_trial(study);
      storage.report_intermediate(t.trial_id, 1, 0.99);
      storage.finish_trial(t.trial_id, TrialState::Complete, {0.99});
    }
  }
  const auto r = run_command(train_model(tiny_args(data, dir.file("run"), db, 3) + " --pruner median --format json"));
  INFO(r.err);
  REQUIRE(r.exit_status == 0);
  CHECK(json::parse(r.out)["pruned"] == true);
  CHECK(json::parse(r.out)["epochs"] == 1);
  SqliteStorage storage(db);
  const auto trials = storage.get_trials(storage.find_study("tiny")->study_id, {});
  REQUIRE(trials.size() == 6);
  CHECK(trials[5].state == TrialState::Pruned);
  CHECK(trials[5].intermediate_values.size() == 1);
  CHECK(run_command(train_model(tiny_args(data, dir.file("x"), db, 1) + " --pruner asha")).exit_status == 2);
}

TEST_CASE("train_model trains data-parallel under torchrun, the leader alone writing and recording",
          "[apps][train_model][data_parallel]") {
  TempDir dir;
  const std::string data = write_tiny_mnist(dir), db = dir.file("study.db"), out = dir.file("run");
  // The real torchrun (python3-torch's, through scripts/torchrun) starts two processes with RANK, WORLD_SIZE,
  // MASTER_ADDR, MASTER_PORT. --standalone: rank 0 hosts the rendezvous store.
  const std::string torchrun = std::string(EFFSCALE_SOURCE_ROOT) + "/scripts/torchrun --nproc_per_node 2 ";
  const auto r = run_command(torchrun + "--standalone --no_python " + train_model(tiny_args(data, out, db, 2) + " --format json"));
  INFO(r.err);
  REQUIRE(r.exit_status == 0);
  const json summary = json::parse(r.out);  // one summary: rank 1 prints none
  CHECK(summary["epochs"] == 2);
  CHECK(std::filesystem::exists(out + "/checkpoint.pt"));
  CHECK(std::filesystem::exists(out + "/weights.pth"));
  CHECK(r.err.find("epoch 2/2 done") != std::string::npos);

  // Rerunning the finished run with --resume trains and records nothing more. A static rendezvous this time:
  // torchrun's agent hosts the store, as across hosts.
  const std::string port = "$(python3 -c 'import socket; s = socket.socket(); s.bind((\"\", 0)); print(s.getsockname()[1])')";
  const auto resumed = run_command(torchrun + "--master_port " + port + " --no_python " +
                                   train_model(tiny_args(data, out, db, 2) + " --resume --format json"));
  INFO(resumed.err);
  REQUIRE(resumed.exit_status == 0);
  CHECK(json::parse(resumed.out)["epochs"] == 2);
  CHECK(resumed.err.find("epoch 1/2") == std::string::npos);
  SqliteStorage storage(db);
  const auto trials = storage.get_trials(storage.find_study("tiny")->study_id, {});
  REQUIRE(trials.size() == 1);  // one run, recorded once, by rank 0
  CHECK(trials[0].state == TrialState::Complete);
  CHECK(trials[0].intermediate_values.size() == 2);
}

TEST_CASE("train_model rejects a malformed data-parallel environment with one line and exit status 2",
          "[apps][train_model][data_parallel]") {
  TempDir dir;
  const std::string args = " " + tiny_args(write_tiny_mnist(dir), dir.file("run"), dir.file("study.db"), 1);
  const std::pair<std::string, std::string> cases[] = {
      {"WORLD_SIZE=2", "environment variable RANK is not set"},
      {"WORLD_SIZE=two", "WORLD_SIZE='two': expected an integer"},
      {"WORLD_SIZE=2 RANK=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=29500", "RANK='2': expected an integer in [0, 1]"},
      {"WORLD_SIZE=2 RANK=0 MASTER_PORT=29500", "MASTER_ADDR is not set"},
      {"WORLD_SIZE=2 RANK=1 MASTER_ADDR=127.0.0.1 MASTER_PORT=http", "MASTER_PORT='http'"},
  };
  for (const auto& [environment, message] : cases) {
    INFO(environment);
    const auto r = run_command(environment + " " + train_model(args));
    CHECK(r.exit_status == 2);
    CHECK_THAT(r.err, Catch::StartsWith("train_model: error: ") && Catch::Contains(message));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
}

TEST_CASE("train_model and nas_search --help print defaults as they are written", "[apps][train_model]") {
  const auto train = run_command(train_model("--help"));
  REQUIRE(train.exit_status == 0);
  for (const char* shown : {"--randaugment-magnitude arg (=10)", "--weight-decay arg (=1e-5)", "--lr arg (=0.016)",
                            "--val-fraction arg (=0.1)", "--schema arg (=3.0)"})
    CHECK_THAT(train.out, Catch::Contains(shown));
  const auto search = run_command(std::string(EFFSCALE_NAS_SEARCH) + " --help");
  REQUIRE(search.exit_status == 0);
  CHECK_THAT(search.out, Catch::Contains("--reward-exponent arg (=-0.07)"));
  CHECK_THAT(train.out + search.out, !Catch::Contains("e+0") && !Catch::Contains("00000001") && !Catch::Contains("99999999"));
}

TEST_CASE("train_model --recipe paper keeps the paper's recipe on a short run and says why its evaluation will be unreliable, a "
          "long run keeps it unasked", "[apps][train_model]") {
  TempDir dir;
  const std::string data = write_tiny_mnist(dir);
  const auto paper = run_command(train_model(tiny_args(data, dir.file("paper"), dir.file("study.db"), 1) + " --recipe paper"));
  INFO(paper.err);
  REQUIRE(paper.exit_status == 0);
  CHECK_THAT(paper.err, Catch::Contains("warning: a run of 9 steps is too short for the paper's recipe") &&
                            Catch::Contains("learning rate 0.016 per 256 images: 0.001 at batch 16") &&
                            !Catch::Contains("short-run recipe"));
  // 10,000 steps or more (1,200 epochs of 9 steps): the defaults stay the paper's; stopped once training has begun
  // (sed quits at the learning-rate line, and the next line the run writes ends it).
  const auto long_run = run_command(train_model(tiny_args(data, dir.file("long"), dir.file("study.db"), 1200)) +
                                    " 2>&1 >/dev/null | sed '/learning rate/q' >&2");
  CHECK_THAT(long_run.err, Catch::Contains("learning rate 0.016 per 256 images: 0.001 at batch 16") &&
                               !Catch::Contains("short") && !Catch::Contains("warning"));
  // What a flag gives stays: --lr and --optimizer given, the rest adapted.
  const auto given = run_command(
      train_model(tiny_args(data, dir.file("given"), dir.file("study.db"), 1) + " --lr 0.1 --optimizer adamw --recipe short"));
  CHECK(given.exit_status == 0);
  CHECK_THAT(given.err, Catch::Contains("--recipe short: the settings not given take the short-run recipe: "
                                        "--label-smoothing 0 --ema-decay 0") &&
                            Catch::Contains("learning rate 0.1 per 256 images"));
  const auto bad = run_command(train_model(tiny_args(data, dir.file("bad"), dir.file("study.db"), 1) + " --recipe fast"));
  CHECK(bad.exit_status == 2);
  CHECK_THAT(bad.err, Catch::Contains("--recipe: 'fast': expected auto, paper or short"));
}

TEST_CASE("train_model refuses a read-only study database with one line before training, query_results reads it",
          "[apps][train_model][errors]") {
  TempDir dir;
  const std::string data = write_tiny_mnist(dir), db = dir.file("study.db");
  SqliteStorage(db).create_or_load_study("tiny", {StudyDirection::Maximize});
  const effscale::testing::ReadOnlyFile read_only(db);
  if (!read_only.made()) {
    WARN("cannot make a file read-only here (root without CAP_LINUX_IMMUTABLE); not tested");
    return;
  }
  const auto r = run_command(train_model(tiny_args(data, dir.file("run"), db, 1)));
  CHECK(r.exit_status == 2);
  CHECK(r.err == "train_model: error: database '" + db + "' is read-only (file or folder permissions, an immutable "
                 "flag or a read-only filesystem); this command records to it: make it writable or give another --storage\n");
  CHECK_FALSE(std::filesystem::exists(dir.file("run/weights.pth")));
  const auto studies = run_command(std::string(EFFSCALE_QUERY_RESULTS) + " --storage " + shell_quote("sqlite:///" + db) +
                                   " studies --format csv");
  CHECK(studies.exit_status == 0);
  CHECK_THAT(studies.out, Catch::Contains("tiny"));
}
