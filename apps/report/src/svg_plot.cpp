#include "effscale/report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <stdexcept>

namespace effscale::report {
namespace {

constexpr double kWidth = 800, kHeight = 500, kLeft = 80, kRight = 30, kTop = 50, kBottom = 60;

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

std::string number(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4g", v);
  return buffer;
}

// The error bar of point i of `s`, when it has one.
bool has_bar(const PlotSeries& s, size_t i) {
  return i < s.y_low.size() && i < s.y_high.size() && std::isfinite(s.y_low[i]) && std::isfinite(s.y_high[i]);
}

// units x 10^k, divided rather than multiplied for negative k so that 14 x 5 x 10^-2 is the double nearest 0.7.
double times_power_of_ten(double units, int k) { return k >= 0 ? units * std::pow(10.0, k) : units / std::pow(10.0, -k); }

// Multiples of the first step of 1, 2 or 5 x 10^k that puts at most 7 ticks in [low, high].
std::vector<double> linear_ticks(double low, double high) {
  const int top = int(std::ceil(std::log10(high - low)));
  for (int k = top - 3; k <= top + 1; ++k)
    for (double m : {1.0, 2.0, 5.0}) {
      const double step = m * std::pow(10.0, k);
      const double first = std::ceil(low / step - 1e-9), last = std::floor(high / step + 1e-9);
      if (last - first + 1 > 7) continue;
      std::vector<double> ticks;
      // + 0.0 turns the -0 that ceil gives for a low just below zero into 0 (printed "-0" otherwise).
      for (double i = first; i <= last; ++i) ticks.push_back(times_power_of_ten(i * m, k) + 0.0);
      return ticks;
    }
  return {};
}

// The values m x 10^k inside [low, high] for the given mantissas m.
std::vector<double> log_ticks(double low, double high, std::initializer_list<double> mantissas) {
  std::vector<double> ticks;
  for (int k = int(std::floor(std::log10(low))); k <= int(std::ceil(std::log10(high))); ++k)
    for (double m : mantissas) {
      const double v = times_power_of_ten(m, k);
      if (v >= low * (1 - 1e-9) && v <= high * (1 + 1e-9)) ticks.push_back(v);
    }
  return ticks;
}

}  // namespace

std::vector<double> tick_values(double low, double high, bool log_axis) {
  std::vector<double> ticks;
  if (log_axis && low > 0 && high / low >= 2.5) {
    const double decades = std::log10(high / low);
    if (decades > 3) ticks = log_ticks(low, high, {1});
    else if (decades > 1.5) ticks = log_ticks(low, high, {1, 3});
    else ticks = log_ticks(low, high, {1, 2, 5});
    if (ticks.size() < 4 && decades <= 1.5) ticks = log_ticks(low, high, {1, 2, 3, 5});
  }
  if (ticks.size() < 2) ticks = linear_ticks(low, high);
  if (ticks.empty()) ticks = {low, high};
  return ticks;
}

const char* series_color(size_t i) {
  static const char* const colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  return colors[i % 8];
}

std::string tick_text(double v) {
  const double a = std::fabs(v);
  if (a >= 1e3) {
    const char* suffix = a >= 1e9 ? "G" : a >= 1e6 ? "M" : "k";
    const double scaled = v / (a >= 1e9 ? 1e9 : a >= 1e6 ? 1e6 : 1e3);
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, std::fabs(scaled) >= 100 ? "%.0f%s" : "%.3g%s", scaled, suffix);
    return buffer;
  }
  return number(v);
}

SvgPlot::SvgPlot(std::string title, std::string x_label, std::string y_label, bool log_x)
    : title_(std::move(title)), x_label_(std::move(x_label)), y_label_(std::move(y_label)), log_x_(log_x) {}

void SvgPlot::add(PlotSeries series) { series_.push_back(std::move(series)); }

