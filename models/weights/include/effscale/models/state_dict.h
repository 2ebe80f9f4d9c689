#pragma once
// StateDict: named tensors in file order, as torch's state_dict() and weight files hold them.

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

namespace effscale::models {

// Names (dotted, as in PyTorch) and tensors, in the order the file or model lists them.
using StateDict = std::vector<std::pair<std::string, at::Tensor>>;

}  // namespace effscale::models
