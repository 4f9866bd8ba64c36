// Line plots of named series over shared x values (accuracy against eps).

#include <algorithm>
#include <cmath>

#include "plot/canvas.h"
#include "plot/common.h"
#include "xai/error.h"
#include "xai/plot/plot.h"

namespace xai {
namespace {

// Colours of successive series: SHAP's blue and red, then darker tones.
plotting::Color series_color(size_t i) {
  static const uint32_t hex[] = {0x008bfb, 0xff0051, 0x2e7d32,
                                 0x6a1b9a, 0xef6c00, 0x37474f};
  return plotting::Color::rgb(hex[i % 6]);
}

}  // namespace

void plot_curve(const CurveData& d, const PlotOptions& options,
                const std::string& path) {
  plotting::check_options(options);
  const plotting::Format format = plotting::format_of(path);
  if (d.x.empty() || d.series.empty()) {
    plotting::refuse("curve", "no points or no series");
  }
  double lo = 0, hi = 0;
  bool first = true;
  for (const auto& [name, ys] : d.series) {
    if (ys.size() != d.x.size()) {
      plotting::refuse("curve", "series '" + name + "' has " +
                                    std::to_string(ys.size()) + " values for " +
                                    std::to_string(d.x.size()) + " x values");
    }
    for (double y : ys) {
      if (!std::isfinite(y)) {
        plotting::refuse("curve", "series '" + name + "' is not finite");
      }
      lo = first ? y : std::min(lo, y);
      hi = first ? y : std::max(hi, y);
      first = false;
    }
  }

  if (std::isfinite(d.y_lo)) lo = std::min(lo, d.y_lo);
  if (std::isfinite(d.y_hi)) hi = std::max(hi, d.y_hi);

  const double s = plotting::scale_of(options);
  const int width = options.width;
  const int height =
      options.height > 0 ? options.height : static_cast<int>(0.62 * width);
  auto canvas = plotting::make_canvas(format, width, height);
  const double left = 70 * s, right = width - 24 * s;

  // The legend runs in a row under the title, above the plot area.
  double top =
      std::max(plotting::draw_title(*canvas, d.title, width, s), 12 * s);
  plotting::TextStyle legend;
  legend.size = 12 * s;
  double lx = left;
  for (size_t k = 0; k < d.series.size(); ++k) {
    const std::string name =
        plotting::fit_text(d.series[k].first, legend, 200 * s);
    canvas->line(lx, top + 8 * s, lx + 22 * s, top + 8 * s, series_color(k),
                 2 * s);
    canvas->text(lx + 28 * s, top + 8 * s, name, legend);
    lx += 28 * s + plotting::text_width(name, legend) + 24 * s;
  }
  top += 24 * s;
  const double bottom = height - 52 * s;

  auto [x_min, x_max] = std::minmax_element(d.x.begin(), d.x.end());
  plotting::Axis xa = plotting::make_axis(*x_min, *x_max, left, right, 0.04);
  plotting::Axis ya = plotting::make_axis(lo, hi, bottom, top + 8 * s, 0.06);

  // Horizontal guides with the y numbers at the left.
  plotting::TextStyle numbers;
  numbers.size = 11 * s;
  numbers.align = plotting::Align::kRight;
  std::vector<double> ticks = plotting::nice_ticks(ya.lo, ya.hi, 6);
  std::vector<std::string> labels = plotting::tick_labels(ticks);
  for (size_t i = 0; i < ticks.size(); ++i) {
    double y = ya.px(ticks[i]);
    canvas->line(left, y, right, y, plotting::kGrid, std::max(1.0, s), true);
    canvas->text(left - 8 * s, y, labels[i], numbers);
  }
  plotting::TextStyle caption;
  caption.size = 12 * s;
  caption.align = plotting::Align::kCenter;
  caption.vertical = true;
  canvas->text(18 * s, (top + bottom) / 2, d.y_label, caption);
  canvas->line(left, top, left, bottom, plotting::kAxis, std::max(1.0, s));
  plotting::draw_x_axis(*canvas, xa, bottom, s, d.x_label);

  // The series, each with dots at its points.
  for (size_t k = 0; k < d.series.size(); ++k) {
    const auto& ys = d.series[k].second;
    plotting::Color color = series_color(k);
    for (size_t i = 0; i + 1 < ys.size(); ++i) {
      canvas->line(xa.px(d.x[i]), ya.px(ys[i]), xa.px(d.x[i + 1]),
                   ya.px(ys[i + 1]), color, 2 * s);
    }
    for (size_t i = 0; i < ys.size(); ++i) {
      canvas->circle(xa.px(d.x[i]), ya.px(ys[i]), 4 * s, color);
    }
  }
  plotting::save(*canvas, path, "curve", width, height);
}

}  // namespace xai
