// nas_search: the baseline search. A controller samples architectures from the MnasNet space, each is
// trained briefly on the proxy task and scored by ACC * (MACs / T)^w, and the controller learns from the
// rewards. Every candidate is a trial; the controller's state lives on the study, so a rerun resumes.

#include <boost/program_options.hpp>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "effscale/app_training/recorded_run.h"
#include "effscale/app_training/worker_threads.h"
#include "effscale/cli/app_main.h"
#include "effscale/cli/command_line.h"
#include "effscale/cli/output_table.h"
#include "effscale/models/atomic_file.h"
#include "effscale/models/counts.h"
#include "effscale/models/cpu_runtime.h"
#include "effscale/models/spec_json.h"
#include "effscale/search/controller.h"
#include "effscale/search/ppo_controller.h"
#include "effscale/search/reward.h"
#include "effscale/search/search_space.h"
#include "effscale/search_loop/search_rounds.h"

#include <mutex>

namespace po = boost::program_options;
namespace m = effscale::models;
namespace se = effscale::search;
namespace st = effscale::store;
namespace apt = effscale::app_training;
namespace es = effscale::search_loop;
using effscale::cli::UsageError;
using nlohmann::json;

namespace {

const char* const kUsage =
    "usage: nas_search --controller ppo|random|evolution --trials N --study S [--storage URL] [--target-macs T]\n"
    "                  [--reward-exponent W | --hard-constraint] [--max-macs M] [--space FILE] [--export BEST.json]\n"
    "                  [--proxy-resolution R --proxy-width W --proxy-depth D --in-channels C] [--seed N]\n"
    "                  [--workers N] [--batch B] [--config PRESET.ini] [training options]\n"
    "Several nas_search processes on one study cooperate: each trains candidates of the same controller rounds.";

std::unique_ptr<se::Controller> make_controller(const std::string& kind, const std::vector<int>& counts, uint64_t seed) {
  if (kind == "ppo") return se::make_ppo_controller(counts, seed);
  if (kind == "random") return se::make_random_controller(counts, seed);
  if (kind == "evolution") return se::make_evolution_controller(counts, seed);
  throw UsageError("--controller '" + kind + "': expected ppo, random or evolution");
}

int run(int argc, char** argv) {
  po::options_description options("options");
  options.add_options()
      ("controller", po::value<std::string>()->default_value("ppo"), "ppo, random or evolution")
      ("trials", po::value<int>()->required(), "complete this many trials in the study")
      ("study", po::value<std::string>()->required(), "study name")
      ("storage", po::value<std::string>()->default_value(st::default_storage_url()), "study database URL")
      ("target-macs", po::value<double>()->default_value(400e6), "T: the MACs target at the full-size setting")
      ("reward-exponent", po::value<double>()->default_value(-0.07), "w in ACC * (MACs / T)^w")
      ("hard-constraint", po::bool_switch(), "w = 0 under T and -1 above")
      ("max-macs", po::value<double>()->default_value(0), "reject candidates above this many MACs before training (0: none)")
      ("space", po::value<std::string>(), "search space JSON file (default: MnasNet space around B0)")
      ("export", po::value<std::string>(), "write the best architecture here (default: OUT_DIR/best.json)")
      ("out-dir", po::value<std::string>(), "checkpoints per candidate (default: runs/search-STUDY)")
      ("workers", po::value<int>()->default_value(1), "candidates trained at once in this process (threads)")
      ("batch", po::value<int>()->default_value(8), "candidates per controller round (a study setting; PPO updates per round)")
      ("stale-after", po::value<double>()->default_value(30), "seconds without a heartbeat before a candidate is re-queued")
      ("top", po::value<int>()->default_value(10), "rows of the final table")
      ("format", po::value<std::string>()->default_value("table"), "table, csv or json");
  options.add(apt::proxy_options()).add(apt::training_options());
  auto parsed = effscale::cli::parse_command_line(argc, argv, options, kUsage);
  if (parsed.help_requested) return 0;
  const po::variables_map& vm = parsed.values;
  const auto format = effscale::cli::parse_output_format(vm["format"].as<std::string>());
  const int trials = vm["trials"].as<int>();
  if (trials < 1) throw UsageError("--trials must be at least 1");
  const se::SearchSpace space = vm.count("space") ? se::SearchSpace::from_json(
      m::read_whole_file(vm["space"].as<std::string>()), vm["space"].as<std::string>()) : se::SearchSpace::efficientnet_default();
  std::vector<int> counts;
  for (const se::Decision& d : space.decisions()) counts.push_back(static_cast<int>(d.choices.size()));
  const uint64_t seed = vm["seed"].as<uint64_t>();
  make_controller(vm["controller"].as<std::string>(), counts, seed);  // rejects an unknown kind before any work
  const int batch = vm["batch"].as<int>();
  if (batch < 1) throw UsageError("--batch must be at least 1");
  if (vm["workers"].as<int>() < 1) throw UsageError("--workers must be at least 1");
  if (vm["stale-after"].as<double>() <= 5) throw UsageError("--stale-after must be above 5 seconds (heartbeats come every 2)");
  se::RewardOptions reward_options{vm["target-macs"].as<double>(), vm["reward-exponent"].as<double>(), vm["hard-constraint"].as<bool>()};
  const int threads = m::configure_cpu_runtime(vm["threads"].as<int>());

  auto storage = st::open_storage(vm["storage"].as<std::string>());
  const std::string study_name = vm["study"].as<std::string>();
  const int64_t study = storage->create_or_load_study(study_name, {st::StudyDirection::Maximize}).study_id;
  const json settings = {{"controller", vm["controller"].as<std::string>()}, {"seed", seed}, {"counts", counts},
                         {"reference", json::parse(m::spec_to_json(space.reference()))},
                         {"target_macs", reward_options.target_macs}, {"exponent", reward_options.exponent},
                         {"hard", reward_options.hard}, {"batch", batch}};
  const json attrs = storage->study_attrs(study, true);
  if (attrs.contains("search_settings") && attrs["search_settings"] != settings)
    throw UsageError("study '" + study_name + "' holds a search with another controller, seed, space, reward or batch; use another --study");
  storage->set_study_attr(study, "search_settings", settings, true);
  const apt::ProxyData data = apt::load_proxy_data(vm);
  const int workers = vm["workers"].as<int>();
  es::SearchJob job;
  job.storage_url = vm["storage"].as<std::string>();
  job.study_id = study;
  job.space = &space;
  job.reward = reward_options;
  job.max_macs = vm["max-macs"].as<double>();
  job.trials = trials;
  job.batch = batch;
  job.stale_after_s = vm["stale-after"].as<double>();
  job.make_controller = [&] { return make_controller(vm["controller"].as<std::string>(), counts, seed); };
  job.vm = &vm;
  job.data = &data;
  job.out_dir = vm.count("out-dir") ? vm["out-dir"].as<std::string>() : "runs/search-" + study_name;
  std::mutex log_mutex;
  apt::run_worker_threads(workers, threads, [&](int each) { es::run_search_worker(job, each, log_mutex); });
  const std::string out_dir = job.out_dir;

  std::vector<st::Trial> done = storage->get_trials(study, {st::TrialState::Complete});
  if (done.empty()) throw std::runtime_error("no candidate completed (all were pruned or failed); nothing to export");
  std::stable_sort(done.begin(), done.end(), [](const st::Trial& a, const st::Trial& b) { return a.values[0] > b.values[0]; });
  m::ArchSpec best = space.reference();
  {
    json spec_json = json::parse(m::spec_to_json(space.reference()));
    spec_json["name"] = "searched";
    spec_json["stages"] = done.front().user_attrs["searched_stages"];
    best = m::spec_from_json(spec_json.dump(), "best trial");
  }
  const std::string export_path = vm.count("export") ? vm["export"].as<std::string>() : (std::filesystem::path(out_dir) / "best.json").string();
  m::write_spec_file(export_path, best);
  effscale::cli::OutputTable table({"number", "reward", "val_top1", "target_macs", "target_params", "stages"});
  for (size_t i = 0; i < done.size() && int(i) < vm["top"].as<int>(); ++i) {
    const st::Trial& t = done[i];
    table.add_row({t.number, t.values[0], t.user_attrs.value("val_top1", json(nullptr)), t.user_attrs["target_macs"],
                   t.user_attrs["target_params"], t.user_attrs["searched_stages"]});
  }
  std::cout << table.render(format);
  std::cerr << "nas_search: best architecture (reward " << done.front().values[0] << ") written to " << export_path << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return effscale::cli::run_app("nas_search", [&] { return run(argc, argv); });
}
