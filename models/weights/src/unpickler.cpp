// A pickle virtual machine for the opcodes Python's pickle module emits at protocols 2-5.

#include <cstdio>
#include <cstring>
#include <unordered_map>

#include "effscale/models/pickle_value.h"
#include "effscale/models/weights_error.h"

namespace effscale::models {

PickleRef make_pickle(PickleValue::Kind kind) {
  auto value = std::make_shared<PickleValue>();
  value->kind = kind;
  return value;
}

namespace {

// Moves the children of `value` to `pending`.
void release_children(PickleValue& value, std::vector<PickleRef>& pending) {
  for (PickleRef& item : value.items) pending.push_back(std::move(item));
  for (auto& [key, entry] : value.entries) {
    pending.push_back(std::move(key));
    pending.push_back(std::move(entry));
  }
  pending.push_back(std::move(value.state));
  value.items.clear();
  value.entries.clear();
}

}  // namespace

PickleValue::~PickleValue() {
  std::vector<PickleRef> pending;
  release_children(*this, pending);
  while (!pending.empty()) {
    PickleRef next = std::move(pending.back());
    pending.pop_back();
    // The last holder: empty it here, so dropping it below frees no grandchildren recursively.
    if (next && next.use_count() == 1) release_children(*next, pending);
  }
}

PickleRef PickleValue::find(std::string_view key) const {
  if (kind != Kind::Dict) return nullptr;
  for (const auto& [k, v] : entries)
    if (k->kind == Kind::String && k->text == key) return v;
  return nullptr;
}

std::string PickleValue::describe() const {
  switch (kind) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Bytes: return "bytes";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global " + text;
    case Kind::Object: return "object " + text;
    case Kind::Tensor: return "tensor";
  }
  return "value";
}

namespace {

// Values a walk from the result reached (true: everything below them walked too).
using Reached = std::unordered_map<const PickleValue*, bool>;

// The reader's state: the byte cursor, the stack with its marks, and the memo.
class Machine {
 public:
  Machine(std::string_view bytes, const PickleHooks& hooks, const std::string& source)
      : bytes_(bytes), hooks_(hooks), source_(source) {}

  PickleRef run();

  // Drops the stack and memo, then empties every value this reader made that is still alive and not in `keep`, so
  // values that hold each other (a list appended to itself) are freed rather than leaked through their shared
  // pointers.
  void break_cycles(const Reached& keep = {}) {
    stack_.clear();
    memo_.clear();
    for (const std::weak_ptr<PickleValue>& made : made_)
      if (const PickleRef value = made.lock(); value && keep.count(value.get()) == 0) {
        value->items.clear();
        value->entries.clear();
        value->state.reset();
      }
  }

