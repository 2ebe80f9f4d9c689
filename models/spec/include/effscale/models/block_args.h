#pragma once
// BlockArgs: one stage of MBConv blocks as tensorflow/tpu's block strings describe it, e.g.
// "r2_k3_s22_e6_i16_o24_se0.25". Parsing is strict: every malformed token is an error naming it.

#include <array>
#include <string>
#include <string_view>

namespace effscale::models {

// Limits on a block string's values: far above any published network (B7: r4, e6, o640; the largest searched
// spaces: e8, a few thousand filters), low enough that every count of a valid spec fits in 64 bits.
inline constexpr int kMaxRepeats = 1000;
inline constexpr int kMaxExpandRatio = 64;
inline constexpr int kMaxFilters = 65536;

// The fields of a tensorflow/tpu block string. Filters and repeats are the *reference* values,
// before any width or depth multiplier is applied.
struct BlockArgs {
  int num_repeat = 1;               // `r`: layers in the stage (1..kMaxRepeats)
  int kernel_size = 3;              // `k`: depthwise kernel size (odd, 1..15)
  std::array<int, 2> strides{1, 1}; // `s`: two digits, height then width (each 1..9); first layer only
  int expand_ratio = 1;             // `e`: expansion of the inverted bottleneck (1..kMaxExpandRatio); 1 = no expand conv
  int input_filters = 0;            // `i`: channels into the stage (1..kMaxFilters)
  int output_filters = 0;           // `o`: channels out of the stage (1..kMaxFilters)
  double se_ratio = 0.0;            // `se`: squeeze ratio in (0, 1] relative to the block input; 0 = no SE
  bool id_skip = true;              // false when the string carries `noskip`
  int conv_type = 0;                // `c`: 0 depthwise kxk (MBConv), 1 regular kxk conv in its place (fused
                                    // MBConv: kxk conv in -> in*e, then the 1x1 projection; `c1`), 2 one regular
                                    // kxk conv in -> out with batch norm and swish, nothing else (MnasNet's
                                    // ConvOp; `c2`, e must be 1; SE, when asked, on its output)
  bool pool_skip = false;           // `poolskip`: layers that change resolution or width keep a shortcut,
                                    // average-pooled by the stride and zero-padded / cut to the output width

  // True when the stage has a squeeze-excitation module.
  bool has_se() const { return se_ratio > 0.0; }
  // True when the first layer of the stage strides (any stride digit above 1).
  bool strided() const { return strides[0] != 1 || strides[1] != 1; }
  friend bool operator==(const BlockArgs& a, const BlockArgs& b);
  friend bool operator!=(const BlockArgs& a, const BlockArgs& b) { return !(a == b); }
};

// Parses a block string. Tokens are separated by '_' and may come in any order; r, k, s, e, i and o
// are required, `se`, `c0`/`c1` and one of `noskip` / `poolskip` optional. Throws SpecError naming the string, the bad token and what
// was expected (for example "token 's2': expected two stride digits like s11 or s22").
BlockArgs parse_block_string(std::string_view text);

// Formats the canonical block string: r_k_s_e_i_o[_seX][_c1][_noskip|_poolskip], se as the shortest decimal that
// reads back to the same double. format_block_string(parse_block_string(s)) == s for canonical s, and
// parse_block_string(format_block_string(b)) == b for every valid b.
std::string format_block_string(const BlockArgs& args);

// Throws SpecError (prefixed by `context`) when a field is outside the ranges documented above.
void validate_block_args(const BlockArgs& args, std::string_view context);

}  // namespace effscale::models
