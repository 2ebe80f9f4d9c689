// scale_models: emits the scaled family (derived from alpha, beta, gamma, or the official table) of a
// baseline, writes one spec per model, prints the table, and with --train trains each as a trial.

#include <boost/program_options.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <set>

#include "effscale/cli/app_main.h"
#include "effscale/cli/command_line.h"
#include "effscale/cli/output_table.h"
#include "effscale/cli/training_flags.h"
#include "effscale/base/cpu_runtime.h"
#include "effscale/models/counts.h"
#include "effscale/models/spec_json.h"
#include "effscale/scaling/equal_cost.h"
#include "effscale/scaling/scaled_model.h"
#include "effscale/trainers/data_parallel_run.h"
#include "effscale/trainers/recorded_training.h"
#include "effscale/trainers/worker_threads.h"
#include "effscale/store/storage_location.h"
#include "effscale/store/study_owner.h"

namespace po = boost::program_options;
namespace m = effscale::models;
namespace sc = effscale::scaling;
namespace st = effscale::store;
namespace tr = effscale::trainers;
namespace cli = effscale::cli;
using effscale::cli::UsageError;
using nlohmann::json;

namespace {

const char* const kUsage =
    "usage: scale_models --baseline b0|SPEC.json (--alpha A --beta B --gamma G | --from-study S | --official)\n"
    "                    [--phi 1..7 | --phi 1,2,3] [--output-dir DIR] [--format table|csv|json]\n"
    "                    [--proxy-resolution R --proxy-width W --proxy-depth D --proxy-divisor Q --in-channels C]\n"
    "                    [--method compound|width|depth|resolution [--macs-tolerance T]]\n"
    "                    [--train [--seeds N] [--workers N|auto] [training options]] [--study S] [--storage URL]\n"
    "Scales the baseline by d = alpha^phi, w = beta^phi, r = gamma^phi (or the official B1-B7 table).\n"
    "--method: at equal cost instead, each model realising 2^phi times the baseline's multiply-adds after\n"
    "rounding (within --macs-tolerance), by compound scaling or by width, depth or resolution alone.\n"
    "--train data-parallel: start it with torchrun --no_python; rank 0 writes, records and prints.";

// Refuses a flag given on the command line that this run would ignore: a training flag without --train (the models
// are then only written), --macs-tolerance without --method. A preset's settings are not refused: one preset serves
// every command. Throws UsageError naming the flag.
void refuse_ignored_flags(const std::set<std::string>& flags_given, bool train, bool method) {
  if (!method && flags_given.count("macs-tolerance")) throw UsageError("--macs-tolerance applies with --method");
  if (train) return;
  std::vector<std::string> training = {"seeds", "workers", "study"};
  const po::options_description training_flags = cli::training_options();
  for (const auto& option : training_flags.options()) training.push_back(option->long_name());
  for (const std::string& name : training)
    if (flags_given.count(name)) throw UsageError("--" + name + " applies with --train (without it the models are only written)");
}

// --phi: LOW..HIGH (whole numbers) or a list of numbers, each within 0..20 and none twice. Throws UsageError.
std::vector<double> parse_phis(const std::string& text) {
  std::vector<double> phis;
  int lo = 0, hi = 0;
  char extra = 0;
  if (std::sscanf(text.c_str(), "%d..%d%c", &lo, &hi, &extra) == 2) {
    if (lo < 0 || hi < lo || hi > 20) throw UsageError("--phi '" + text + "': expected LOW..HIGH within 0..20");
    for (int p = lo; p <= hi; ++p) phis.push_back(p);
    return phis;
  }
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = std::min(text.find(',', start), text.size());
    try {
      size_t used = 0;
      const std::string item = text.substr(start, end - start);
      phis.push_back(std::stod(item, &used));
      if (used != item.size() || !(phis.back() >= 0 && phis.back() <= 20)) throw std::invalid_argument(item);  // NaN too
    } catch (const std::exception&) {
      throw UsageError("--phi '" + text + "': expected 1..7 or a list like 1,2,3 (each within 0..20)");
    }
    start = end + 1;
  }
  for (size_t i = 1; i < phis.size(); ++i)  // a phi listed twice would train and write the same model twice
    if (std::find(phis.begin(), phis.begin() + long(i), phis[i]) != phis.begin() + long(i))
      throw UsageError("--phi '" + text + "': " + cli::default_text(phis[i]) + " is listed twice");
  return phis;
}

