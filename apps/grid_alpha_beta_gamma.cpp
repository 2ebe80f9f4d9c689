// grid_alpha_beta_gamma: step 1 of compound scaling. Enqueues every admissible (alpha, beta, gamma) of the
// grid as a WAITING trial once, then claims and trains the phi = 1 model of each on the proxy task; any
// number of these processes (or --workers threads) can share a study. Prints the ranked table and stores the
// best coefficients on the study once every point is done.

#include <boost/program_options.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "effscale/cli/app_main.h"
#include "effscale/cli/command_line.h"
#include "effscale/cli/output_table.h"
#include "effscale/cli/training_flags.h"
#include "effscale/base/cpu_runtime.h"
#include "effscale/models/counts.h"
#include "effscale/models/spec_json.h"
#include "effscale/scaling/grid_search.h"
#include "effscale/trainers/worker_threads.h"
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
    "usage: grid_alpha_beta_gamma --baseline b0|SPEC.json --study S [--storage URL]\n"
    "                             [--alpha-range 1.0:1.4:0.05 --beta-range ... --gamma-range ...] [--tolerance T]\n"
    "                             [--macs-tolerance 0.1] [--seeds N]\n"
    "                             [--proxy-resolution R --proxy-width W --proxy-depth D --proxy-divisor Q --in-channels C]\n"
    "                             [--workers N|auto] [training options] [--config PRESET.ini]";

// What one worker takes to train the largest point's phi = 1 network in batches of `batch_size` (for --workers
// auto). Throws SpecError for a point whose network effscale cannot build: refused before the study holds it, not
// when the point trains.
int64_t largest_point_bytes(const sc::GridDefinition& grid, const std::vector<sc::GridPoint>& points, int64_t batch_size) {
  int64_t bytes = 0;
  for (const sc::GridPoint& p : points) {
    const m::ArchSpec spec = sc::trained_model(*grid.trained_baseline, p.coefficients).spec;
    m::check_buildable(spec);
    bytes = std::max(bytes, tr::estimated_training_bytes(spec, batch_size));
  }
  return bytes;
}

// The grid the flags define. Throws UsageError naming the flag of a bad range or tolerance.
sc::GridDefinition grid_from(const po::variables_map& vm) {
  sc::GridDefinition grid;
  grid.baseline = m::spec_from_name_or_file(vm["baseline"].as<std::string>());
  grid.alpha = cli::parse_flag("--alpha-range", [&] { return sc::parse_grid_range(vm["alpha-range"].as<std::string>(), "alpha range"); });
  grid.beta = cli::parse_flag("--beta-range", [&] { return sc::parse_grid_range(vm["beta-range"].as<std::string>(), "beta range"); });
  grid.gamma = cli::parse_flag("--gamma-range", [&] { return sc::parse_grid_range(vm["gamma-range"].as<std::string>(), "gamma range"); });
  grid.tolerance = vm["tolerance"].as<double>();
  if (grid.tolerance < 0) throw UsageError("--tolerance must be >= 0");
  grid.seeds = vm["seeds"].as<int>();
  if (grid.seeds < 1 || grid.seeds > 100) throw UsageError("--seeds must be from 1 to 100");
  grid.macs_tolerance = vm["macs-tolerance"].as<double>();
  return grid;
}

// With several seeds: the points ranked by their mean validation top-1, with 95% intervals.
cli::OutputTable point_table(const std::vector<sc::PointResult>& points) {
  cli::OutputTable table({"rank", "grid_id", "alpha", "beta", "gamma", "flops_factor", "seeds", "val_top1_mean",
                          "val_top1_sd", "ci95_low", "ci95_high"});
  auto cell = [](double v) { return std::isfinite(v) ? json(v) : json(nullptr); };
  for (size_t i = 0; i < points.size(); ++i) {
    const sc::PointResult& p = points[i];
    table.add_row({int64_t(i + 1), p.grid_id, p.coefficients.alpha, p.coefficients.beta, p.coefficients.gamma,
                   std::round(sc::flops_factor(p.coefficients) * 1e4) / 1e4, int64_t(p.summary.n), cell(p.summary.mean),
                   cell(p.summary.sd), cell(p.summary.ci_low), cell(p.summary.ci_high)});
  }
  return table;
}

// One line on whether the winner's lead over the runner-up is more than seed noise.
std::string verdict(const sc::GridOutcome& outcome) {
  if (!outcome.best || !outcome.best->contains("runner_up")) return "";
  const bool apart = (*outcome.best)["distinguishable"].get<bool>();
  return "grid_alpha_beta_gamma: the best point's lead over " + (*outcome.best)["runner_up"].get<std::string>() +
         (apart ? " is larger than the seed-to-seed noise (Welch's t test, 5%)\n"
                : " is inside the seed-to-seed noise (Welch's t test, 5%): the ranking of these two is not established\n");
}

// The ranked table of the grid's points.
cli::OutputTable grid_table(const std::vector<st::Trial>& ranked) {
  cli::OutputTable table({"rank", "grid_id", "alpha", "beta", "gamma", "flops_factor", "val_top1", "target_macs",
                          "target_params", "state"});
  for (size_t i = 0; i < ranked.size(); ++i) {
    const st::Trial& t = ranked[i];
    const double a = t.params.at("alpha").internal, b = t.params.at("beta").internal, g = t.params.at("gamma").internal;
    table.add_row({int64_t(i + 1), t.system_attrs.value("grid_id", ""), a, b, g, std::round(a * b * b * g * g * 1e4) / 1e4,
                   t.values.empty() ? json(nullptr) : json(t.values[0]), t.user_attrs.value("target_macs", json(nullptr)),
                   t.user_attrs.value("target_params", json(nullptr)), st::state_name(t.state)});
  }
  return table;
}

