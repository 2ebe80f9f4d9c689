#pragma once
// The proxy task a search or a grid scores architectures on: how a full-size spec shrinks, and the data.

#include <cstdint>
#include <optional>
#include <string>

#include "effscale/models/arch_spec.h"
#include "effscale/trainers/dataset_readers.h"
#include "effscale/trainers/image_dataset.h"

namespace effscale::trainers {

// How a full-size architecture shrinks to the network the proxy trains.
struct ProxyArchitecture {
  std::optional<int> resolution;     // train at this resolution (default: the spec's)
  double width = 1.0;                // multiplies the spec's width multiplier (> 0)
  double depth = 1.0;                // multiplies the spec's depth multiplier (> 0)
  std::optional<int> in_channels;    // input channels of the stem (default: the spec's; 1 for grey datasets)
  // Channel rounding divisor of the proxy network (default: the spec's, 8). At width 0.25 a divisor of 2 keeps
  // widths that differ at full size (multiples of 8) different at the proxy; with 8 they collapse to 8 channels.
  std::optional<int> divisor;
};

// `spec` shrunk to the proxy: resolution, input channels and divisor replaced when set, width and depth multiplied.
// Does not validate (adapt_spec does).
models::ArchSpec shrink_to_proxy(models::ArchSpec spec, const ProxyArchitecture& proxy);

// `spec` made ready to train on a dataset of `num_classes` classes, with its BN momentum (PyTorch sense)
// replaced when `bn_momentum` is set; validated. Throws SpecError naming the field out of range, or an input channel
// count other than 1 (grey) or 3 (RGB), the images training makes.
models::ArchSpec adapt_spec(models::ArchSpec spec, std::optional<double> bn_momentum, int64_t num_classes);

// Which data a run trains on.
struct ProxyDataOptions {
  std::string dataset = "fashion-mnist";  // fashion-mnist, mnist, cifar10, cifar100 or folder
  std::string data_dir;                   // the dataset's folder ("" for Fashion-MNIST: Debian's)
  int64_t train_limit = 0;                // train on a seeded subset of this many samples (0: all)
  double val_fraction = 0.1;              // held-out validation fraction of the (limited) training set
  uint64_t seed = 0;                      // seeds the subset and the validation split
};

// The data a run trains and evaluates on: a seeded subset of the training set split into train and
// validation, and the test set.
struct ProxyData {
  std::string dataset;
  TrainValidationSplit split;
  ImageDataset test;
  int64_t num_classes = 0;
};

// Loads the data `options` describe. Throws DataError / std::invalid_argument naming the bad file or value.
ProxyData load_proxy_data(const ProxyDataOptions& options);

}  // namespace effscale::trainers