sc::Coefficients coefficients_from(const po::variables_map& vm) {
  if (vm.count("from-study")) {
    auto storage = st::open_storage(vm["storage"].as<std::string>(), /*create=*/false);
    if (const std::string warning = storage->open_warning(); !warning.empty()) std::cerr << "scale_models: warning: " << warning << "\n";
    const std::string name = vm["from-study"].as<std::string>();
    const auto study = storage->find_study(name);
    if (!study) throw UsageError("no study named '" + name + "' in " + st::url_without_password(vm["storage"].as<std::string>()));
    const json attrs = storage->study_attrs(study->study_id, false);
    if (!attrs.contains("best_coefficients"))
      throw UsageError("study '" + name + "' has no best coefficients yet: run grid_alpha_beta_gamma to the end first");
    const json& b = attrs["best_coefficients"];
    return {b.at("alpha").get<double>(), b.at("beta").get<double>(), b.at("gamma").get<double>()};
  }
  if (!vm.count("alpha") || !vm.count("beta") || !vm.count("gamma"))
    throw UsageError("give --alpha, --beta and --gamma, or --from-study S, or --official");
  const sc::Coefficients c{vm["alpha"].as<double>(), vm["beta"].as<double>(), vm["gamma"].as<double>()};
  if (c.alpha < 1 || c.beta < 1 || c.gamma < 1) throw UsageError("--alpha, --beta and --gamma must be >= 1");
  return c;
}

// The baseline the flags name, shrunk to the proxy (and named NAME-proxy) when a proxy flag is given.
m::ArchSpec baseline_from(const po::variables_map& vm) {
  m::ArchSpec baseline = m::spec_from_name_or_file(vm["baseline"].as<std::string>());
  const tr::ProxyArchitecture proxy = cli::proxy_architecture_from(vm);
  if (!proxy.resolution && !proxy.in_channels && !proxy.divisor && proxy.width == 1.0 && proxy.depth == 1.0) return baseline;
  baseline = tr::shrink_to_proxy(baseline, proxy);
  baseline.name += "-proxy";
  m::check_buildable(baseline);
  return baseline;
}

// How the family is scaled: the flags' coefficients, the official table, or a method at equal cost.
struct FamilyRecipe {
  sc::Coefficients c;
  bool official = false;
  std::optional<sc::ScalingMethod> method;  // equal cost
};

// The models of `phis`; with a method, each within --macs-tolerance of 2^phi x the baseline's multiply-adds.
// Throws SpecError for a model effscale cannot build, UsageError for one a method cannot bring to its cost.
std::vector<sc::ScaledModel> scale_family(const m::ArchSpec& baseline, const std::vector<double>& phis, const FamilyRecipe& how,
                                          const po::variables_map& vm) {
  const int divisor = vm["resolution-divisor"].as<int>();
  const double tolerance = vm["macs-tolerance"].as<double>();
  std::vector<sc::ScaledModel> family;
  for (double phi : phis) {
    if (how.official) family.push_back(sc::official_scaled_model(baseline, phi));
    else if (!how.method) family.push_back(sc::scale_model(baseline, how.c, phi, divisor));
    else family.push_back(sc::scale_to_cost(baseline, *how.method, phi, how.c, divisor));
    m::check_buildable(family.back().spec);  // a model effscale cannot build is neither written nor trained
    const double ratio = family.back().macs_ratio, target = std::pow(2.0, phi);
    if (!how.method || std::abs(ratio / target - 1) <= tolerance) continue;
    char text[256];
    std::snprintf(text, sizeof text, "--method %s: at phi %g the nearest network realises %.2fx the baseline's multiply-adds, "
                  "not %gx within %g%%; raise --macs-tolerance or lower --resolution-divisor",
                  sc::scaling_method_name(*how.method).c_str(), phi, ratio, target, tolerance * 100);
    throw UsageError(text);
  }
  return family;
}

json official_cells(const m::ArchSpec& baseline, double phi) {
  if (phi < 1 || phi > 7 || std::floor(phi) != phi) return {nullptr, nullptr, nullptr};
  const sc::ScaledModel o = sc::official_scaled_model(baseline, phi);
  return {o.spec.resolution, o.params, o.macs};
}

