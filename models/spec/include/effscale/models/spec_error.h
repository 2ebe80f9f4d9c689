#pragma once
// The one exception type the models library throws for bad user input (block strings, spec files,
// unknown model names). Apps map it, like every std::invalid_argument, to exit status 2.

#include <stdexcept>
#include <string>

namespace effscale::models {

// Thrown when a block string, an architecture spec or a model name is not valid. what() is one line
// that names the offending input (token, field or file) and what was expected.
class SpecError : public std::invalid_argument {
 public:
  explicit SpecError(const std::string& message) : std::invalid_argument(message) {}
};

}  // namespace effscale::models
