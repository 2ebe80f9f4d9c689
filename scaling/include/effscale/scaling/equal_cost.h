#pragma once
// Scaling at equal cost: the paper's comparison of compound scaling with scaling one dimension alone (Fig. 3
// and 8) holds the multiply-adds fixed. These find, for each direction, the network whose multiply-adds as
// realised after rounding (channels to the divisor, layers up, resolution to its divisor) are nearest a target.

#include <string>
#include <vector>

#include "effscale/models/arch_spec.h"
#include "effscale/scaling/coefficients.h"
#include "effscale/scaling/scaled_model.h"

namespace effscale::scaling {

// The directions compared: compound (alpha, beta, gamma together) and each dimension alone.
enum class ScalingMethod { Compound, Width, Depth, Resolution };

// "compound", "width", "depth", "resolution".
std::string scaling_method_name(ScalingMethod method);

// The method `name` names; throws std::invalid_argument listing the names for anything else.
ScalingMethod parse_scaling_method(const std::string& name);

// Every method, in the order above.
const std::vector<ScalingMethod>& scaling_methods();

// `baseline` scaled along `method` so that its realised multiply-adds come nearest to 2^phi times the
// baseline's: compound moves along (alpha, beta, gamma)^s for a continuous s (the coefficients `compound`,
// whose factor alpha beta^2 gamma^2 must exceed 1), width, depth and resolution alone move their one
// multiplier. The search scans s finely (realised cost is a step function of it) and keeps the nearest in
// log ratio; ties take the smaller network. When compound's path misses the target by more than 5% (at a
// small proxy one pixel more can double a stride-32 network's cost), depth and width keep the path
// (alpha, beta)^s while the resolution takes any multiple of the divisor up to the path's: of the pairs within 5%
// the one nearest the path (in s) is kept, so compound then bends the least it must. The result has phi = `phi`, the dropout scale_model gives at that phi,
// the name "<baseline>-<method>-phi<phi>" and its realised macs_ratio; the caller decides whether that is near
// enough. Throws std::invalid_argument for phi < 0 or a compound factor <= 1.
ScaledModel scale_to_cost(const models::ArchSpec& baseline, ScalingMethod method, double phi,
                          const Coefficients& compound = {}, int resolution_divisor = 1);

}  // namespace effscale::scaling
