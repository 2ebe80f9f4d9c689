#include "effscale/store/sample_statistics.h"

#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace effscale::store {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// t(0.975, df) for df = 1..30.
constexpr double kT975[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                            2.201,  2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                            2.080,  2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042};

double variance(const std::vector<double>& v, double mean) {
  double sum = 0;
  for (double x : v) sum += (x - mean) * (x - mean);
  return sum / double(v.size() - 1);
}

}  // namespace

double t_quantile_975(double df) {
  if (!(df >= 1)) throw std::invalid_argument("t quantile: degrees of freedom must be at least 1");
  if (df <= 30) {  // between table entries, interpolate in 1/df (t is close to linear in it)
    const int lo = int(std::floor(df)), hi = std::min(30, lo + 1);
    if (lo == hi || df == lo) return kT975[lo - 1];
    const double w = (1.0 / lo - 1.0 / df) / (1.0 / lo - 1.0 / hi);
    return kT975[lo - 1] + w * (kT975[hi - 1] - kT975[lo - 1]);
  }
  const double z = 1.959963984540054, z3 = z * z * z, z5 = z3 * z * z;
  return z + (z3 + z) / (4 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96 * df * df);
}

SampleSummary summarize(const std::vector<double>& values) {
  SampleSummary s;
  s.n = int(values.size());
  if (s.n == 0) return {0, kNaN, kNaN, kNaN, kNaN};
  s.mean = std::accumulate(values.begin(), values.end(), 0.0) / s.n;
  if (s.n == 1) return {1, s.mean, kNaN, kNaN, kNaN};
  s.sd = std::sqrt(variance(values, s.mean));
  const double half = t_quantile_975(s.n - 1) * s.sd / std::sqrt(double(s.n));
  s.ci_low = s.mean - half;
  s.ci_high = s.mean + half;
  return s;
}

bool distinguishable(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() < 2 || b.size() < 2) return false;
  const SampleSummary x = summarize(a), y = summarize(b);
  const double va = x.sd * x.sd / x.n, vb = y.sd * y.sd / y.n;
  if (va + vb == 0) return x.mean != y.mean;
  const double t = std::abs(x.mean - y.mean) / std::sqrt(va + vb);
  const double df = (va + vb) * (va + vb) / (va * va / (x.n - 1) + vb * vb / (y.n - 1));  // Welch-Satterthwaite
  return t > t_quantile_975(std::max(1.0, df));
}

}  // namespace effscale::store
