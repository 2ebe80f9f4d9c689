#include "effscale/scaling/coefficients.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace effscale::scaling {
namespace {

std::vector<double> values_of(const GridRange& r) {
  std::vector<double> values;
  for (int64_t k = 0;; ++k) {
    const double v = std::round((r.low + double(k) * r.step) * 1e6) / 1e6;
    if (v > r.high + 1e-9) break;
    values.push_back(v);
  }
  return values;
}

std::string short_number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.2f", v);
  if (std::abs(std::stod(buffer) - v) > 1e-9) std::snprintf(buffer, sizeof buffer, "%.6g", v);
  return buffer;
}

}  // namespace

double flops_factor(const Coefficients& c) { return c.alpha * c.beta * c.beta * c.gamma * c.gamma; }

GridRange parse_grid_range(const std::string& text, const std::string& name) {
  GridRange r;
  r.text = text;
  char extra = 0;
  if (std::sscanf(text.c_str(), "%lf:%lf:%lf%c", &r.low, &r.high, &r.step, &extra) != 3)
    throw std::invalid_argument(name + " '" + text + "': expected LOW:HIGH:STEP, e.g. 1.0:1.4:0.05");
  if (!(r.low >= 1.0 && r.high >= r.low && r.step > 0 && (r.high - r.low) / r.step < 10000))
    throw std::invalid_argument(name + " '" + text + "': needs 1 <= LOW <= HIGH and STEP > 0 (at most 10000 values)");
  return r;
}

std::string grid_range_text(const GridRange& range) {
  if (!range.text.empty()) return range.text;
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%.6g:%.6g:%.6g", range.low, range.high, range.step);
  return buffer;
}

std::vector<GridPoint> admissible_grid(const GridRange& alpha, const GridRange& beta, const GridRange& gamma,
                                       double tolerance) {
  std::vector<GridPoint> points;
  for (double a : values_of(alpha))
    for (double b : values_of(beta))
      for (double g : values_of(gamma)) {
        const Coefficients c{a, b, g};
        if (std::abs(flops_factor(c) - 2.0) <= tolerance + 1e-12) points.push_back({c, grid_point_id(c)});
      }
  return points;
}

std::string grid_point_id(const Coefficients& c) {
  return "a" + short_number(c.alpha) + "_b" + short_number(c.beta) + "_g" + short_number(c.gamma);
}

}  // namespace effscale::scaling
