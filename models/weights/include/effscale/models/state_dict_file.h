#pragma once
// Weight files as people have them: torch.save'd state dicts and checkpoints, and safetensors.

#include <string>

#include "effscale/models/state_dict.h"

namespace effscale::models {

// Reads the tensors of a weights file, choosing the format by content: safetensors, or a torch.save
// archive holding either a state dict (an OrderedDict or dict of name -> tensor, as
// torch.save(model.state_dict()) writes) or a checkpoint dict holding one under `key` when given, else
// under the first of `state_dict`, `model`, `state_dict_ema`, `model_ema`, `module`, `net` present. A
// "module." prefix shared by every name (nn.DataParallel) is removed. Throws WeightsError naming the file
// and what is wrong: unreadable, no state dict found (StateDictKeyError, listing the keys it has), a
// non-tensor entry.
StateDict read_state_dict(const std::string& path, const std::string& key = "");

// Writes `tensors` atomically: as safetensors when `path` ends in ".safetensors", else in torch.save's
// format as a dict, which Python's torch.load and model.load_state_dict accept.
void write_state_dict(const std::string& path, const StateDict& tensors);

}  // namespace effscale::models
