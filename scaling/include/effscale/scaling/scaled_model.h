#pragma once
// Step 2 of compound scaling: a baseline spec scaled by (alpha^phi, beta^phi, gamma^phi), and the
// official hand-rounded family beside it.

#include <string>
#include <vector>

#include "effscale/models/arch_spec.h"
#include "effscale/scaling/coefficients.h"

namespace effscale::scaling {

// A scaled model with the nominal multipliers and what was actually built.
struct ScaledModel {
  std::string name;                  // "<baseline>-phi<phi>" or the official name
  double phi = 0;
  double depth_mult = 1, width_mult = 1, resolution_mult = 1;  // nominal: alpha^phi, beta^phi, gamma^phi
  models::ArchSpec spec;             // the rounded, buildable spec
  std::vector<int> repeats;          // per stage, after round_repeats
  std::vector<int> channels;         // stem, each stage's output, head, after round_filters
  int64_t params = 0, macs = 0;      // at the spec's resolution and classes
  double macs_ratio = 1;             // macs / the baseline's macs (near 2^phi by design)
};

// Scales `baseline`: depth_mult *= alpha^phi, width_mult *= beta^phi, resolution = baseline resolution *
// gamma^phi rounded to the nearest multiple of `resolution_divisor` (at least one divisor), dropout rising
// linearly from the baseline's at phi = 0 to 0.5 at phi = 7 (the official B0 -> B7 range). Throws SpecError
// when the result is not a valid spec.
ScaledModel scale_model(const models::ArchSpec& baseline, const Coefficients& c, double phi, int resolution_divisor = 8);

// The dropout of a model scaled by `phi` from a baseline with `baseline_dropout`: rising linearly to 0.5 at phi = 7.
double scaled_dropout(double baseline_dropout, double phi);

// `baseline` with its depth and width multiplied by `multipliers.alpha` and `.beta`, at `resolution` pixels, named
// "<baseline>-phi<phi>" with scaled_dropout(phi), described against the baseline (`multipliers.gamma` is reported
// as the resolution multiplier). What scale_model builds once it has rounded the resolution. Throws SpecError when
// the result is not a valid spec.
ScaledModel scale_dimensions(const models::ArchSpec& baseline, const Coefficients& multipliers, int resolution, double phi);

// The official family applied to `baseline`: for phi = 1..7 the B<phi> row of the official table (its width,
// depth, resolution and dropout, docs/specs.md). Throws std::invalid_argument for phi outside 1..7 or
// non-integer phi.
ScaledModel official_scaled_model(const models::ArchSpec& baseline, double phi);

// Fills repeats, channels, params, MACs and the ratio for `spec` against `baseline`.
ScaledModel describe_scaled(const std::string& name, double phi, const Coefficients& nominal,
                            const models::ArchSpec& spec, const models::ArchSpec& baseline);

}  // namespace effscale::scaling