// The run folder of `model`'s seed `k` (of `seeds`): runs/MODEL, or runs/MODEL/seed<k+1> with several seeds.
std::string run_dir_of(const std::string& out_dir, const std::string& model, int k, int seeds) {
  std::filesystem::path dir = std::filesystem::path(out_dir) / "runs" / model;
  if (seeds > 1) dir /= "seed" + std::to_string(k + 1);
  return dir.string();
}

// One training run of --train: a model of the family and its seed index.
struct FamilyRun {
  const sc::ScaledModel* model;
  int seed_index;
};

// The runs of `family` x `seeds`, model by model (the summary table's order).
std::vector<FamilyRun> family_runs(const std::vector<sc::ScaledModel>& family, int seeds) {
  std::vector<FamilyRun> runs;
  for (const sc::ScaledModel& s : family)
    for (int k = 0; k < seeds; ++k) runs.push_back({&s, k});
  return runs;
}

// The order in which workers take `runs` (indices): with one worker as they come; with several the largest first,
// so that the runs that start last are the shortest.
std::vector<size_t> schedule(const std::vector<FamilyRun>& runs, int workers) {
  std::vector<size_t> order(runs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  if (workers > 1)
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return runs[a].model->macs > runs[b].model->macs; });
  return order;
}

// What every run of --train shares.
struct FamilyTraining {
  const FamilyRecipe& how;
  const tr::ProxyData& data;
  tr::ProxyTraining training;
  std::shared_ptr<tr::ProcessGroup> group;  // data-parallel ranks, or null
  std::string out_dir;
  int seeds = 1, workers = 1;
  bool leader = true;  // rank 0 (or the only process): records and prints
  int64_t study = 0;
};

// Trains one run (model and seed) of the family, recorded as its trial when `storage` is given (the leader), and
// returns its row of the summary table. `lock` serialises the trial's creation and the progress line.
std::vector<json> train_family_run(const FamilyTraining& f, const FamilyRun& run, st::Storage* storage, st::Pruner* pruner,
                                   std::mutex& lock) {
  const sc::ScaledModel& s = *run.model;
  const int k = run.seed_index;
  const m::ArchSpec spec = tr::adapt_spec(s.spec, f.training.bn_momentum, f.data.num_classes);
  const std::string run_dir = run_dir_of(f.out_dir, s.name, k, f.seeds);
  tr::TrainerOptions trainer = tr::options_for_run(f.training.recipe, spec, run_dir);
  trainer.seed += uint64_t(k);  // weights and data order; the split stays
  trainer.resume = true;  // a rerun continues every model where it stopped
  tr::use_data_parallel(f.group, trainer);
  std::optional<st::Trial> trial;
  if (storage) {
    const std::lock_guard<std::mutex> hold(lock);
    trial = tr::open_run_trial(*storage, f.study, run_dir, true);
    std::cerr << "scale_models: training " << s.name << (f.seeds > 1 ? " seed " + std::to_string(k + 1) : std::string())
              << " (trial " << trial->number << ")\n";
  }
  json attrs = {{"model", s.name}, {"phi", s.phi}, {"alpha", f.how.c.alpha}, {"beta", f.how.c.beta}, {"gamma", f.how.c.gamma},
                {"official", f.how.official}, {"macs_ratio", s.macs_ratio}, {"seed_index", k}};
  if (f.how.method) attrs["method"] = sc::scaling_method_name(*f.how.method);
  std::filesystem::create_directories(run_dir);
  std::ofstream file_log;
  if (f.workers > 1) file_log.open((std::filesystem::path(run_dir) / "train.log").string(), std::ios::app);
  const json row = tr::run_recorded_training(storage, trial, spec, f.data, trainer, run_dir, attrs,
                                             f.workers > 1 ? static_cast<std::ostream&>(file_log) : std::cerr, nullptr, pruner);
  return {s.name, s.phi, k + 1, row["val_top1"], row["test_top1"], row["params"], row["macs"], row["resolution"], row["wall_s"]};
}

