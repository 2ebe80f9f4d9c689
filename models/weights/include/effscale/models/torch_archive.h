#pragma once
// Files in torch.save's format (a zip archive holding data.pkl and one record per storage), read and
// written without Python.

#include <ATen/core/ivalue.h>

#include <string>

#include "effscale/models/pickle_value.h"

namespace effscale::models {

// Reads what torch.save wrote (the zip format of PyTorch >= 1.6) and returns the saved object, tensors as
// PickleValue::Tensor (contiguous CPU copies), OrderedDicts as Dicts, nn.Parameters as their tensors, and
// anything else (argparse.Namespace, ...) as an opaque Object. Throws WeightsError naming `path` when the
// file is missing, is the legacy pre-1.6 format, is not such an archive, or is truncated or inconsistent
// (a storage record shorter than a tensor view needs, an unknown storage type).
PickleRef read_torch_file(const std::string& path);

// True when `path` starts like a torch.save archive (a zip file); false when it cannot be read.
bool is_torch_archive(const std::string& path);

// Writes `value` as torch.save would (zip archive, pickle protocol 2), atomically; Python's torch.load reads
// it back as the same dicts, lists and tensors. Throws std::runtime_error naming `path` when writing fails.
void write_torch_file(const std::string& path, const c10::IValue& value);

}  // namespace effscale::models
