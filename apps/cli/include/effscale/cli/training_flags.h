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
// --warmup-epochs, --weight-decay, --label-smoothing, --ema-decay, --bn-recalibrate, --bn-momentum,
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

// Proxy architecture, --bn-momentum and the recipe together (the proxy flags must have been declared).
trainers::ProxyTraining proxy_training_from(const boost::program_options::variables_map& vm);

// --schema as the revision a database this command creates gets. Throws UsageError naming the flag for an unknown
// revision.
store::SchemaRevision schema_from(const boost::program_options::variables_map& vm);

// --pruner as a kind. Throws UsageError naming the flag for an unknown pruner.
store::PrunerKind pruner_from(const boost::program_options::variables_map& vm);

// Loads the data the training flags name, adding the flag to a missing data folder's message. Throws
// DataError / UsageError naming the bad input.
trainers::ProxyData load_data_from(const boost::program_options::variables_map& vm);

}  // namespace effscale::cli
