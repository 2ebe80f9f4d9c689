#pragma once
// Python pickle streams (protocols 2-5) as a tree of values: what torch.save writes into data.pkl.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace effscale::models {

struct PickleValue;
// Values are shared, as in Python: the memo hands out the same object again, and later opcodes
// (SETITEMS, BUILD) mutate it in place.
using PickleRef = std::shared_ptr<PickleValue>;

// One unpickled value. Python objects the reader has no meaning for become Object: the global that
// made them (`module.name`), the arguments they were reduced with, and the state BUILD gave them;
// collections.OrderedDict becomes a Dict.
struct PickleValue {
  enum class Kind { None, Bool, Int, Float, String, Bytes, Tuple, List, Dict, Global, Object, Tensor };
  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;
  double number = 0.0;
  std::string text;                                  // String, Bytes, Global / Object: "module.name"
  std::vector<PickleRef> items;                      // Tuple, List, Object: constructor arguments
  std::vector<std::pair<PickleRef, PickleRef>> entries;  // Dict, in insertion order
  PickleRef state;                                   // Object: what BUILD set (may be null)
  at::Tensor tensor;                                 // Tensor

  PickleValue() = default;
  PickleValue(const PickleValue&) = default;
  PickleValue& operator=(const PickleValue&) = default;
  // Frees the values this one alone holds without recursion, so a stream nesting a million lists
  // cannot overflow the stack when its value is dropped.
  ~PickleValue();

  // Dict lookup by string key; null when absent or when this is not a Dict.
  PickleRef find(std::string_view key) const;
  // Human-readable kind, for error messages ("dict", "tensor", "object collections.Counter").
  std::string describe() const;
};

// Makes a value of the given kind.
PickleRef make_pickle(PickleValue::Kind kind);

// What a reader outside the pickle layer decides: how persistent ids become values (torch.save's
// storages) and how a call of a global becomes a value (torch._utils._rebuild_tensor_v2). A hook returns
// null to leave the default (an Object) in place.
struct PickleHooks {
  std::function<PickleRef(const PickleRef& persistent_id)> persistent_load;
  std::function<PickleRef(const std::string& global, const PickleRef& args)> reduce;
};

// Runs the pickle program in `bytes` and returns the value STOP leaves. Throws WeightsError whose text
// starts with `source` when the stream is truncated, uses an unknown opcode, or is malformed (stack or
// memo misuse); never reads outside `bytes`.
PickleRef unpickle(std::string_view bytes, const PickleHooks& hooks, const std::string& source);

}  // namespace effscale::models