std::string SvgPlot::render() const {
  auto usable = [&](double x, double y) { return std::isfinite(x) && std::isfinite(y) && (!log_x_ || x > 0); };
  auto tx = [&](double x) { return log_x_ ? std::log10(x) : x; };
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const PlotSeries& s : series_)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
      if (usable(s.x[i], s.y[i])) {
        x0 = std::min(x0, tx(s.x[i]));
        x1 = std::max(x1, tx(s.x[i]));
        y0 = std::min(y0, has_bar(s, i) ? s.y_low[i] : s.y[i]);
        y1 = std::max(y1, has_bar(s, i) ? s.y_high[i] : s.y[i]);
      }
  if (!std::isfinite(x0)) throw std::invalid_argument("nothing to plot: no trial has the values this plot needs");
  if (x1 - x0 < 1e-12) { x0 -= 0.5; x1 += 0.5; }
  if (y1 - y0 < 1e-12) { y0 -= 0.5; y1 += 0.5; }
  const double px = (x1 - x0) * 0.05, py = (y1 - y0) * 0.05;
  x0 -= px; x1 += px; y0 -= py; y1 += py;
  auto sx = [&](double x) { return kLeft + (tx(x) - x0) / (x1 - x0) * (kWidth - kLeft - kRight); };
  auto sy = [&](double y) { return kHeight - kBottom - (y - y0) / (y1 - y0) * (kHeight - kTop - kBottom); };

  std::ostringstream svg;
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << kHeight
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text x=\"" << kWidth / 2 << "\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">" << escape(title_) << "</text>\n";
  const double bottom = kHeight - kBottom, right = kWidth - kRight;
  svg << "<line x1=\"" << kLeft << "\" y1=\"" << bottom << "\" x2=\"" << right << "\" y2=\"" << bottom << "\" stroke=\"black\"/>\n"
      << "<line x1=\"" << kLeft << "\" y1=\"" << kTop << "\" x2=\"" << kLeft << "\" y2=\"" << bottom << "\" stroke=\"black\"/>\n";
  for (double xv : tick_values(log_x_ ? std::pow(10.0, x0) : x0, log_x_ ? std::pow(10.0, x1) : x1, log_x_))
    svg << "<text x=\"" << number(sx(xv)) << "\" y=\"" << bottom + 18
        << "\" text-anchor=\"middle\">" << tick_text(xv) << "</text>\n";
  for (double yv : tick_values(y0, y1, false))
    svg << "<text x=\"" << kLeft - 8 << "\" y=\"" << number(sy(yv) + 4) << "\" text-anchor=\"end\">" << tick_text(yv)
        << "</text>\n<line x1=\"" << kLeft << "\" y1=\"" << number(sy(yv)) << "\" x2=\"" << right << "\" y2=\""
        << number(sy(yv)) << "\" stroke=\"#ddd\"/>\n";
  svg << "<text x=\"" << (kLeft + right) / 2 << "\" y=\"" << kHeight - 15 << "\" text-anchor=\"middle\">" << escape(x_label_)
      << (log_x_ ? " (log)" : "") << "</text>\n"
      << "<text transform=\"translate(20," << (kTop + bottom) / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
      << escape(y_label_) << "</text>\n";
  int legend = 0;
  for (const PlotSeries& s : series_) {
    std::string path;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!usable(s.x[i], s.y[i])) continue;
      if (has_bar(s, i))
        svg << "<path d=\"M" << number(sx(s.x[i]) - 4) << " " << number(sy(s.y_low[i])) << " h8 M" << number(sx(s.x[i]))
            << " " << number(sy(s.y_low[i])) << " V" << number(sy(s.y_high[i])) << " M" << number(sx(s.x[i]) - 4) << " "
            << number(sy(s.y_high[i])) << " h8\" stroke=\"" << s.color << "\" fill=\"none\"/>\n";
      if (s.points)
        svg << "<circle cx=\"" << sx(s.x[i]) << "\" cy=\"" << sy(s.y[i]) << "\" r=\"3.5\" fill=\"" << s.color << "\"/>\n";
      path += (path.empty() ? "M" : " L") + number(sx(s.x[i])) + " " + number(sy(s.y[i]));
    }
    if (s.line && !path.empty())
      svg << "<path d=\"" << path << "\" fill=\"none\" stroke=\"" << s.color << "\" stroke-width=\"2\"/>\n";
    svg << "<rect x=\"" << right - 150 << "\" y=\"" << kTop + 18 * legend << "\" width=\"10\" height=\"10\" fill=\""
        << s.color << "\"/><text x=\"" << right - 135 << "\" y=\"" << kTop + 9 + 18 * legend << "\">" << escape(s.label)
        << "</text>\n";
    ++legend;
  }
  svg << "</svg>\n";
  return svg.str();
}

}  // namespace effscale::report
