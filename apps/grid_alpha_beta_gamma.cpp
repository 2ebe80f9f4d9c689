// grid_alpha_beta_gamma: step 1 of compound scaling. Enqueues every admissible (alpha, beta, gamma) of the
// grid as a WAITING trial once, then claims and trains the phi = 1 model of each on the proxy task; any
// number of these processes (or --workers threads) can share a study. Prints the ranked table and stores the
// best coefficients on the study once every point is done.

#include <boost/program_options.hpp>

#include <cmath>
#include <filesystem>
#include <iostream>
#include <mutex>

#include "effscale/app_training/recorded_run.h"
#include "effscale/app_training/worker_threads.h"
#include "effscale/cli/app_main.h"
#include "effscale/cli/command_line.h"
#include "effscale/cli/output_table.h"
#include "effscale/models/cpu_runtime.h"
#include "effscale/models/spec_json.h"
#include "effscale/scaling/scaled_model.h"

namespace po = boost::program_options;
namespace m = effscale::models;
namespace sc = effscale::scaling;
namespace st = effscale::store;
namespace apt = effscale::app_training;
using effscale::cli::UsageError;
using nlohmann::json;

namespace {

const char* const kUsage =
    "usage: grid_alpha_beta_gamma --baseline b0|SPEC.json --study S [--storage URL]\n"
    "                             [--alpha-range 1.0:1.4:0.05 --beta-range ... --gamma-range ...] [--tolerance T]\n"
    "                             [--proxy-resolution R --proxy-width W --proxy-depth D --in-channels C]\n"
    "                             [--workers N] [training options] [--config PRESET.ini]";

// The grid's identity, stored on the study: a rerun with other settings is refused instead of mixed in.
json grid_settings(const po::variables_map& vm, const m::ArchSpec& baseline) {
  return {{"baseline", json::parse(m::spec_to_json(baseline))}, {"alpha_range", vm["alpha-range"].as<std::string>()},
          {"beta_range", vm["beta-range"].as<std::string>()}, {"gamma_range", vm["gamma-range"].as<std::string>()},
          {"tolerance", vm["tolerance"].as<double>()}};
}

// Claims and trains points until none is waiting. Returns how many this worker finished.
int work(const po::variables_map& vm, const std::string& url, int64_t study, const m::ArchSpec& baseline,
         const apt::ProxyData& data, const std::string& out_dir, int threads, std::mutex& log_mutex) {
  m::limit_thread_intra_op(threads);
  auto storage = st::open_storage(url);
  const std::unique_ptr<st::Pruner> pruner = st::make_pruner(vm["pruner"].as<std::string>());
  const m::ArchSpec proxy = apt::proxy_spec(baseline, vm);
  int done = 0;
  while (true) {
    storage->fail_stale_trials(study, 120.0, 2);  // points of killed workers come back
    const auto claimed = storage->claim_waiting_trial(study);
    if (!claimed) return done;
    const st::Trial trial = storage->get_trial(claimed->trial_id);
    const std::string id = trial.system_attrs.at("grid_id").get<std::string>();
    const sc::Coefficients c{trial.params.at("alpha").internal, trial.params.at("beta").internal,
                             trial.params.at("gamma").internal};
    const sc::ScaledModel target = sc::scale_model(baseline, c, 1.0, 8);       // the full-size phi = 1 model
    const sc::ScaledModel trained = sc::scale_model(proxy, c, 1.0, 1);         // what the proxy trains
    const m::ArchSpec spec = apt::adapt_spec(trained.spec, vm, data.num_classes);
    const std::string run_dir = (std::filesystem::path(out_dir) / id).string();
    effscale::trainers::TrainerOptions options =
        apt::trainer_options_from(vm, spec, (std::filesystem::path(run_dir) / "checkpoint.pt").string());
    options.resume = true;  // a re-queued point continues from its last checkpoint
    const json attrs = {{"grid_id", id}, {"flops_factor", sc::flops_factor(c)}, {"target_macs", target.macs},
                        {"target_params", target.params}, {"target_resolution", target.spec.resolution},
                        {"macs_ratio", target.macs_ratio}};
    std::ostringstream log;
    try {
      apt::run_recorded_training(storage.get(), trial, spec, data, options, run_dir, attrs, log, nullptr, pruner.get());
    } catch (const effscale::trainers::TrainingDiverged& e) {
      std::lock_guard lock(log_mutex);
      std::cerr << "grid_alpha_beta_gamma: " << id << " failed: " << e.what() << "\n";
      continue;
    }
    std::lock_guard lock(log_mutex);
    std::cerr << "grid_alpha_beta_gamma: " << id << " done (trial " << trial.number << ")\n";
    ++done;
  }
}

int run(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("baseline", po::value<std::string>()->required(), "b0 or a baseline spec JSON (nas_search --export)")
      ("study", po::value<std::string>()->required(), "study name")
      ("storage", po::value<std::string>()->default_value(st::default_storage_url()), "study database URL")
      ("alpha-range", po::value<std::string>()->default_value("1.0:1.4:0.05"), "depth coefficient LOW:HIGH:STEP")
      ("beta-range", po::value<std::string>()->default_value("1.0:1.4:0.05"), "width coefficient LOW:HIGH:STEP")
      ("gamma-range", po::value<std::string>()->default_value("1.0:1.4:0.05"), "resolution coefficient LOW:HIGH:STEP")
      ("tolerance", po::value<double>()->default_value(0.1), "keep points with |alpha beta^2 gamma^2 - 2| <= T")
      ("workers", po::value<int>()->default_value(1), "points trained at once in this process")
      ("out-dir", po::value<std::string>(), "checkpoints per point (default: runs/grid-STUDY)")
      ("format", po::value<std::string>()->default_value("table"), "table, csv or json");
  options.add(apt::proxy_options()).add(apt::training_options());
  auto parsed = effscale::cli::parse_command_line(argc, argv, options, kUsage);
  if (parsed.help_requested) return 0;
  const po::variables_map& vm = parsed.values;
  const auto format = effscale::cli::parse_output_format(vm["format"].as<std::string>());
  const int workers = vm["workers"].as<int>();
  if (workers < 1 || workers > 64) throw UsageError("--workers must be from 1 to 64");
  if (vm["tolerance"].as<double>() < 0) throw UsageError("--tolerance must be >= 0");
  const m::ArchSpec baseline = m::spec_from_name_or_file(vm["baseline"].as<std::string>());
  const sc::GridRange alpha_range = sc::parse_grid_range(vm["alpha-range"].as<std::string>(), "--alpha-range");
  const sc::GridRange beta_range = sc::parse_grid_range(vm["beta-range"].as<std::string>(), "--beta-range");
  const sc::GridRange gamma_range = sc::parse_grid_range(vm["gamma-range"].as<std::string>(), "--gamma-range");
  const auto points = sc::admissible_grid(alpha_range, beta_range, gamma_range, vm["tolerance"].as<double>());
  if (points.empty()) throw UsageError("no grid point satisfies |alpha beta^2 gamma^2 - 2| <= tolerance; widen the ranges");
  m::validate(apt::proxy_spec(baseline, vm));
  const int threads = m::configure_cpu_runtime(vm["threads"].as<int>());

  const std::string url = vm["storage"].as<std::string>();
  auto storage = st::open_storage(url);
  const std::string study_name = vm["study"].as<std::string>();
  const int64_t study = storage->create_or_load_study(study_name, {st::StudyDirection::Maximize}).study_id;
  const json settings = grid_settings(vm, baseline);
  const json existing = storage->study_attrs(study, false);
  if (existing.contains("grid_settings") && existing["grid_settings"] != settings)
    throw UsageError("study '" + study_name + "' holds a grid with other settings (baseline, ranges or tolerance); use another --study");
  storage->set_study_attr(study, "grid_settings", settings, false);
  std::vector<st::Storage::EnqueueRequest> requests;
  for (const sc::GridPoint& p : points) {
    auto param = [](double v, const sc::GridRange& r) {
      return st::ParamValue{v, st::Distribution::float_range(r.low, r.high, r.step)};
    };
    requests.push_back({{{"alpha", param(p.coefficients.alpha, alpha_range)},
                         {"beta", param(p.coefficients.beta, beta_range)},
                         {"gamma", param(p.coefficients.gamma, gamma_range)}},
                        {{"grid_id", p.id}}});
  }
  if (storage->enqueue_trials_once(study, "grid_enqueued", requests))
    std::cerr << "grid_alpha_beta_gamma: enqueued " << points.size() << " admissible points\n";
  const apt::ProxyData data = apt::load_proxy_data(vm);

  const std::string out_dir = vm.count("out-dir") ? vm["out-dir"].as<std::string>() : "runs/grid-" + study_name;
  std::mutex log_mutex;
  apt::run_worker_threads(workers, threads, [&](int each) { work(vm, url, study, baseline, data, out_dir, each, log_mutex); });

  const auto trials = storage->get_trials(study, {});
  effscale::cli::OutputTable table({"rank", "grid_id", "alpha", "beta", "gamma", "flops_factor", "val_top1", "target_macs",
                                    "target_params", "state"});
  std::vector<st::Trial> ranked = trials;
  std::stable_sort(ranked.begin(), ranked.end(), [](const st::Trial& a, const st::Trial& b) {
    const double x = a.values.empty() ? -1 : a.values[0], y = b.values.empty() ? -1 : b.values[0];
    return x > y;
  });
  bool all_done = true;
  for (size_t i = 0; i < ranked.size(); ++i) {
    const st::Trial& t = ranked[i];
    all_done = all_done && st::is_finished(t.state);
    const double a = t.params.at("alpha").internal, b = t.params.at("beta").internal, g = t.params.at("gamma").internal;
    table.add_row({int64_t(i + 1), t.system_attrs.value("grid_id", ""), a, b, g, std::round(a * b * b * g * g * 1e4) / 1e4,
                   t.values.empty() ? json(nullptr) : json(t.values[0]), t.user_attrs.value("target_macs", json(nullptr)),
                   t.user_attrs.value("target_params", json(nullptr)), st::state_name(t.state)});
  }
  if (all_done && !ranked.empty() && !ranked[0].values.empty()) {
    const st::Trial& best = ranked[0];
    storage->set_study_attr(study, "best_coefficients",
                            {{"alpha", best.params.at("alpha").internal}, {"beta", best.params.at("beta").internal},
                             {"gamma", best.params.at("gamma").internal}, {"val_top1", best.values[0]},
                             {"trial", best.number}}, false);
  } else if (!all_done) {
    std::cerr << "grid_alpha_beta_gamma: other workers still hold points; the best coefficients are stored when all finish\n";
  }
  std::cout << table.render(format);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return effscale::cli::run_app("grid_alpha_beta_gamma", [&] { return run(argc, argv); });
}
