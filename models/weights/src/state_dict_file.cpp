// Format detection and checkpoint unwrapping for weight files.

#include "effscale/models/state_dict_file.h"

#include <ATen/core/Dict.h>

#include <filesystem>
#include <fstream>

#include "effscale/base/atomic_file.h"
#include "effscale/models/safetensors.h"
#include "effscale/models/torch_archive.h"
#include "effscale/models/weights_error.h"

namespace effscale::models {
namespace {

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A safetensors file starts with a small header length followed by '{'.
bool looks_like_safetensors(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;  // read_torch_file names what it is
  std::ifstream in(path, std::ios::binary);
  char head[9] = {};
  in.read(head, 9);
  if (in.gcount() < 9 || head[8] != '{') return false;
  uint64_t size = 0;
  for (int i = 0; i < 8; ++i) size |= uint64_t(uint8_t(head[i])) << (8 * i);
  return size < (uint64_t(1) << 32);
}

bool is_tensor_dict(const PickleValue& value) {
  if (value.kind != PickleValue::Kind::Dict || value.entries.empty()) return false;
  for (const auto& [k, v] : value.entries)
    if (k->kind != PickleValue::Kind::String || v->kind != PickleValue::Kind::Tensor) return false;
  return true;
}

// The dict holding the weights: the object itself or one of the checkpoint keys.
const PickleValue& locate_state_dict(const PickleValue& root, const std::string& key, const std::string& path) {
  if (root.kind != PickleValue::Kind::Dict)
    throw WeightsError(path + ": holds a " + root.describe() + ", not a state dict or checkpoint dict");
  if (!key.empty()) {
    const auto found = root.find(key);
    if (!found) throw WeightsError(path + ": checkpoint has no key '" + key + "'");
    return *found;
  }
  if (is_tensor_dict(root)) return root;
  for (const char* candidate : {"state_dict", "model", "state_dict_ema", "model_ema", "module", "net"})
    if (const auto found = root.find(candidate); found && found->kind == PickleValue::Kind::Dict) return *found;
  std::string keys;
  for (const auto& [k, v] : root.entries)
    if (k->kind == PickleValue::Kind::String && v->kind != PickleValue::Kind::Tensor)
      keys += (keys.empty() ? "" : ", ") + k->text;
  throw StateDictKeyError(path + ": no state dict found (checkpoint keys: " + (keys.empty() ? "none" : keys) +
                     "); name the one to read");
}

void strip_common_prefix(StateDict& tensors, const std::string& prefix) {
  if (tensors.empty()) return;
  for (const auto& entry : tensors)
    if (entry.first.rfind(prefix, 0) != 0) return;
  for (auto& entry : tensors) entry.first.erase(0, prefix.size());
}

}  // namespace

StateDict read_state_dict(const std::string& path, const std::string& key) {
  StateDict tensors;
  if (looks_like_safetensors(path)) {
    tensors = read_safetensors(path);
  } else {
    const PickleRef root = read_torch_file(path);
    const PickleValue& dict = locate_state_dict(*root, key, path);
    if (dict.kind != PickleValue::Kind::Dict) throw WeightsError(path + ": '" + key + "' is a " + dict.describe() + ", not a state dict");
    for (const auto& [k, v] : dict.entries) {
      if (k->kind != PickleValue::Kind::String) throw WeightsError(path + ": state dict has a non-string key");
      if (v->kind != PickleValue::Kind::Tensor) throw WeightsError(path + ": entry " + k->text + " is a " + v->describe() + ", not a tensor");
      tensors.emplace_back(k->text, v->tensor);
    }
  }
  if (tensors.empty()) throw WeightsError(path + ": holds no tensors");
  strip_common_prefix(tensors, "module.");
  return tensors;
}

void write_state_dict(const std::string& path, const StateDict& tensors) {
  if (ends_with(path, ".safetensors")) {
    base::write_file_atomically(path, safetensors_bytes(tensors));
    return;
  }
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : tensors) dict.insert(name, tensor.detach().to(at::kCPU).contiguous());
  write_torch_file(path, dict);
}

}  // namespace effscale::models
