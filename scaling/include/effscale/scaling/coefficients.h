#pragma once
// Compound-scaling coefficients and the constrained grid of step 1 (docs/scaling.md).

#include <string>
#include <vector>

namespace effscale::scaling {

// d = alpha^phi, w = beta^phi, r = gamma^phi.
struct Coefficients {
  double alpha = 1.0;  // depth
  double beta = 1.0;   // width
  double gamma = 1.0;  // resolution
};

// alpha * beta^2 * gamma^2: how FLOPs grow per unit of phi (the paper constrains it to about 2).
double flops_factor(const Coefficients& c);

// A closed range low:high:step of one coefficient.
struct GridRange {
  double low = 1.0, high = 1.4, step = 0.05;
  std::string text;  // as it was written ("1.0:1.4:0.05"), kept so a study's stored settings compare exactly
};

// Parses "LOW:HIGH:STEP" (low >= 1, high >= low, step > 0). Throws std::invalid_argument naming the range
// `name` (e.g. "alpha range") and the text.
GridRange parse_grid_range(const std::string& text, const std::string& name);

// The range as written, or "LOW:HIGH:STEP" from its numbers when it was not parsed from text.
std::string grid_range_text(const GridRange& range);

// One admissible grid point.
struct GridPoint {
  Coefficients coefficients;
  std::string id;  // stable: "a1.20_b1.10_g1.15"
};

// Every (alpha, beta, gamma) on the three ranges (values low + k * step, rounded to 1e-6) with
// |alpha * beta^2 * gamma^2 - 2| <= tolerance, enumerated alpha-major, then beta, then gamma: the same
// inputs always give the same list.
std::vector<GridPoint> admissible_grid(const GridRange& alpha, const GridRange& beta, const GridRange& gamma,
                                       double tolerance);

// "a1.20_b1.10_g1.15" (two decimals, or more when a value needs them).
std::string grid_point_id(const Coefficients& c);

}  // namespace effscale::scaling