// --train: trains every model of `family` (`--seeds` times each: seeds --seed + 0, 1, ... on the same data) as
// trials of the study, `--workers` runs at a time (each on its own database connection; with several, each run's
// log goes to its train.log); rank 0 records and prints under torchrun. After a run fails, no worker starts another.
void train_family(const po::variables_map& vm, const std::vector<sc::ScaledModel>& family, const FamilyRecipe& how,
                  const tr::ProxyData& data, const std::string& out_dir, const std::optional<tr::Rendezvous>& rendezvous,
                  int threads) {
  FamilyTraining f{how, data, cli::proxy_training_from(vm), tr::join_data_parallel(rendezvous), out_dir,
                   vm["seeds"].as<int>(), 1, !rendezvous || rendezvous->rank == 0};
  cli::adapt_recipe_to_run(vm, data, f.training);  // its note prints as each run starts
  const std::vector<FamilyRun> runs = family_runs(family, f.seeds);
  if (!rendezvous) {  // each rank of a data-parallel run trains one run at a time
    int64_t bytes_each = 0;  // a worker training the family's largest model, for --workers auto
    for (const sc::ScaledModel& s : family)
      bytes_each = std::max(bytes_each, tr::estimated_training_bytes(tr::adapt_spec(s.spec, f.training.bn_momentum, data.num_classes),
                                                                     f.training.recipe.batch_size));
    f.workers = cli::workers_from(vm, threads, f.training.recipe, bytes_each, int(runs.size()));
  }
  if (f.leader && f.workers > 1) std::cerr << "scale_models: " << cli::workers_line(f.workers, threads) << "\n";
  const std::string url = vm["storage"].as<std::string>();
  const st::SchemaRevision schema = cli::schema_from(vm);
  if (f.leader) {
    const std::string study_name = vm.count("study") ? vm["study"].as<std::string>() : "scaled";
    f.study = st::open_study_for(*st::open_storage(url, true, schema), study_name, {st::StudyDirection::Maximize}, "scale_models").study_id;
  }
  const std::vector<size_t> order = schedule(runs, f.workers);
  std::vector<std::vector<json>> rows(runs.size());
  std::mutex lock;
  size_t next = 0;
  bool failed = false;
  tr::run_worker_threads(f.workers, threads, [&](int each) {
    effscale::base::limit_thread_intra_op(each);
    const std::unique_ptr<st::Storage> storage = f.leader ? st::open_storage(url, true, schema) : nullptr;
    const std::unique_ptr<st::Pruner> pruner = st::make_pruner(cli::pruner_from(vm));
    while (true) {
      size_t i;
      {
        const std::lock_guard<std::mutex> hold(lock);
        if (failed || next == order.size()) return;
        i = order[next++];
      }
      try {
        rows[i] = train_family_run(f, runs[i], storage.get(), pruner.get(), lock);
      } catch (...) {
        const std::lock_guard<std::mutex> hold(lock);
        failed = true;
        throw;
      }
    }
  });
  effscale::cli::OutputTable trained({"model", "phi", "seed", "val_top1", "test_top1", "params", "macs", "resolution", "wall_s"});
  for (const std::vector<json>& row : rows) trained.add_row(row);  // the family's order, whatever order they trained in
  if (f.leader) std::cerr << trained.render(effscale::cli::OutputFormat::Table);
}

