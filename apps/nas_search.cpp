// nas_search: the baseline search. A controller samples architectures from the MnasNet space, each is
// trained briefly on the proxy task and scored by ACC * (MACs / T)^w, and the controller learns from the
// rewards. Every candidate is a trial; the controller's state lives on the study, so a rerun resumes.

#include <boost/program_options.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "effscale/cli/app_main.h"
#include "effscale/cli/command_line.h"
#include "effscale/cli/output_table.h"
#include "effscale/cli/training_flags.h"
#include "effscale/base/atomic_file.h"
#include "effscale/models/counts.h"
#include "effscale/models/official.h"
#include "effscale/models/reference_networks.h"
#include "effscale/base/cpu_runtime.h"
#include "effscale/models/spec_error.h"
#include "effscale/models/spec_json.h"
#include "effscale/models/block_args.h"
#include "effscale/search/controller.h"
#include "effscale/search/ppo_controller.h"
#include "effscale/search/reward.h"
#include "effscale/search/search_loop.h"
#include "effscale/search/search_space.h"
#include "effscale/search/space_info.h"
#include "effscale/trainers/proxy_task.h"
#include "effscale/trainers/training_run.h"
#include "effscale/store/best_trial.h"
#include "effscale/store/study_owner.h"
#include "effscale/trainers/worker_threads.h"


namespace po = boost::program_options;
namespace m = effscale::models;
namespace se = effscale::search;
namespace st = effscale::store;
namespace tr = effscale::trainers;
namespace cli = effscale::cli;
using effscale::cli::UsageError;
using nlohmann::json;