 private:
  // Every value the reader makes goes through here (it hides the namespace's make_pickle inside the class).
  PickleRef make_pickle(PickleValue::Kind kind) {
    PickleRef value = models::make_pickle(kind);
    made_.push_back(value);
    return value;
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw WeightsError(source_ + ": " + what + " at byte " + std::to_string(pos_));
  }
  std::string_view take(size_t n) {
    if (n > bytes_.size() - pos_) fail("pickle stream is truncated");
    const auto out = bytes_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  uint64_t little_endian(size_t n) {
    const auto raw = take(n);
    uint64_t value = 0;
    for (size_t i = 0; i < n; ++i) value |= uint64_t(uint8_t(raw[i])) << (8 * i);
    return value;
  }
  std::string line() {
    const size_t end = bytes_.find('\n', pos_);
    if (end == std::string_view::npos) fail("pickle stream is truncated");
    std::string out(bytes_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  // The memo key of a text-protocol PUT / GET: a decimal number on its own line.
  uint64_t text_memo_key(const char* opcode) {
    const std::string key = line();
    try {
      return std::stoull(key);
    } catch (const std::exception&) {
      fail(std::string("bad ") + opcode + " key");
    }
  }
  PickleRef pop() {
    if (stack_.empty() || (!marks_.empty() && stack_.size() <= marks_.back())) fail("pickle stack underflow");
    auto value = stack_.back();
    stack_.pop_back();
    return value;
  }
  PickleRef& top() {
    if (stack_.empty()) fail("pickle stack underflow");
    return stack_.back();
  }
  std::vector<PickleRef> pop_to_mark() {
    if (marks_.empty()) fail("pickle MARK missing");
    std::vector<PickleRef> out(stack_.begin() + long(marks_.back()), stack_.end());
    stack_.resize(marks_.back());
    marks_.pop_back();
    return out;
  }
  void push(PickleRef value) { stack_.push_back(std::move(value)); }
  void push_int(int64_t value) {
    auto v = make_pickle(PickleValue::Kind::Int);
    v->integer = value;
    push(v);
  }
  void push_text(PickleValue::Kind kind, std::string_view text) {
    auto v = make_pickle(kind);
    v->text = std::string(text);
    push(v);
  }
  void push_tuple(std::vector<PickleRef> items) {
    auto v = make_pickle(PickleValue::Kind::Tuple);
    v->items = std::move(items);
    push(v);
  }
  void memo_put(uint64_t key) { memo_[key] = top(); }
  void memo_get(uint64_t key) {
    const auto it = memo_.find(key);
    if (it == memo_.end()) fail("pickle memo key " + std::to_string(key) + " is unknown");
    push(it->second);
  }
  void push_long(std::string_view raw) {
    if (raw.size() > 8) fail("integer wider than 64 bits");
    uint64_t value = 0;
    for (size_t i = 0; i < raw.size(); ++i) value |= uint64_t(uint8_t(raw[i])) << (8 * i);
    if (!raw.empty() && raw.size() < 8 && (uint8_t(raw.back()) & 0x80)) value |= ~uint64_t(0) << (8 * raw.size());
    push_int(int64_t(value));
  }
  void set_items(const PickleRef& target, const std::vector<PickleRef>& pairs) {
    if (pairs.size() % 2 != 0) fail("odd number of items for a dict");
    if (target->kind != PickleValue::Kind::Dict && target->kind != PickleValue::Kind::Object)
      fail("SETITEMS on a " + target->describe());
    for (size_t i = 0; i < pairs.size(); i += 2) {
      bool replaced = false;
      if (pairs[i]->kind == PickleValue::Kind::String)
        for (auto& entry : target->entries)
          if (entry.first->kind == PickleValue::Kind::String && entry.first->text == pairs[i]->text) {
            entry.second = pairs[i + 1];
            replaced = true;
          }
      if (!replaced) target->entries.emplace_back(pairs[i], pairs[i + 1]);
    }
  }
  void append_items(const PickleRef& target, std::vector<PickleRef> items) {
    if (target->kind != PickleValue::Kind::List && target->kind != PickleValue::Kind::Object)
      fail("APPENDS on a " + target->describe());
    for (auto& item : items) target->items.push_back(std::move(item));
  }
  // A call of `callable` with the tuple `args`: hooks first, then OrderedDict, then an opaque Object.
  PickleRef call(const PickleRef& callable, const PickleRef& args) {
    if (callable->kind != PickleValue::Kind::Global) fail("call of a " + callable->describe());
    if (args->kind != PickleValue::Kind::Tuple) fail("call arguments are a " + args->describe());
    if (hooks_.reduce)
      if (auto made = hooks_.reduce(callable->text, args)) return made;
    if (callable->text == "collections.OrderedDict" && args->items.empty()) return make_pickle(PickleValue::Kind::Dict);
    auto object = make_pickle(PickleValue::Kind::Object);
    object->text = callable->text;
    object->items = args->items;
    return object;
  }
  PickleRef persistent(const PickleRef& id) {
    if (!hooks_.persistent_load) fail("persistent id without a loader");
    auto value = hooks_.persistent_load(id);
    if (!value) fail("persistent id not understood");
    return value;
  }

  std::string_view bytes_;
  const PickleHooks& hooks_;
  const std::string& source_;
  size_t pos_ = 0;
  std::vector<PickleRef> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PickleRef> memo_;
  std::vector<std::weak_ptr<PickleValue>> made_;  // every value made, for break_cycles
};

// long: one switch over the pickle opcodes, each case a few lines; splitting it would scatter the protocol.
PickleRef Machine::run() {
  using Kind = PickleValue::Kind;
  for (;;) {
    const uint8_t op = uint8_t(take(1)[0]);
    switch (op) {
      case 0x80: take(1); break;                       // PROTO
      case 0x95: take(8); break;                       // FRAME (framing is only a hint)
      case '.': {                                      // STOP
        auto result = pop();
        return result;
      }
      case '(': marks_.push_back(stack_.size()); break;  // MARK
      case '0': pop(); break;                          // POP
      case '1': pop_to_mark(); break;                  // POP_MARK
      case '2': push(top()); break;                    // DUP
      case 'N': push(make_pickle(Kind::None)); break;
      case 0x88:
      case 0x89: {                                     // NEWTRUE / NEWFALSE
        auto v = make_pickle(Kind::Bool);
        v->boolean = op == 0x88;
        push(v);
        break;
      }
      case 'J': push_int(int32_t(little_endian(4))); break;  // BININT
      case 'K': push_int(int64_t(little_endian(1))); break;  // BININT1
      case 'M': push_int(int64_t(little_endian(2))); break;  // BININT2
      case 0x8a: push_long(take(little_endian(1))); break;  // LONG1
      case 0x8b: push_long(take(little_endian(4))); break;  // LONG4
      case 'I': {                                      // INT (text; "00"/"01" are booleans)
        const std::string text = line();
        try {
          push_int(std::stoll(text));
        } catch (const std::exception&) {
          fail("bad INT '" + text + "'");
        }
        break;
      }
      case 'G': {                                      // BINFLOAT (big-endian double)
        const auto raw = take(8);
        uint64_t bits = 0;
        for (char c : raw) bits = (bits << 8) | uint8_t(c);
        auto v = make_pickle(Kind::Float);
        std::memcpy(&v->number, &bits, sizeof bits);
        push(v);
        break;
      }
      case 'X': push_text(Kind::String, take(little_endian(4))); break;     // BINUNICODE
      case 0x8c: push_text(Kind::String, take(little_endian(1))); break;    // SHORT_BINUNICODE
      case 0x8d: push_text(Kind::String, take(little_endian(8))); break;    // BINUNICODE8
      case 'T': push_text(Kind::Bytes, take(little_endian(4))); break;      // BINSTRING
      case 'U': push_text(Kind::Bytes, take(little_endian(1))); break;      // SHORT_BINSTRING
      case 'B': push_text(Kind::Bytes, take(little_endian(4))); break;      // BINBYTES
      case 'C': push_text(Kind::Bytes, take(little_endian(1))); break;      // SHORT_BINBYTES
      case 0x8e: push_text(Kind::Bytes, take(little_endian(8))); break;     // BINBYTES8
      case ')': push_tuple({}); break;                 // EMPTY_TUPLE
      case 't': push_tuple(pop_to_mark()); break;      // TUPLE
      case 0x85:
      case 0x86:
      case 0x87: {                                     // TUPLE1..3
        std::vector<PickleRef> items(size_t(op - 0x84));
        for (size_t i = items.size(); i-- > 0;) items[i] = pop();
        push_tuple(std::move(items));
        break;
      }
      case ']': push(make_pickle(Kind::List)); break;  // EMPTY_LIST
      case 'l': {                                      // LIST
        auto v = make_pickle(Kind::List);
        v->items = pop_to_mark();
        push(v);
        break;
      }
      case 'a': {                                      // APPEND
        auto item = pop();
        append_items(top(), {item});
        break;
      }
      case 'e': {                                      // APPENDS
        auto items = pop_to_mark();
        append_items(top(), std::move(items));
        break;
      }
      case '}': push(make_pickle(Kind::Dict)); break;  // EMPTY_DICT
      case 'd': {                                      // DICT
        auto v = make_pickle(Kind::Dict);
        set_items(v, pop_to_mark());
        push(v);
        break;
      }
      case 's': {                                      // SETITEM
        auto value = pop();
        auto key = pop();
        set_items(top(), {key, value});
        break;
      }
      case 'u': {                                      // SETITEMS
        auto pairs = pop_to_mark();
        set_items(top(), pairs);
        break;
      }
      case 0x8f: push(make_pickle(Kind::List)); break;  // EMPTY_SET (kept as a list)
      case 0x90: {                                     // ADDITEMS
        auto items = pop_to_mark();
        append_items(top(), std::move(items));
        break;
      }
      case 0x91: {                                     // FROZENSET
        auto v = make_pickle(Kind::List);
        v->items = pop_to_mark();
        push(v);
        break;
      }
      case 'c': {                                      // GLOBAL "module\nname\n"
        const std::string module = line();
        push_text(Kind::Global, module + "." + line());
        break;
      }
      case 0x93: {                                     // STACK_GLOBAL
        auto name = pop();
        auto module = pop();
        if (name->kind != Kind::String || module->kind != Kind::String) fail("STACK_GLOBAL needs two strings");
        push_text(Kind::Global, module->text + "." + name->text);
        break;
      }
      case 'R': {                                      // REDUCE
        auto args = pop();
        auto callable = pop();
        push(call(callable, args));
        break;
      }
      case 0x81: {                                     // NEWOBJ
        auto args = pop();
        auto cls = pop();
        push(call(cls, args));
        break;
      }
      case 0x92: {                                     // NEWOBJ_EX (keyword arguments are dropped)
        pop();
        auto args = pop();
        auto cls = pop();
        push(call(cls, args));
        break;
      }
      case 'b': {                                      // BUILD
        auto state = pop();
        auto& target = top();
        if (target->kind == Kind::Object) target->state = state;  // other kinds: state is metadata only
        break;
      }
      case 'q': memo_put(little_endian(1)); break;     // BINPUT
      case 'r': memo_put(little_endian(4)); break;     // LONG_BINPUT
      case 0x94: memo_put(memo_.size()); break;        // MEMOIZE
      case 'p': memo_put(text_memo_key("PUT")); break;  // PUT (text)
      case 'h': memo_get(little_endian(1)); break;     // BINGET
      case 'j': memo_get(little_endian(4)); break;     // LONG_BINGET
      case 'g': memo_get(text_memo_key("GET")); break;  // GET (text)
      case 'Q': push(persistent(pop())); break;        // BINPERSID
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02x", unsigned(op));
        fail(std::string("unsupported pickle opcode ") + hex);
      }
    }
  }
}

}  // namespace

namespace {

// Whether a value reaches itself through its items, entries or state (iterative: any depth); `reached` gets every
// value it reaches (true once all below it are walked).
bool contains_itself(const PickleRef& root, Reached& reached) {
  enum Mark : bool { Open = false, Done = true };
  std::vector<std::pair<const PickleValue*, bool>> todo = {{root.get(), false}};  // (value, children pushed)
  while (!todo.empty()) {
    auto [value, expanded] = todo.back();
    todo.pop_back();
    if (value == nullptr) continue;
    if (expanded) {
      reached[value] = Done;
      continue;
    }
    const auto seen = reached.find(value);
    if (seen != reached.end()) {
      if (seen->second == Open) return true;
      continue;
    }
    reached[value] = Open;
    todo.push_back({value, true});
    for (const PickleRef& item : value->items) todo.push_back({item.get(), false});
    for (const auto& [key, item] : value->entries) {
      todo.push_back({key.get(), false});
      todo.push_back({item.get(), false});
    }
    todo.push_back({value->state.get(), false});
  }
  return false;
}

}  // namespace

PickleRef unpickle(std::string_view bytes, const PickleHooks& hooks, const std::string& source) {
  Machine machine(bytes, hooks, source);
  PickleRef root;
  try {
    root = machine.run();
  } catch (...) {
    machine.break_cycles();
    throw;
  }
  Reached reached;
  if (contains_itself(root, reached)) {  // no state dict or checkpoint does; its values would never be freed
    root.reset();
    machine.break_cycles();
    throw WeightsError(source + ": the pickle holds a value that contains itself");
  }
  machine.break_cycles(reached);  // what the result does not hold (left on the stack or memo) may hold itself
  return root;
}

}  // namespace effscale::models