int run(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("baseline", po::value<std::string>()->required(), "b0 or a baseline spec JSON (nas_search --export)")
      ("alpha", po::value<double>()->notifier(cli::positive("--alpha")), "depth coefficient")
      ("beta", po::value<double>()->notifier(cli::positive("--beta")), "width coefficient")
      ("gamma", po::value<double>()->notifier(cli::positive("--gamma")), "resolution coefficient")
      ("from-study", po::value<std::string>(), "take the best coefficients of this grid_alpha_beta_gamma study")
      ("official", po::bool_switch(), "use the official hand-rounded B1-B7 table instead of coefficients")
      ("phi", po::value<std::string>()->default_value("1..7"), "compound coefficients: LOW..HIGH or a list")
      ("method", po::value<std::string>(), "scale at equal cost: compound (needs coefficients), width, depth or resolution")
      ("macs-tolerance", cli::with_default(0.1)->notifier(cli::positive("--macs-tolerance")),
       "--method: refuse a model whose realised multiply-adds miss 2^phi x the baseline's by more than this fraction")
      ("seeds", cli::with_default(1)->notifier(cli::at_least("--seeds", 1)), "--train: train each model this many times")
      ("resolution-divisor", po::value<int>()->default_value(8), "derived resolutions round to multiples of this")
      ("format", po::value<std::string>()->default_value("table"), "table, csv or json")
      ("train", po::bool_switch(), "train every model (resumable; one trial each)")
      ("study", po::value<std::string>()->notifier(cli::not_empty("--study")), "with --train: the study recording the trials (default: scaled)")
      ("storage", po::value<std::string>()->default_value(st::default_storage_url()), "study database URL");
  options.add(cli::workers_option("--train: runs (largest first; each run's log then goes to its train.log) trained", "1"));
  options.add(cli::output_dir_options("one SPEC.json per model goes here, and runs/MODEL/ with --train (default: scaled)"));
  options.add(cli::proxy_options()).add(cli::training_options());
  auto parsed = effscale::cli::parse_command_line(argc, argv, options, kUsage);
  if (parsed.help_requested) return 0;
  const po::variables_map& vm = parsed.values;
  const auto format = effscale::cli::parse_output_format(vm["format"].as<std::string>());
  refuse_ignored_flags(parsed.flags_given, vm["train"].as<bool>(), vm.count("method") > 0);
  const bool official = vm["official"].as<bool>();
  if (official && (vm.count("alpha") || vm.count("from-study")))
    throw UsageError("--official replaces the coefficients; drop --alpha/--beta/--gamma/--from-study");
  FamilyRecipe how;
  how.official = official;
  if (vm.count("method")) {
    if (official) throw UsageError("--official and --method exclude each other");
    how.method = cli::parse_flag("--method", [&] { return sc::parse_scaling_method(vm["method"].as<std::string>()); });
  }
  m::ArchSpec baseline = baseline_from(vm);
  const std::vector<double> phis = parse_phis(vm["phi"].as<std::string>());
  if (!official && (!how.method || *how.method == sc::ScalingMethod::Compound)) how.c = coefficients_from(vm);
  else if (how.method && (vm.count("alpha") || vm.count("beta") || vm.count("gamma") || vm.count("from-study")))
    throw UsageError("--method " + sc::scaling_method_name(*how.method) +
                     " scales one dimension: --alpha/--beta/--gamma/--from-study apply to --method compound");
  // Under torchrun (--train data-parallel) rank 0 alone writes the specs, prints and records.
  const std::optional<tr::Rendezvous> rendezvous = tr::rendezvous_from_environment();
  const bool train = vm["train"].as<bool>();
  if (rendezvous && cli::requested_workers(vm).value_or(1) != 1)
    throw UsageError("--workers " + vm["workers"].as<std::string>() +
                     ": expected 1 under torchrun (each rank trains one run at a time)");
  const int threads = train ? effscale::base::configure_cpu_runtime(tr::threads_for_process(vm["threads"].as<int>(), rendezvous)) : 0;
  std::optional<tr::ProxyData> data;
  if (train) {
    data = cli::load_data_from(vm);
    baseline.num_classes = int(data->num_classes);  // costs as trained: the data's classifier
  }
  const std::vector<sc::ScaledModel> family = scale_family(baseline, phis, how, vm);
  const std::string out_dir = cli::output_dir_from(vm, "scaled");
  const bool leader = !rendezvous || rendezvous->rank == 0;
  if (leader) std::filesystem::create_directories(out_dir);
  effscale::cli::OutputTable table({"model", "phi", "depth_mult", "width_mult", "resolution_mult", "resolution",
                                    "repeats", "channels", "params", "macs", "macs_ratio", "two_pow_phi", "official_resolution",
                                    "official_params", "official_macs"});
  for (const sc::ScaledModel& s : family) {
    if (leader) m::write_spec_file((std::filesystem::path(out_dir) / (s.name + ".json")).string(), s.spec);
    const json off = official_cells(baseline, s.phi);
    auto r4 = [](double v) { return std::round(v * 1e4) / 1e4; };
    table.add_row({s.name, s.phi, r4(s.depth_mult), r4(s.width_mult), r4(s.resolution_mult), s.spec.resolution, s.repeats,
                   s.channels, s.params, s.macs, std::round(s.macs_ratio * 1000) / 1000, std::pow(2.0, s.phi), off[0], off[1], off[2]});
  }
  if (leader) std::cout << table.render(format);
  if (train) train_family(vm, family, how, *data, out_dir, rendezvous, threads);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return effscale::cli::run_app("scale_models", [&] { return run(argc, argv); });
}
