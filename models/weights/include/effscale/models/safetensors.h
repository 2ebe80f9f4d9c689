#pragma once
// The safetensors format (how timm and the Hugging Face hub publish weights): an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}}, then the raw little-endian data.

#include <string>

#include "effscale/models/state_dict.h"

namespace effscale::models {

// Reads every tensor of a safetensors file (F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL), in
// offset order. Throws WeightsError naming `path` (and the tensor) when the header is malformed, a
// dtype is unknown, or offsets disagree with shapes or fall outside the file.
StateDict read_safetensors(const std::string& path);

// The safetensors encoding of `tensors` (contiguous CPU copies are made as needed); header keys in the
// given order, data packed in that order. Throws WeightsError for a dtype safetensors cannot hold.
std::string safetensors_bytes(const StateDict& tensors);

}  // namespace effscale::models