int run(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("baseline", po::value<std::string>()->required(), "b0 or a baseline spec JSON (nas_search --export)")
      ("study", po::value<std::string>()->required()->notifier(cli::not_empty("--study")), "study name")
      ("storage", po::value<std::string>()->default_value(st::default_storage_url()), "study database URL")
      ("alpha-range", po::value<std::string>()->default_value("1.0:1.4:0.05"), "depth coefficient LOW:HIGH:STEP")
      ("beta-range", po::value<std::string>()->default_value("1.0:1.4:0.05"), "width coefficient LOW:HIGH:STEP")
      ("gamma-range", po::value<std::string>()->default_value("1.0:1.4:0.05"), "resolution coefficient LOW:HIGH:STEP")
      ("tolerance", cli::with_default(sc::GridDefinition{}.tolerance), "keep points with |alpha beta^2 gamma^2 - 2| <= T")
      ("macs-tolerance", cli::with_default(sc::GridDefinition{}.macs_tolerance)->notifier(cli::positive("--macs-tolerance")),
       "keep points whose network as trained (at the proxy, after rounding) realises 2x the baseline's multiply-adds "
       "within this fraction")
      ("seeds", cli::with_default(sc::GridDefinition{}.seeds),
       "train each point with this many seeds on the same data; rank by the mean, with 95% intervals")
      ("stale-after", cli::with_default(sc::GridJob{}.claim.stale_after_s),
       "seconds without a heartbeat before a point held by a dead worker is re-queued")
      ("max-retries", cli::with_default(sc::GridJob{}.claim.max_retries), "re-queued attempts a killed point gets before it stays FAIL")
      ("format", po::value<std::string>()->default_value("table"), "table, csv or json");
  options.add(cli::workers_option("points trained"));
  options.add(cli::output_dir_options("checkpoints, weights and train.log per point (default: runs/grid-STUDY)"));
  options.add(cli::proxy_options()).add(cli::training_options());
  auto parsed = cli::parse_command_line(argc, argv, options, kUsage);
  if (parsed.help_requested) return 0;
  const po::variables_map& vm = parsed.values;
  const auto format = cli::parse_output_format(vm["format"].as<std::string>());
  sc::GridDefinition grid = grid_from(vm);
  sc::GridJob job;
  job.baseline = grid.baseline;
  job.training = cli::proxy_training_from(vm);
  job.pruner = cli::pruner_from(vm);
  job.claim.stale_after_s = vm["stale-after"].as<double>();
  if (job.claim.stale_after_s <= 5) throw UsageError("--stale-after must be above 5 seconds (heartbeats come every 2)");
  job.claim.max_retries = vm["max-retries"].as<int>();
  if (job.claim.max_retries < 0) throw UsageError("--max-retries must be 0 or more");
  m::check_buildable(tr::shrink_to_proxy(grid.baseline, job.training.proxy));
  const int threads = effscale::base::configure_cpu_runtime(vm["threads"].as<int>());
  const tr::ProxyData data = cli::load_data_from(vm);
  cli::adapt_recipe_to_run(vm, data, job.training);
  grid.trained_baseline = tr::trained_spec(grid.baseline, job.training, data.num_classes);
  const std::vector<sc::GridPoint> points = sc::grid_points(grid);
  if (points.empty()) throw UsageError(sc::no_point_reason(grid));
  const int workers = cli::workers_from(vm, threads, job.training.recipe,
                                        largest_point_bytes(grid, points, job.training.recipe.batch_size),
                                        int(points.size()) * grid.seeds);

  const std::string url = vm["storage"].as<std::string>();
  const st::SchemaRevision schema = cli::schema_from(vm);
  job.connect = [url, schema] { return st::open_storage(url, true, schema); };
  auto storage = job.connect();
  const std::string study_name = vm["study"].as<std::string>();
  job.study_id = st::open_study_for(*storage, study_name, {st::StudyDirection::Maximize}, "grid_alpha_beta_gamma").study_id;
  try {
    if (const size_t enqueued = sc::prepare_grid_study(*storage, job.study_id, grid))
      std::cerr << "grid_alpha_beta_gamma: enqueued " << enqueued / size_t(grid.seeds) << " admissible points"
                << (grid.seeds > 1 ? " x " + std::to_string(grid.seeds) + " seeds" : std::string()) << "\n";
  } catch (const std::invalid_argument& e) {
    throw UsageError("study '" + study_name + "': " + e.what() + "; use another --study");
  }
  job.data = &data;
  job.out_dir = cli::output_dir_from(vm, "runs/grid-" + study_name);
  job.log = cli::stderr_log("grid_alpha_beta_gamma");
  if (const std::string& note = job.training.recipe.start_note; !note.empty()) job.log(note);  // each train.log has it too
  job.log(cli::workers_line(workers, threads));
  tr::run_worker_threads(workers, threads, [&](int each) { sc::run_grid_worker(job, each); });

  const sc::GridOutcome outcome = sc::conclude_grid(*storage, job.study_id);
  if (!outcome.all_done)
    std::cerr << "grid_alpha_beta_gamma: other workers still hold points; the best coefficients are stored when all finish\n";
  if (grid.seeds > 1) {
    std::cerr << verdict(outcome);
    std::cout << point_table(outcome.points).render(format);
  } else {
    std::cout << grid_table(outcome.ranked).render(format);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return effscale::cli::run_app("grid_alpha_beta_gamma", [&] { return run(argc, argv); });
}
