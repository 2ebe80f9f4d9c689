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

// The naming convention of a state dict: torchvision's when a key starts with "features.", otherwise ours for
// weights that go with a spec file (`spec_file`) and timm's for a named model.
WeightFormat detect_weight_format(const StateDict& tensors, bool spec_file);

// The output count of the classifier weight in `tensors` (named as `format` names it), or `fallback` when
// there is none.
int classifier_classes(const StateDict& tensors, WeightFormat format, int fallback);

}  // namespace effscale::models
