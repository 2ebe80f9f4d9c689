#pragma once
// Moving weights between EfficientNet modules and state dicts named by any WeightFormat.

#include <string>

#include "effscale/models/efficientnet.h"
#include "effscale/models/state_dict.h"
#include "effscale/models/weight_naming.h"

namespace effscale::models {

// Copies `tensors` (named as `format` names them) into `model`'s parameters and buffers, converting
// dtype. Every model tensor must be present with its exact shape (BN num_batches_tracked may be absent)
// and every file tensor must be used; otherwise nothing is changed and WeightsError is thrown naming
// `source` and the first missing, unexpected and mis-shaped tensors (with counts).
void load_weights(EfficientNet& model, const StateDict& tensors, WeightFormat format, const std::string& source);

// The model's parameters and buffers in its own order, named as `format` names them (detached CPU
// tensors sharing nothing with the model).
StateDict export_weights(EfficientNet& model, WeightFormat format);

}  // namespace effscale::models
