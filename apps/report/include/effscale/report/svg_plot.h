#pragma once
// SvgPlot: a small scatter / line chart written as a standalone SVG file a browser shows.

#include <string>
#include <vector>

namespace effscale::report {

// One series: points drawn as circles and/or joined by a line.
struct PlotSeries {
  std::string label;
  std::vector<double> x, y;   // same length; non-finite points are skipped
  std::string color = "#1f77b4";
  bool points = true;
  bool line = false;
  std::vector<double> y_low, y_high;  // empty, or the same length as y: a vertical error bar at each point
};

// The i-th colour of the palette charts use for series in turn (it repeats after 8).
const char* series_color(size_t i);

// A tick label: 1.2G, 300M, 45k for numbers of a thousand and more, else 4 significant digits.
std::string tick_text(double v);

// Round tick values inside [low, high] (low < high), in increasing order. Linear axis: the multiples of the
// smallest step of 1, 2 or 5 x 10^k that gives at most 7 ticks. Log axis (low > 0, high / low >= 2.5): 10^k over
// more than three decades, 1 and 3 x 10^k over more than 1.5, else 1, 2 and 5 x 10^k (with 3 too where that
// leaves fewer than 4); linear ticks where fewer than 2 result or the axis spans less than a factor 2.5. Never
// empty: the two ends when nothing round lies inside.
std::vector<double> tick_values(double low, double high, bool log_axis);

class SvgPlot {
 public:
  SvgPlot(std::string title, std::string x_label, std::string y_label, bool log_x = false);
  void add(PlotSeries series);
  // The whole SVG document (800 x 500), axes with round ticks (tick_values; large numbers as 300M, 1.2G), a
  // legend, error bars where a series has them. Throws std::invalid_argument when no series has a finite point (or, with
  // log_x, a positive x).
  std::string render() const;

 private:
  std::string title_, x_label_, y_label_;
  bool log_x_;
  std::vector<PlotSeries> series_;
};

}  // namespace effscale::report
