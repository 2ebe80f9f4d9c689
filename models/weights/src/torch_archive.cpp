// torch.save archives: caffe2's zip reader for the records, our unpickler for data.pkl, and
// torch::pickle_save (which writes the same format) for output.

#include "effscale/models/torch_archive.h"

#include <c10/util/Exception.h>
#include <caffe2/serialize/inline_container.h>
#include <torch/serialize.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "effscale/base/atomic_file.h"
#include "effscale/models/weights_error.h"

namespace effscale::models {
namespace {

using Kind = PickleValue::Kind;

// dtype of a storage class named in the pickle (`torch.FloatStorage`, ...).
c10::ScalarType storage_dtype(const std::string& global, const std::string& path) {
  static const std::map<std::string, c10::ScalarType> kTypes = {
      {"torch.FloatStorage", c10::kFloat},   {"torch.DoubleStorage", c10::kDouble},
      {"torch.HalfStorage", c10::kHalf},     {"torch.BFloat16Storage", c10::kBFloat16},
      {"torch.LongStorage", c10::kLong},     {"torch.IntStorage", c10::kInt},
      {"torch.ShortStorage", c10::kShort},   {"torch.CharStorage", c10::kChar},
      {"torch.ByteStorage", c10::kByte},     {"torch.BoolStorage", c10::kBool},
      {"torch.UntypedStorage", c10::kByte}};
  const auto it = kTypes.find(global);
  if (it == kTypes.end()) throw WeightsError(path + ": unsupported storage type " + global);
  return it->second;
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

// Reads storages from the archive on demand, once each.
class StorageLoader {
 public:
  StorageLoader(caffe2::serialize::PyTorchStreamReader& reader, const std::string& path)
      : reader_(reader), path_(path) {}

  // persistent id ('storage', storage class, key, location, numel) -> a flat tensor over the storage.
  PickleRef load(const PickleRef& id) {
    const auto& f = id->items;
    if (id->kind != Kind::Tuple || f.size() < 5 || f[0]->kind != Kind::String || f[0]->text != "storage" ||
        f[1]->kind != Kind::Global || f[2]->kind != Kind::String || f[4]->kind != Kind::Int)
      throw WeightsError(path_ + ": data.pkl has a persistent id that is not a torch storage");
    auto& cached = storages_[f[2]->text];
    if (cached) return cached;
    const c10::ScalarType dtype = storage_dtype(f[1]->text, path_);
    const int64_t numel = f[4]->integer;
    const std::string record = "data/" + f[2]->text;
    if (!reader_.hasRecord(record)) throw WeightsError(path_ + ": archive lacks storage record " + record);
    auto [data, size] = reader_.getRecord(record);
    const size_t need = size_t(numel) * c10::elementSize(dtype);
    if (numel < 0 || size < need)
      throw WeightsError(path_ + ": storage record " + record + " holds " + std::to_string(size) + " bytes, needs " +
                         std::to_string(need));
    at::Tensor storage = at::empty({numel}, at::TensorOptions().dtype(dtype));
    if (need > 0) std::memcpy(storage.data_ptr(), data.get(), need);
    cached = make_pickle(Kind::Tensor);
    cached->tensor = storage;
    return cached;
  }

 private:
  caffe2::serialize::PyTorchStreamReader& reader_;
  const std::string& path_;
  std::map<std::string, PickleRef> storages_;
};

std::vector<int64_t> int_tuple(const PickleRef& value, const std::string& what, const std::string& path) {
  if (value->kind != Kind::Tuple && value->kind != Kind::List) throw WeightsError(path + ": tensor " + what + " is not a tuple");
  std::vector<int64_t> out;
  for (const auto& item : value->items) {
    if (item->kind != Kind::Int || item->integer < 0) throw WeightsError(path + ": tensor " + what + " holds a bad value");
    out.push_back(item->integer);
  }
  return out;
}

// torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...) -> a contiguous copy of the view,
// after checking the view stays inside the storage.
PickleRef rebuild_tensor(const PickleRef& args, const std::string& path) {
  const auto& a = args->items;
  if (a.size() < 4 || a[0]->kind != Kind::Tensor || a[1]->kind != Kind::Int)
    throw WeightsError(path + ": malformed tensor record in data.pkl");
  const at::Tensor& storage = a[0]->tensor;
  const auto size = int_tuple(a[2], "size", path);
  const auto stride = int_tuple(a[3], "stride", path);
  if (size.size() != stride.size()) throw WeightsError(path + ": tensor size and stride differ in rank");
  int64_t last = a[1]->integer;
  bool empty = false;
  for (size_t i = 0; i < size.size(); ++i) {
    if (size[i] == 0) empty = true;
    else last += (size[i] - 1) * stride[i];
  }
  if (!empty && (a[1]->integer < 0 || last >= storage.numel()))
    throw WeightsError(path + ": a tensor reaches past the end of its storage");
  auto value = make_pickle(Kind::Tensor);
  value->tensor = empty ? at::empty(size, storage.options()) : storage.as_strided(size, stride, a[1]->integer).clone();
  return value;
}

}  // namespace

PickleRef read_torch_file(const std::string& path) {
  try {
    base::require_regular_file(path);  // a FIFO would block, a directory fail mid-read
  } catch (const std::invalid_argument& e) {
    throw WeightsError(e.what());
  }
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw WeightsError(path + ": cannot open the file");
    char magic[4] = {};
    in.read(magic, 4);
    if (in.gcount() == 4 && uint8_t(magic[0]) == 0x80 && uint8_t(magic[1]) <= 5)
      throw WeightsError(path + ": legacy torch.save format (before PyTorch 1.6); re-save it with a current torch.save");
    if (in.gcount() < 4 || std::memcmp(magic, "PK\x03\x04", 4) != 0)
      throw WeightsError(path + ": not a torch.save archive (no zip header)");
  }
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    if (!reader.hasRecord("data.pkl")) throw WeightsError(path + ": zip archive without data.pkl; not a torch.save file");
    auto [data, size] = reader.getRecord("data.pkl");
    StorageLoader storages(reader, path);
    PickleHooks hooks;
    hooks.persistent_load = [&](const PickleRef& id) { return storages.load(id); };
    hooks.reduce = [&](const std::string& global, const PickleRef& args) -> PickleRef {
      if (global == "torch._utils._rebuild_tensor_v2" || global == "torch._utils._rebuild_tensor")
        return rebuild_tensor(args, path);
      if (global == "torch._utils._rebuild_parameter" || global == "torch._utils._rebuild_parameter_with_state") {
        if (args->items.empty() || args->items[0]->kind != Kind::Tensor)
          throw WeightsError(path + ": malformed parameter record in data.pkl");
        return args->items[0];
      }
      if (global == "torch.jit._pickle.restore_type_tag" && !args->items.empty())
        return args->items[0];  // LibTorch's pickle_save tags typed containers: Dict[str, Tensor]
      return nullptr;
    };
    return unpickle(std::string_view(static_cast<const char*>(data.get()), size), hooks, path + " (data.pkl)");
  } catch (const c10::Error& e) {
    throw WeightsError(path + ": unreadable torch.save archive (" + first_line(e.what_without_backtrace()) + ")");
  }
}

bool is_torch_archive(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  in.read(magic, 4);
  return in.gcount() == 4 && std::memcmp(magic, "PK\x03\x04", 4) == 0;
}

void write_torch_file(const std::string& path, const c10::IValue& value) {
  const std::vector<char> bytes = torch::pickle_save(value);
  base::write_file_atomically(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace effscale::models
