#include "effscale/scaling/scaled_model.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "effscale/models/counts.h"
#include "effscale/models/official.h"

namespace effscale::scaling {

ScaledModel describe_scaled(const std::string& name, double phi, const Coefficients& nominal,
                            const models::ArchSpec& spec, const models::ArchSpec& baseline) {
  models::validate(spec);
  ScaledModel m;
  m.name = name;
  m.phi = phi;
  m.depth_mult = nominal.alpha;
  m.width_mult = nominal.beta;
  m.resolution_mult = nominal.gamma;
  m.spec = spec;
  m.channels.push_back(models::realized_stem_filters(spec));
  for (const models::BlockArgs& b : models::realized_stages(spec)) {
    m.repeats.push_back(b.num_repeat);
    m.channels.push_back(b.output_filters);
  }
  m.channels.push_back(models::realized_head_filters(spec));
  m.params = models::count_params(spec);
  m.macs = models::count_macs(spec);
  m.macs_ratio = double(m.macs) / double(models::count_macs(baseline));
  return m;
}

double scaled_dropout(double baseline_dropout, double phi) {
  return baseline_dropout + (0.5 - baseline_dropout) * std::min(phi, 7.0) / 7.0;
}

ScaledModel scale_dimensions(const models::ArchSpec& baseline, const Coefficients& multipliers, int resolution, double phi) {
  models::ArchSpec spec = baseline;
  spec.depth_mult = baseline.depth_mult * multipliers.alpha;
  spec.width_mult = baseline.width_mult * multipliers.beta;
  spec.resolution = resolution;
  spec.dropout = scaled_dropout(baseline.dropout, phi);
  char suffix[32];
  std::snprintf(suffix, sizeof suffix, "-phi%g", phi);
  spec.name = baseline.name + suffix;
  return describe_scaled(spec.name, phi, multipliers, spec, baseline);
}

ScaledModel scale_model(const models::ArchSpec& baseline, const Coefficients& c, double phi, int resolution_divisor) {
  if (phi < 0) throw std::invalid_argument("phi must be >= 0");
  if (resolution_divisor < 1) throw std::invalid_argument("the resolution divisor must be >= 1");
  const Coefficients nominal{std::pow(c.alpha, phi), std::pow(c.beta, phi), std::pow(c.gamma, phi)};
  const double exact = baseline.resolution * nominal.gamma;
  const int resolution = std::max(resolution_divisor, static_cast<int>(std::lround(exact / resolution_divisor)) * resolution_divisor);
  return scale_dimensions(baseline, nominal, resolution, phi);
}

ScaledModel official_scaled_model(const models::ArchSpec& baseline, double phi) {
  if (!(phi >= 1 && phi <= 7) || std::floor(phi) != phi) {
    std::ostringstream text;
    text << "the official family has phi = 1..7 (B1-B7), not " << phi;
    throw std::invalid_argument(text.str());
  }
  const models::OfficialScale& row = models::official_table().at(static_cast<size_t>(phi));
  models::ArchSpec spec = baseline;
  spec.name = baseline.name == "b0" ? row.name : baseline.name + "-" + row.name;
  spec.width_mult = baseline.width_mult * row.width_mult;
  spec.depth_mult = baseline.depth_mult * row.depth_mult;
  spec.resolution = static_cast<int>(std::lround(baseline.resolution * row.resolution / 224.0));
  spec.dropout = row.dropout;
  return describe_scaled(spec.name, phi, {row.depth_mult, row.width_mult, row.resolution / 224.0}, spec, baseline);
}

}  // namespace effscale::scaling