namespace {

const char* const kUsage =
    "usage: nas_search --controller ppo|random|evolution --trials N --study S [--storage URL] [--target-macs T]\n"
    "                  [--population P --tournament S]\n"
    "                  [--reward-exponent W | --hard-constraint] [--max-macs M] [--reference mobilenetv2|b0|SPEC.json]\n"
    "                  [--space FILE] [--export BEST.json]\n"
    "                  [--proxy-resolution R --proxy-width W --proxy-depth D --proxy-divisor Q --in-channels C] [--seed N]\n"
    "                  [--workers N|auto] [--batch B] [--seeds N] [--config PRESET.ini] [training options]\n"
    "       nas_search --space-info [--reference R | --space FILE] [--format table|csv|json]\n"
    "Several nas_search processes on one study cooperate: each trains candidates of the same controller rounds.";

// How many choices each decision of `space` has.
std::vector<int> choice_counts(const se::SearchSpace& space) {
  std::vector<int> counts;
  for (const se::Decision& d : space.decisions()) counts.push_back(static_cast<int>(d.choices.size()));
  return counts;
}

// The evolution controller's population and tournament size (regularized evolution).
struct EvolutionSize {
  int population = 32, sample = 8;
};

// --population and --tournament. Throws UsageError when out of range.
EvolutionSize evolution_from(const po::variables_map& vm) {
  const EvolutionSize evolution{vm["population"].as<int>(), vm["tournament"].as<int>()};
  if (evolution.population < 2) throw UsageError("--population must be at least 2");
  if (evolution.sample < 1 || evolution.sample > evolution.population)
    throw UsageError("--tournament must be from 1 to --population");
  return evolution;
}

// The controller `kind` names; PPO updates its policy once per round of `batch` candidates.
std::unique_ptr<se::Controller> make_controller(const std::string& kind, const std::vector<int>& counts, uint64_t seed,
                                                int batch, EvolutionSize evolution) {
  se::PpoOptions ppo;
  ppo.batch = batch;
  if (kind == "ppo") return se::make_ppo_controller(counts, seed, ppo);
  if (kind == "random") return se::make_random_controller(counts, seed);
  if (kind == "evolution") return se::make_evolution_controller(counts, seed, evolution.population, evolution.sample);
  throw UsageError("--controller '" + kind + "': expected ppo, random or evolution");
}

// The command's own flags (beside the proxy and training flags).
po::options_description search_flags() {
  po::options_description options("options");
  options.add_options()
      ("controller", po::value<std::string>()->default_value("ppo"), "ppo, random or evolution")
      ("population", cli::with_default(EvolutionSize{}.population), "evolution: members of the aging population (the first "
       "this many candidates are random, so a budget at or under it is random search)")
      ("tournament", cli::with_default(EvolutionSize{}.sample), "evolution: members sampled to pick each parent")
      ("trials", po::value<int>(), "complete this many trials in the study (required to search)")
      ("study", po::value<std::string>()->notifier(cli::not_empty("--study")), "study name (required to search)")
      ("space-info", po::bool_switch(), "print the space's size, its distinct networks and its nearest points to B0 and "
       "MnasNet-A1, then exit (no study, no training)")
      ("storage", po::value<std::string>()->default_value(st::default_storage_url()), "study database URL")
      ("target-macs", cli::with_default(se::RewardOptions{}.target_macs), "T: the MACs target at the full-size setting")
      ("reward-exponent", cli::with_default(se::RewardOptions{}.exponent), "w in ACC * (MACs / T)^w")
      ("hard-constraint", po::bool_switch(), "w = 0 under T and -1 above")
      ("max-macs", cli::with_default(se::SearchJob{}.max_macs), "reject candidates above this many MACs before training (0: none)")
      ("reference", po::value<std::string>()->default_value("mobilenetv2"),
       "the network the space is relative to: mobilenetv2 (MnasNet's and EfficientNet's), b0 (the space of earlier "
       "versions, with filter multiplier 0.85 too), an official name or a SPEC.json (MnasNet's choices around it)")
      ("space", po::value<std::string>(), "search space JSON file (reference and choices; instead of --reference)")
      ("export", po::value<std::string>(), "write the best architecture here (default: OUT_DIR/best.json)")
      ("batch", cli::with_default(se::SearchJob{}.batch), "candidates per controller round (a study setting; PPO updates per round)")
      ("seeds", cli::with_default(se::SearchJob{}.seeds),
       "train each candidate with this many seeds on the same data; the controller is told the mean reward (a study setting)")
      ("stale-after", cli::with_default(se::SearchJob{}.claim.stale_after_s), "seconds without a heartbeat before a candidate is re-queued")
      ("max-retries", cli::with_default(se::SearchJob{}.claim.max_retries), "re-queued attempts a killed candidate gets before it counts as failed")
      ("top", po::value<int>()->default_value(10)->notifier(cli::at_least("--top", 1)), "rows of the final table")
      ("format", po::value<std::string>()->default_value("table"), "table, csv or json");
  options.add(cli::workers_option("candidates trained"));
  options.add(cli::output_dir_options("checkpoints, weights and train.log per candidate (default: runs/search-STUDY)"));
  options.add(cli::proxy_options()).add(cli::training_options());
  return options;
}

// What one worker takes to train the largest candidate of `space` as `training` trains it on `classes` classes
// (for --workers auto). Called once check_space_at_proxy has passed, so every candidate is a valid network.
int64_t largest_candidate_bytes(const se::SearchSpace& space, const tr::ProxyTraining& training, int64_t classes) {
  const auto bytes = [&](const m::ArchSpec& spec) {
    return tr::estimated_training_bytes(tr::trained_spec(spec, training, classes), training.recipe.batch_size);
  };
  return bytes(space.decode(se::largest_candidate(space, bytes)));
}

// Refuses, before the study is opened, proxy settings under which the space's networks cannot be trained: the
// reference and the largest candidate (by parameters) as `training` trains them on `classes` classes must be
// networks effscale builds. Throws UsageError naming the proxy flags and the spec's reason.
void check_space_at_proxy(const se::SearchSpace& space, const tr::ProxyTraining& training, int64_t classes) {
  const auto trained = [&](const m::ArchSpec& spec) { return tr::trained_spec(spec, training, classes); };
  try {
    m::check_buildable(trained(space.reference()));
    const auto params = [&](const m::ArchSpec& spec) { return m::count_params(trained(spec)); };
    m::check_buildable(trained(space.decode(se::largest_candidate(space, params))));
  } catch (const m::SpecError& e) {
    throw UsageError(std::string("the search's networks at the proxy (--proxy-resolution, --proxy-width, --proxy-depth, "
                                 "--proxy-divisor, --in-channels): ") + e.what());
  }
}

// The search job the flags describe, on `space`, without its study, data and log. Throws UsageError naming
// the flag of a value out of range.
se::SearchJob search_job_from(const po::variables_map& vm, const se::SearchSpace& space) {
  se::SearchJob job;
  job.space = &space;
  job.trials = vm["trials"].as<int>();
  if (job.trials < 1) throw UsageError("--trials must be at least 1");
  job.batch = vm["batch"].as<int>();
  if (job.batch < 1) throw UsageError("--batch must be at least 1");
  job.seeds = vm["seeds"].as<int>();
  if (job.seeds < 1 || job.seeds > 100) throw UsageError("--seeds must be from 1 to 100");
  const std::vector<int> counts = choice_counts(space);
  const std::string kind = vm["controller"].as<std::string>();
  const uint64_t seed = vm["seed"].as<uint64_t>();
  const int batch = job.batch;
  const EvolutionSize evolution = evolution_from(vm);
  job.make_controller = [kind, counts, seed, batch, evolution] { return make_controller(kind, counts, seed, batch, evolution); };
  job.make_controller();  // rejects an unknown kind before any work
  job.claim.stale_after_s = vm["stale-after"].as<double>();
  if (job.claim.stale_after_s <= 5) throw UsageError("--stale-after must be above 5 seconds (heartbeats come every 2)");
  job.reward = {vm["target-macs"].as<double>(), vm["reward-exponent"].as<double>(), vm["hard-constraint"].as<bool>()};
  cli::parse_flag("--target-macs/--reward-exponent", [&] { se::validate(job.reward); });  // before any study is touched
  job.claim.max_retries = vm["max-retries"].as<int>();
  if (job.claim.max_retries < 0) throw UsageError("--max-retries must be 0 or more");
  job.max_macs = vm["max-macs"].as<double>();
  job.training = cli::proxy_training_from(vm);
  job.pruner = cli::pruner_from(vm);
  const std::string url = vm["storage"].as<std::string>();
  const st::SchemaRevision schema = cli::schema_from(vm);
  job.connect = [url, schema] { return st::open_storage(url, true, schema); };
  return job;
}

// Makes `study_name` the study of this search (its settings stored once); returns its id. Throws UsageError
// when the study holds a search with other settings.
int64_t open_search_study(st::Storage& storage, const std::string& study_name, const po::variables_map& vm,
                          const se::SearchJob& job) {
  const int64_t study = st::open_study_for(storage, study_name, {st::StudyDirection::Maximize}, "nas_search").study_id;
  json settings = {{"controller", vm["controller"].as<std::string>()}, {"seed", vm["seed"].as<uint64_t>()},
                         {"counts", choice_counts(*job.space)}, {"reference", m::spec_to_json_value(job.space->reference())},
                         {"target_macs", job.reward.target_macs}, {"exponent", job.reward.exponent},
                         {"hard", job.reward.hard}, {"batch", job.batch},
                         {"conv_op", "one kxk conv, input to output (c2)"}};
  const EvolutionSize evolution = evolution_from(vm);
  if (vm["controller"].as<std::string>() == "evolution" &&
      (evolution.population != EvolutionSize{}.population || evolution.sample != EvolutionSize{}.sample))
    settings["evolution"] = {{"population", evolution.population}, {"tournament", evolution.sample}};  // defaults: as before
  if (job.seeds > 1) settings["seeds"] = job.seeds;  // one seed: the settings of searches from before seeds existed
  const json attrs = storage.study_attrs(study, true);
  if (attrs.contains("search_settings") && !attrs["search_settings"].contains("conv_op"))
    throw UsageError("study '" + study_name + "' holds a search of an earlier effscale, whose `conv` op was a regular conv and a " +
                     "1x1 projection (now `fused`); its candidates would decode to other networks: use another --study");
  if (attrs.contains("search_settings") && attrs["search_settings"] != settings)
    throw UsageError("study '" + study_name + "' holds a search with another controller, seed, space, reward, batch or seeds; use another --study");
  storage.set_study_attr(study, "search_settings", settings, true);
  return study;
}

// Exports the best candidate of `done` (ranked, not empty) to `export_path` and prints the top rows: with one
// seed a row per trial as before; with several, each candidate's first trial, mean reward and mean validation
// top-1 with its sd and 95% interval.
void report_best(const se::SearchSpace& space, const std::vector<se::CandidateResult>& done, int seeds,
                 const std::string& export_path, int top, cli::OutputFormat format) {
  m::ArchSpec best = space.decode(se::candidate_of(space, *done.front().first));
  best.name = "searched";
  m::write_spec_file(export_path, best);
  std::vector<std::string> columns = {"number", "reward", "val_top1", "target_macs", "target_params", "stages"};
  if (seeds > 1) columns.insert(columns.end(), {"seeds", "val_top1_sd", "ci95_low", "ci95_high"});
  cli::OutputTable table(columns);
  for (size_t i = 0; i < done.size() && int(i) < top; ++i) {
    const se::CandidateResult& c = done[i];
    const st::Trial& t = *c.first;
    std::vector<json> row = {t.number, c.reward, seeds > 1 ? json(c.accuracy.mean) : t.user_attrs.value("val_top1", json(nullptr)),
                             t.user_attrs["target_macs"], t.user_attrs["target_params"], t.user_attrs["searched_stages"]};
    if (seeds > 1) row.insert(row.end(), {c.accuracy.n, c.accuracy.sd, c.accuracy.ci_low, c.accuracy.ci_high});
    table.add_row(row);
  }
  std::cout << table.render(format);
  std::cerr << "nas_search: best architecture (reward " << done.front().reward
            << (seeds > 1 ? ", the mean over " + std::to_string(seeds) + " seeds" : std::string()) << ") written to "
            << export_path << "\n";
}

// The space --space or --reference names.
se::SearchSpace space_from(const po::variables_map& vm) {
  if (vm.count("space")) {
    if (!vm["reference"].defaulted()) throw UsageError("--reference and --space both set the reference; give one (a space file names its own)");
    const std::string path = vm["space"].as<std::string>();
    return se::SearchSpace::from_json(effscale::base::read_whole_file(path), path);
  }
  const std::string reference = vm["reference"].as<std::string>();
  if (reference == "mobilenetv2") return se::SearchSpace::mnasnet_default();
  if (reference == "b0") return se::SearchSpace::efficientnet_default();
  return cli::parse_flag("--reference", [&] { return se::SearchSpace::around(m::spec_from_name_or_file(reference)); });
}

// The decoded stages of `candidate` as block strings, space-separated.
std::string stage_strings(const se::SearchSpace& space, const std::vector<int>& candidate) {
  std::string text;
  for (const m::BlockArgs& b : space.decode(candidate).stages) text += (text.empty() ? "" : " ") + m::format_block_string(b);
  return text;
}

// --space-info: the space's size and distinct networks, and how near it comes to B0 and MnasNet-A1.
void print_space_info(const se::SearchSpace& space, const tr::ProxyArchitecture& proxy, cli::OutputFormat format) {
  cli::OutputTable table({"item", "value"});
  auto count = [](double n) {  // exact below 2^53, else 4 significant digits
    char text[32];
    std::snprintf(text, sizeof text, n < 9007199254740992.0 ? "%.0f" : "%.4g", n);
    return std::string(text);
  };
  table.add_row({"decisions", std::to_string(space.decisions().size())});
  table.add_row({"candidates", count(space.size())});
  table.add_row({"distinct_networks", count(se::distinct_size(space))});
  if (proxy.width != 1.0 || proxy.depth != 1.0 || proxy.divisor) {  // what training at the proxy can tell apart
    const m::ArchSpec realised = tr::shrink_to_proxy(space.reference(), proxy);
    table.add_row({"distinct_networks_at_proxy", count(se::distinct_size_realised(space, realised))});
    char text[96];
    std::snprintf(text, sizeof text, "width x%g (divisor %d), depth x%g", realised.width_mult, realised.depth_divisor, realised.depth_mult);
    table.add_row({"proxy", text});
  }
  for (const auto& [name, target] : {std::pair{std::string("b0"), m::official("b0")}, std::pair{std::string("mnasnet_a1"), m::mnasnet_a1()}}) {
    const auto near = se::nearest_point(space, target);
    if (!near) {
      table.add_row({"nearest_" + name, "the space has " + std::to_string(space.decisions().size() / se::kDecisionsPerBlock) +
                                            " blocks, " + name + " " + std::to_string(target.stages.size())});
      continue;
    }
    std::string differing;
    for (const std::string& d : near->differing) differing += (differing.empty() ? "" : " ") + d;
    table.add_row({"nearest_" + name + "_differences", std::to_string(near->differences)});
    table.add_row({"nearest_" + name + "_differing", differing.empty() ? "none (in the space)" : differing});
    table.add_row({"nearest_" + name + "_stages", stage_strings(space, near->candidate)});
  }
  std::cout << table.render(format);
}

int run(int argc, char** argv) {
  auto parsed = cli::parse_command_line(argc, argv, search_flags(), kUsage);
  if (parsed.help_requested) return 0;
  const po::variables_map& vm = parsed.values;
  const auto format = cli::parse_output_format(vm["format"].as<std::string>());
  const se::SearchSpace space = space_from(vm);
  if (vm["space-info"].as<bool>()) {
    print_space_info(space, cli::proxy_architecture_from(vm), format);
    return 0;
  }
  for (const char* required : {"trials", "study"})
    if (!vm.count(required)) throw UsageError(std::string("the option '--") + required + "' is required but missing");
  se::SearchJob job = search_job_from(vm, space);
  if (vm.count("export")) cli::prepare_output_file(vm["export"].as<std::string>(), "--export");  // not after the search
  const int threads = effscale::base::configure_cpu_runtime(vm["threads"].as<int>());

  const tr::ProxyData data = cli::load_data_from(vm);  // the run's length fits the recipe before the study records it
  cli::adapt_recipe_to_run(vm, data, job.training);
  check_space_at_proxy(space, job.training, data.num_classes);
  const int workers = cli::workers_from(vm, threads, job.training.recipe,
                                        largest_candidate_bytes(space, job.training, data.num_classes),
                                        job.batch * job.seeds);
  auto storage = job.connect();
  const std::string study_name = vm["study"].as<std::string>();
  job.study_id = open_search_study(*storage, study_name, vm, job);
  job.data = &data;
  job.out_dir = cli::output_dir_from(vm, "runs/search-" + study_name);
  job.log = cli::stderr_log("nas_search");
  if (const std::string& note = job.training.recipe.start_note; !note.empty()) job.log(note);  // each train.log has it too
  job.log(cli::workers_line(workers, threads));
  tr::run_worker_threads(workers, threads, [&](int each) { se::run_search_worker(job, each); });

  const std::vector<st::Trial> trials = storage->get_trials(job.study_id, {});
  const std::vector<se::CandidateResult> done = se::rank_candidates(trials, job.seeds);
  if (done.empty()) throw std::runtime_error("no candidate completed (all were pruned or failed); nothing to export");
  const std::string export_path =
      vm.count("export") ? vm["export"].as<std::string>() : (std::filesystem::path(job.out_dir) / "best.json").string();
  report_best(space, done, job.seeds, export_path, vm["top"].as<int>(), format);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return effscale::cli::run_app("nas_search", [&] { return run(argc, argv); });
}
