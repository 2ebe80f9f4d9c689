#include "effscale/models/block_args.h"

#include <charconv>
#include <set>
#include <vector>

#include "effscale/models/spec_error.h"

namespace effscale::models {
namespace {

std::vector<std::string_view> split_tokens(std::string_view text) {
  std::vector<std::string_view> tokens;
  size_t start = 0;
  while (true) {
    size_t end = text.find('_', start);
    tokens.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return tokens;
    start = end + 1;
  }
}

[[noreturn]] void fail(std::string_view text, std::string_view token, std::string_view expected) {
  throw SpecError("block string '" + std::string(text) + "': token '" + std::string(token) +
                  "': expected " + std::string(expected));
}

// Reads a whole string of decimal digits as a non-negative int; false on anything else.
bool read_int(std::string_view digits, int& value) {
  if (digits.empty()) return false;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return ec == std::errc() && end == digits.data() + digits.size() && digits[0] != '-' &&
         digits[0] != '+';
}

bool read_double(std::string_view digits, double& value) {
  if (digits.empty() || digits[0] == '-' || digits[0] == '+') return false;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  return ec == std::errc() && end == digits.data() + digits.size();
}

struct IntField {
  std::string_view key;
  int BlockArgs::*field;
  const char* expected;
};

const IntField kIntFields[] = {
    {"r", &BlockArgs::num_repeat, "a repeat count like r2"},
    {"k", &BlockArgs::kernel_size, "a kernel size like k3"},
    {"e", &BlockArgs::expand_ratio, "an integer expand ratio like e6"},
    {"i", &BlockArgs::input_filters, "an input filter count like i32"},
    {"o", &BlockArgs::output_filters, "an output filter count like o16"},
};

void parse_token(std::string_view text, std::string_view token, BlockArgs& args,
                 std::set<std::string>& seen) {
  auto mark = [&](std::string_view key) {
    if (!seen.insert(std::string(key)).second) fail(text, token, "each key once (duplicate '" + std::string(key) + "')");
  };
  if (token == "noskip" || token == "poolskip") {
    mark("skip");  // one skip token at most
    args.id_skip = token == "poolskip";
    args.pool_skip = token == "poolskip";
    return;
  }
  if (token.size() == 2 && token[0] == 'c') {
    mark("c");
    if (token[1] < '0' || token[1] > '2')
      fail(text, token, "a conv type: c0 (depthwise), c1 (fused: regular conv + projection) or c2 (one regular conv)");
    args.conv_type = token[1] - '0';
    return;
  }
  if (token.substr(0, 2) == "se") {
    mark("se");
    if (!read_double(token.substr(2), args.se_ratio))
      fail(text, token, "a squeeze-excitation ratio like se0.25");
    return;
  }
  if (token.size() >= 1 && token[0] == 's') {
    mark("s");
    std::string_view digits = token.substr(1);
    if (digits.size() != 2 || digits[0] < '0' || digits[0] > '9' || digits[1] < '0' || digits[1] > '9')
      fail(text, token, "two stride digits like s11 or s22");
    args.strides = {digits[0] - '0', digits[1] - '0'};
    return;
  }
  for (const IntField& f : kIntFields) {
    if (token.size() >= 1 && token.substr(0, 1) == f.key) {
      mark(f.key);
      if (!read_int(token.substr(1), args.*(f.field))) fail(text, token, f.expected);
      return;
    }
  }
  fail(text, token, "one of r, k, s, e, i, o, se, c followed by its value, or noskip / poolskip");
}

std::string format_double(double v) {
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  return std::string(buffer, end);
}

}  // namespace

bool operator==(const BlockArgs& a, const BlockArgs& b) {
  return a.num_repeat == b.num_repeat && a.kernel_size == b.kernel_size && a.strides == b.strides &&
         a.expand_ratio == b.expand_ratio && a.input_filters == b.input_filters &&
         a.output_filters == b.output_filters && a.se_ratio == b.se_ratio && a.id_skip == b.id_skip &&
         a.conv_type == b.conv_type && a.pool_skip == b.pool_skip;
}

void validate_block_args(const BlockArgs& a, std::string_view context) {
  auto check = [&](bool ok, const std::string& what) {
    if (!ok) throw SpecError(std::string(context) + ": " + what);
  };
  check(a.num_repeat >= 1 && a.num_repeat <= kMaxRepeats,
        "r must be from 1 to " + std::to_string(kMaxRepeats) + ", got " + std::to_string(a.num_repeat));
  check(a.kernel_size >= 1 && a.kernel_size <= 15 && a.kernel_size % 2 == 1,
        "k must be an odd kernel size from 1 to 15, got " + std::to_string(a.kernel_size));
  check(a.strides[0] >= 1 && a.strides[1] >= 1,
        "stride digits must be 1 to 9, got s" + std::to_string(a.strides[0]) + std::to_string(a.strides[1]));
  check(a.expand_ratio >= 1 && a.expand_ratio <= kMaxExpandRatio,
        "e must be from 1 to " + std::to_string(kMaxExpandRatio) + ", got " + std::to_string(a.expand_ratio));
  check(a.input_filters >= 1 && a.input_filters <= kMaxFilters,
        "i must be from 1 to " + std::to_string(kMaxFilters) + ", got " + std::to_string(a.input_filters));
  check(a.output_filters >= 1 && a.output_filters <= kMaxFilters,
        "o must be from 1 to " + std::to_string(kMaxFilters) + ", got " + std::to_string(a.output_filters));
  check(a.conv_type >= 0 && a.conv_type <= 2, "c must be 0, 1 or 2, got " + std::to_string(a.conv_type));
  check(a.conv_type != 2 || a.expand_ratio == 1,
        "c2 (one regular conv from input to output) has no expansion: e must be 1, got " + std::to_string(a.expand_ratio));
  check(!a.pool_skip || a.id_skip, "a pooling skip is a kind of skip: it cannot go with noskip");
  check(a.se_ratio >= 0.0 && a.se_ratio <= 1.0,
        "se must be a ratio in (0, 1] (leave it out for no SE), got " + format_double(a.se_ratio));
}

BlockArgs parse_block_string(std::string_view text) {
  BlockArgs args;
  std::set<std::string> seen;
  for (std::string_view token : split_tokens(text)) {
    if (token.empty()) fail(text, token, "no empty token (stray '_')");
    parse_token(text, token, args, seen);
  }
  for (const char* key : {"r", "k", "s", "e", "i", "o"}) {
    if (!seen.count(key))
      throw SpecError("block string '" + std::string(text) + "': missing the required '" + key + "' token");
  }
  if (seen.count("se") && args.se_ratio == 0.0)
    fail(text, "se0", "a ratio in (0, 1]; leave the token out for no SE");
  validate_block_args(args, "block string '" + std::string(text) + "'");
  return args;
}

std::string format_block_string(const BlockArgs& a) {
  std::string s = "r" + std::to_string(a.num_repeat) + "_k" + std::to_string(a.kernel_size) + "_s" +
                  std::to_string(a.strides[0]) + std::to_string(a.strides[1]) + "_e" +
                  std::to_string(a.expand_ratio) + "_i" + std::to_string(a.input_filters) + "_o" +
                  std::to_string(a.output_filters);
  if (a.has_se()) s += "_se" + format_double(a.se_ratio);
  if (a.conv_type != 0) s += "_c" + std::to_string(a.conv_type);
  if (!a.id_skip) s += "_noskip";
  if (a.pool_skip) s += "_poolskip";
  return s;
}

}  // namespace effscale::models
