#include "effscale/trainers/proxy_task.h"

#include <string>

#include "effscale/models/spec_error.h"
#include "effscale/trainers/transforms.h"

namespace effscale::trainers {

models::ArchSpec shrink_to_proxy(models::ArchSpec spec, const ProxyArchitecture& proxy) {
  if (proxy.resolution) spec.resolution = *proxy.resolution;
  spec.width_mult *= proxy.width;
  spec.depth_mult *= proxy.depth;
  if (proxy.in_channels) spec.in_channels = *proxy.in_channels;
  if (proxy.divisor) spec.depth_divisor = *proxy.divisor;
  return spec;
}

models::ArchSpec adapt_spec(models::ArchSpec spec, std::optional<double> bn_momentum, int64_t num_classes) {
  if (bn_momentum) spec.bn.momentum = *bn_momentum;
  spec.num_classes = static_cast<int>(num_classes);
  models::validate(spec);
  if (!transforms_make_channels(spec.in_channels))
    throw models::SpecError("spec '" + spec.name + "': 'in_channels' is " + std::to_string(spec.in_channels) +
                            ": training takes grey (1) or RGB (3) images");
  return spec;
}

ProxyData load_proxy_data(const ProxyDataOptions& options) {
  ProxyData data;
  data.dataset = options.dataset;
  DatasetFiles files = load_named_dataset(options.dataset, options.data_dir);
  data.split = split_validation(take_subset(files.train, options.train_limit, options.seed), options.val_fraction,
                                options.seed);
  data.test = std::move(files.test);
  data.num_classes = files.train.num_classes;
  return data;
}

}  // namespace effscale::trainers
