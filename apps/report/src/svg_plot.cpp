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

}  // namespace

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
  for (int i = 0; i <= 4; ++i) {
    const double xv = x0 + (x1 - x0) * i / 4, yv = y0 + (y1 - y0) * i / 4;
    const double xpos = kLeft + (kWidth - kLeft - kRight) * i / 4, ypos = bottom - (kHeight - kTop - kBottom) * i / 4;
    svg << "<text x=\"" << xpos << "\" y=\"" << bottom + 18 << "\" text-anchor=\"middle\">"
        << tick_text(log_x_ ? std::pow(10.0, xv) : xv) << "</text>\n"
        << "<text x=\"" << kLeft - 8 << "\" y=\"" << ypos + 4 << "\" text-anchor=\"end\">" << tick_text(yv) << "</text>\n"
        << "<line x1=\"" << kLeft << "\" y1=\"" << ypos << "\" x2=\"" << right << "\" y2=\"" << ypos
        << "\" stroke=\"#ddd\"/>\n";
  }
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
