#pragma once
// The exception the weights readers and loaders throw for bad weight files.

#include <stdexcept>
#include <string>

namespace effscale::models {

// Thrown when a weights file cannot be read (not a torch.save / safetensors file, truncated, corrupt) or
// does not fit a model (missing, unexpected or mis-shaped tensors). what() is one line naming the file
// or tensor. A std::invalid_argument, so commands map it to exit status 2.
class WeightsError : public std::invalid_argument {
 public:
  explicit WeightsError(const std::string& message) : std::invalid_argument(message) {}
};

// The WeightsError of a checkpoint whose state dict could not be found without a key naming it: what() lists
// the keys it has, so a caller can ask its user to pick one.
class StateDictKeyError : public WeightsError {
 public:
  using WeightsError::WeightsError;
};

}  // namespace effscale::models
