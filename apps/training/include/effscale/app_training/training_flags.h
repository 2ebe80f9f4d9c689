#pragma once
// The proxy-task and recipe flags shared by every command that trains (train_model, grid_alpha_beta_gamma,
// scale_models), and what they turn into.

#include <boost/program_options.hpp>

#include <string>

#include "effscale/models/arch_spec.h"
#include "effscale/trainers/dataset_readers.h"
#include "effscale/trainers/trainer.h"

namespace effscale::app_training {

// --dataset, --data-dir, --train-limit, --val-fraction, --epochs, --batch-size, --lr, --optimizer, --schedule,
// --warmup-epochs, --weight-decay, --label-smoothing, --ema-decay, --bn-recalibrate, --bn-momentum,
// --crop-min-area, --eval-crop, --checkpoint-every, --seed, --threads, --device (defaults: the paper's recipe, 5 epochs,
// Fashion-MNIST). Any of them may come from the --config INI file (a preset).
boost::program_options::options_description training_options();

// The data a run trains and evaluates on: a seeded proxy subset of the training set split into train and
// validation, and the test set.
struct ProxyData {
  std::string dataset;
  trainers::TrainValidationSplit split;
  trainers::ImageDataset test;
  int64_t num_classes = 0;
};

// Loads the dataset the flags name. Throws DataError / std::invalid_argument naming the bad input.
ProxyData load_proxy_data(const boost::program_options::variables_map& vm);

// --proxy-resolution, --proxy-width, --proxy-depth, --in-channels: how a full-size spec shrinks to the proxy
// task (nas_search and grid_alpha_beta_gamma train proxies of the architectures they score).
boost::program_options::options_description proxy_options();

// `spec` shrunk by the proxy flags: resolution replaced, width and depth multiplied, input channels set.
models::ArchSpec proxy_spec(models::ArchSpec spec, const boost::program_options::variables_map& vm);

// Applies --bn-momentum to a spec (and sets its classes); validates it.
models::ArchSpec adapt_spec(models::ArchSpec spec, const boost::program_options::variables_map& vm, int64_t num_classes);

// The trainer options the flags describe, training `spec` (its resolution and input channels), with the
// checkpoint at checkpoint_path. Throws UsageError / std::invalid_argument for values out of range.
trainers::TrainerOptions trainer_options_from(const boost::program_options::variables_map& vm,
                                              const models::ArchSpec& spec, const std::string& checkpoint_path);

}  // namespace effscale::app_training
