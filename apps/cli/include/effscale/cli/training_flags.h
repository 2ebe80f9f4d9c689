#pragma once
// The CLI layer of every command that trains (train_model, grid_alpha_beta_gamma, scale_models, nas_search): the
// proxy-task and recipe flags, and their one translation into typed options. Each default is the typed
// options' own (TrainerOptions, ProxyDataOptions, ProxyArchitecture), printed by --help from there.

#include <boost/program_options.hpp>

#include <optional>
#include <string>

#include "effscale/store/claim_loop.h"
#include "effscale/store/pruner.h"
#include "effscale/trainers/proxy_task.h"
#include "effscale/trainers/training_run.h"

namespace effscale::cli {

// --dataset, --data-dir, --train-limit, --val-fraction, --epochs, --batch-size, --lr, --optimizer, --schedule,
// --warmup-epochs, --weight-decay, --label-smoothing, --ema-decay, --dropout, --drop-connect, --zero-init-residual,
// --bn-recalibrate, --bn-momentum,
// --crop-min-area, --eval-crop, --amp, --channels-last, --augment, --randaugment-layers, --randaugment-magnitude,
// --checkpoint-every, --pruner, --schema, --seed, --threads, --device. Any of them may come from the --config INI file.
boost::program_options::options_description training_options();

// --proxy-resolution, --proxy-width, --proxy-depth, --in-channels: how a full-size spec shrinks to the proxy
// task (nas_search and grid_alpha_beta_gamma train proxies of the architectures they score).
boost::program_options::options_description proxy_options();

// The data the training flags name. Throws UsageError naming the flag for a value out of range.
trainers::ProxyDataOptions data_options_from(const boost::program_options::variables_map& vm);

// The proxy the proxy flags describe. Throws UsageError naming the flag for a value out of range.
trainers::ProxyArchitecture proxy_architecture_from(const boost::program_options::variables_map& vm);

// --bn-momentum when given.
std::optional<double> bn_momentum_from(const boost::program_options::variables_map& vm);

// The recipe the training flags describe (resolution, channels and checkpoint are set per run by
// trainers::options_for_run). Throws UsageError naming the flag for a value out of range or unknown.
trainers::TrainerOptions recipe_from(const boost::program_options::variables_map& vm);

// A run of fewer optimizer steps than this is short: the paper's recipe (the defaults: RMSprop at 0.016 per 256
// images, 5 warmup epochs, crops from 8% of the image, label smoothing, EMA 0.9999, BN momentum 0.01), tuned for
// 350 epochs, leaves its evaluation near chance (measured: B0 x0.5 at 32 px, 4,500 Fashion-MNIST images, 2 epochs:
// validation top-1 0.11 against 0.62 with the short-run recipe).
inline constexpr int64_t kShortRunSteps = 10000;

// Fits `training` to the run's length (--recipe): with short, or auto and a run of fewer than kShortRunSteps steps
// (epochs x train_images / batch), every setting of the short-run recipe that neither the command line nor --config
// gave takes that recipe's value (experiments/presets/quick.ini's: SGD at 0.4 per 256, 1 warmup epoch, no label
// smoothing, no EMA, BN momentum 0.1 with statistics re-estimated from 10 batches before each evaluation, whole-image
// crops). The line to print at start (the settings it changed; with paper and a short run, a warning that says why
// the evaluation will be unreliable and what adapts it) becomes the recipe's start_note, printed when training
// starts (left empty when there is nothing to say).
void adapt_recipe_to_run(const boost::program_options::variables_map& vm, const trainers::ProxyData& data,
                         trainers::ProxyTraining& training);

// Proxy architecture, --bn-momentum and the recipe together (the proxy flags must have been declared).
trainers::ProxyTraining proxy_training_from(const boost::program_options::variables_map& vm);

// --workers N|auto (default `default_value`) of a command that trains several proxies side by side in its process,
// each on its share of --threads; `what` says what a worker trains, for --help.
boost::program_options::options_description workers_option(const std::string& what,
                                                           const std::string& default_value = "auto");

// The count --workers asks for: N from 1 to 64, or nothing for auto. Throws UsageError naming the flag otherwise.
std::optional<int> requested_workers(const boost::program_options::variables_map& vm);

// The worker count --workers gives: N from 1 to 64, or for auto trainers::auto_worker_count(threads, the recipe's
// device is CUDA, bytes_each, most_useful), with bytes_each what a worker training the largest network takes
// (trainers::estimated_training_bytes). Throws UsageError naming the flag for anything else.
int workers_from(const boost::program_options::variables_map& vm, int threads, const trainers::TrainerOptions& recipe,
                 int64_t bytes_each, int most_useful);

// "N workers of T threads each" for `workers` workers sharing `threads` (as run_worker_threads divides them).
std::string workers_line(int workers, int threads);

// --schema as the revision a database this command creates gets. Throws UsageError naming the flag for an unknown
// revision.
store::SchemaRevision schema_from(const boost::program_options::variables_map& vm);

// --pruner as a kind. Throws UsageError naming the flag for an unknown pruner.
store::PrunerKind pruner_from(const boost::program_options::variables_map& vm);

// Loads the data the training flags name, adding the flag to a missing data folder's message. Throws
// DataError / UsageError naming the bad input.
trainers::ProxyData load_data_from(const boost::program_options::variables_map& vm);

}  // namespace effscale::cli
