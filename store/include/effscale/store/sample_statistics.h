#pragma once
// Seed-to-seed statistics of trial values: means with Student-t 95% intervals, and Welch's test of whether two
// sets of seeds differ. Where accuracies decide something (the grid's winner), these say whether they can.

#include <vector>

namespace effscale::store {

// A sample's mean, its sample standard deviation and the 95% confidence interval of the mean
// (mean +- t(0.975, n - 1) * sd / sqrt(n)). With one value the spread is unknown: sd and the interval's
// half-width are NaN. An empty sample has n = 0 and NaN everywhere.
struct SampleSummary {
  int n = 0;
  double mean = 0, sd = 0;
  double ci_low = 0, ci_high = 0;
};

// Summarises `values` as SampleSummary says.
SampleSummary summarize(const std::vector<double>& values);

// The 0.975 quantile of Student's t distribution with `df` degrees of freedom (df >= 1; exact to 3 decimals
// for df <= 30, then a Cornish-Fisher expansion around the normal quantile). Throws std::invalid_argument for df < 1.
double t_quantile_975(double df);

// Whether the means of `a` and `b` differ at the 5% level by Welch's two-sided t test. False when either has
// fewer than two values or both have no spread at all and equal means.
bool distinguishable(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace effscale::store
