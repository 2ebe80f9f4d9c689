// safetensors reading and writing with nlohmann::json for the header.

#include "effscale/models/safetensors.h"

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <climits>
#include <cstring>
#include <optional>
#include <utility>

#include "effscale/base/atomic_file.h"
#include "effscale/models/weights_error.h"

namespace effscale::models {
namespace {

const std::vector<std::pair<std::string, c10::ScalarType>>& dtype_names() {
  static const std::vector<std::pair<std::string, c10::ScalarType>> kNames = {
      {"F64", c10::kDouble}, {"F32", c10::kFloat}, {"F16", c10::kHalf}, {"BF16", c10::kBFloat16},
      {"I64", c10::kLong},   {"I32", c10::kInt},   {"I16", c10::kShort}, {"I8", c10::kChar},
      {"U8", c10::kByte},    {"BOOL", c10::kBool}};
  return kNames;
}

// The whole numbers of a header list (a shape or data_offsets), each from 0 to 2^63 - 1; nullopt when the value is
// not such a list. nlohmann's get<int64_t> would convert a fraction or a number past the type's range (found by
// fuzz_safetensors: a shape entry of 1e27 was undefined behaviour).
std::optional<std::vector<int64_t>> whole_numbers(const nlohmann::json& list) {
  if (!list.is_array()) return std::nullopt;
  std::vector<int64_t> out;
  for (const nlohmann::json& v : list) {
    // The parser stores every whole number from 0 as unsigned (negative ones as signed, fractions as floats).
    if (!v.is_number_unsigned() || v.get<uint64_t>() > uint64_t(INT64_MAX)) return std::nullopt;
    out.push_back(int64_t(v.get<uint64_t>()));
  }
  return out;
}

}  // namespace

StateDict read_safetensors(const std::string& path) {
  const std::string file = base::read_whole_file(path);
  auto fail = [&](const std::string& what) { return WeightsError(path + ": " + what); };
  if (file.size() < 8) throw fail("too short for a safetensors file");
  uint64_t header_size = 0;
  for (int i = 0; i < 8; ++i) header_size |= uint64_t(uint8_t(file[size_t(i)])) << (8 * i);
  if (header_size > file.size() - 8) throw fail("safetensors header length exceeds the file");
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(file.substr(8, header_size));
  } catch (const nlohmann::json::exception&) {
    throw fail("safetensors header is not valid JSON");
  }
  if (!header.is_object()) throw fail("safetensors header is not a JSON object");
  const size_t data_size = file.size() - 8 - header_size;
  struct Entry {
    std::string name;
    c10::ScalarType dtype;
    std::vector<int64_t> shape;
    uint64_t begin, end;
  };
  std::vector<Entry> entries;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__") continue;
    try {
      const std::optional<std::vector<int64_t>> shape = whole_numbers(info.at("shape"));
      if (!shape) throw fail("tensor " + name + " shape is not a list of whole numbers >= 0");
      Entry e{name, c10::kFloat, *shape, 0, 0};
      const std::string dtype = info.at("dtype").get<std::string>();
      const auto& names = dtype_names();
      const auto it = std::find_if(names.begin(), names.end(), [&](const auto& p) { return p.first == dtype; });
      if (it == names.end()) throw fail("tensor " + name + " has unsupported dtype " + dtype);
      e.dtype = it->second;
      const std::optional<std::vector<int64_t>> offsets = whole_numbers(info.at("data_offsets"));
      if (!offsets || offsets->size() != 2) throw fail("tensor " + name + " data_offsets is not [begin, end]");
      e.begin = uint64_t((*offsets)[0]);
      e.end = uint64_t((*offsets)[1]);
      // The element count; the product of the non-zero dimensions must fit too, as LibTorch multiplies them all
      // when it makes the tensor, a zero among them or not.
      uint64_t numel = 1, nonzero = 1;
      for (int64_t d : e.shape) {
        if (d != 0 && __builtin_mul_overflow(nonzero, uint64_t(d), &nonzero))
          throw fail("tensor " + name + " shape has more elements than a tensor can hold");
        numel *= uint64_t(d);
      }
      if (nonzero > uint64_t(INT64_MAX) / 16)
        throw fail("tensor " + name + " shape has more elements than a tensor can hold");
      if (e.end < e.begin || e.end > data_size || e.end - e.begin != numel * c10::elementSize(e.dtype))
        throw fail("tensor " + name + " data_offsets disagree with its shape or the file size");
      entries.push_back(std::move(e));
    } catch (const nlohmann::json::exception&) {
      throw fail("tensor " + name + " header entry lacks dtype, shape or data_offsets");
    }
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.begin < b.begin; });
  StateDict out;
  const char* data = file.data() + 8 + header_size;
  for (const Entry& e : entries) {
    at::Tensor t = at::empty(e.shape, at::TensorOptions().dtype(e.dtype));
    if (e.end > e.begin) std::memcpy(t.data_ptr(), data + e.begin, e.end - e.begin);
    out.emplace_back(e.name, std::move(t));
  }
  return out;
}

std::string safetensors_bytes(const StateDict& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  std::vector<std::string> order;
  for (const auto& [name, tensor] : tensors) {
    const auto& names = dtype_names();
    const c10::ScalarType type = tensor.scalar_type();  // a structured binding cannot be captured in C++17
    const auto it = std::find_if(names.begin(), names.end(), [type](const auto& p) { return p.second == type; });
    if (it == names.end()) throw WeightsError("tensor " + name + ": dtype cannot be stored in safetensors");
    const at::Tensor t = tensor.detach().to(at::kCPU).contiguous();
    const size_t begin = data.size();
    data.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
    header[name] = {{"dtype", it->first}, {"shape", t.sizes().vec()}, {"data_offsets", {begin, data.size()}}};
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned, as the reference writer does
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[size_t(i)] = char((uint64_t(text.size()) >> (8 * i)) & 0xff);
  return out + text + data;
}

}  // namespace effscale::models
