#include "effscale/scaling/equal_cost.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace effscale::scaling {

std::string scaling_method_name(ScalingMethod method) {
  switch (method) {
    case ScalingMethod::Compound: return "compound";
    case ScalingMethod::Width: return "width";
    case ScalingMethod::Depth: return "depth";
    default: return "resolution";
  }
}

const std::vector<ScalingMethod>& scaling_methods() {
  static const std::vector<ScalingMethod> all{ScalingMethod::Compound, ScalingMethod::Width, ScalingMethod::Depth,
                                              ScalingMethod::Resolution};
  return all;
}

ScalingMethod parse_scaling_method(const std::string& name) {
  for (ScalingMethod m : scaling_methods())
    if (scaling_method_name(m) == name) return m;
  throw std::invalid_argument("scaling method '" + name + "': expected compound, width, depth or resolution");
}

namespace {

// Coefficients along `method` whose nominal FLOPs double per unit of s.
Coefficients direction(ScalingMethod method, const Coefficients& compound) {
  switch (method) {
    case ScalingMethod::Compound: return compound;
    case ScalingMethod::Width: return {1.0, std::sqrt(2.0), 1.0};
    case ScalingMethod::Depth: return {2.0, 1.0, 1.0};
    default: return {1.0, 1.0, std::sqrt(2.0)};
  }
}

}  // namespace

namespace {

// The nearest in log ratio to 2^phi along `c` (s scanned from 0 to `last`), resolution on the path.
ScaledModel nearest_on_path(const models::ArchSpec& baseline, const Coefficients& c, double phi, double last, int divisor) {
  ScaledModel best;
  double best_error = INFINITY;
  const int steps = 2000;  // rounding moves the realised cost in steps: scan finely
  for (int i = 0; i <= steps; ++i) {
    const ScaledModel candidate = scale_model(baseline, c, last * i / steps, divisor);
    const double error = std::abs(std::log2(candidate.macs_ratio) - phi);
    if (error < best_error - 1e-12) {
      best_error = error;
      best = candidate;
    }
  }
  return best;
}

// Compound scaling when the path's resolution steps jump over the target (at a small proxy one pixel can double
// the cost of a stride-32 network): depth and width along (alpha, beta)^s, the resolution one of the multiples of
// `divisor` up to the path's largest, the pair nearest the path in s among those within 5% of 2^phi (else the
// nearest in cost).
ScaledModel nearest_compound(const models::ArchSpec& baseline, const Coefficients& c, double phi, double last, int divisor) {
  ScaledModel best;
  double best_cost_error = INFINITY, best_path_error = INFINITY;
  const int steps = 400, top = scale_model(baseline, c, last, divisor).spec.resolution;
  for (int r = divisor * std::max(1, baseline.resolution / divisor); r <= top; r += divisor) {
    const double s_r = r == baseline.resolution ? 0.0 : std::log(double(r) / baseline.resolution) / std::log(c.gamma);
    for (int i = 0; i <= steps; ++i) {
      const double s = last * i / steps;
      const ScaledModel candidate =
          scale_dimensions(baseline, {std::pow(c.alpha, s), std::pow(c.beta, s), double(r) / baseline.resolution}, r, s);
      const double cost_error = std::abs(candidate.macs_ratio / std::pow(2.0, phi) - 1);
      const double path_error = std::abs(s - s_r);
      const bool near = cost_error <= 0.05, best_near = best_cost_error <= 0.05;
      if ((near && (!best_near || path_error < best_path_error)) || (!near && !best_near && cost_error < best_cost_error)) {
        best = candidate;
        best_cost_error = cost_error;
        best_path_error = path_error;
      }
    }
  }
  return best;
}

}  // namespace

ScaledModel scale_to_cost(const models::ArchSpec& baseline, ScalingMethod method, double phi, const Coefficients& compound,
                          int resolution_divisor) {
  if (phi < 0) throw std::invalid_argument("phi must be >= 0");
  const Coefficients c = direction(method, compound);
  const double per_unit = std::log2(flops_factor(c));  // nominal doublings per unit of s
  if (!(per_unit > 0)) throw std::invalid_argument("compound coefficients must grow the cost (alpha beta^2 gamma^2 > 1)");
  const double last = std::max(1.0, 2.5 * phi / per_unit);
  ScaledModel best = nearest_on_path(baseline, c, phi, last, resolution_divisor);
  if (method == ScalingMethod::Compound && c.gamma > 1 && std::abs(best.macs_ratio / std::pow(2.0, phi) - 1) > 0.05)
    best = nearest_compound(baseline, c, phi, last, resolution_divisor);
  best.spec.dropout = scaled_dropout(baseline.dropout, phi);
  char suffix[48];
  std::snprintf(suffix, sizeof suffix, "-%s-phi%g", scaling_method_name(method).c_str(), phi);
  best.spec.name = baseline.name + suffix;
  best.name = best.spec.name;
  best.phi = phi;
  return best;
}

}  // namespace effscale::scaling
