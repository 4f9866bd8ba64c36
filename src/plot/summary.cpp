// The summaries over rows: beeswarm and bar.

#include <algorithm>
#include <cmath>
#include <map>

#include "plot/common.h"

namespace xai {
namespace {

using plotting::Align;
using plotting::Canvas;
using plotting::Color;
using plotting::TextStyle;

constexpr double kNaturalRow = 28;  // row height at scale 1, in pixels

// A feature row of a summary plot: its label, its values over rows and
// (beeswarm) the feature's value in each row, if known.
struct Row {
  std::string label;
  torch::Tensor values;  // [rows], float64
  torch::Tensor data;    // [rows], float64; may be undefined
};

std::vector<Row> summary_rows(const plotting::Table& table,
                              const plotting::Selection& sel) {
  std::vector<Row> rows;
  for (int64_t j : sel.top) {
    Row row{table.names[j], table.values.select(1, j).contiguous(), {}};
    if (table.data.defined()) row.data = table.data.select(1, j).contiguous();
    rows.push_back(row);
  }
  if (sel.others > 0) {
    rows.push_back(Row{sel.others_label(),
                       plotting::others_sum(table.values, sel).contiguous(),
                       {}});
  }
  return rows;
}

// The q-th quantile (q in [0, 1]) of the sorted `v`, interpolated.
double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  double at = q * (sorted.size() - 1);
  size_t below = static_cast<size_t>(std::floor(at));
  size_t above = std::min(below + 1, sorted.size() - 1);
  return sorted[below] + (at - below) * (sorted[above] - sorted[below]);
}

// Dot colours from blue (low) to red (high), scaled to the feature's 5th
// and 95th percentile so that a few outliers do not flatten the rest.
std::vector<Color> dot_colors(const torch::Tensor& data, int64_t count) {
  if (!data.defined()) return std::vector<Color>(count, plotting::kNoData);
  const double* x = data.data_ptr<double>();
  std::vector<double> sorted(x, x + count);
  std::sort(sorted.begin(), sorted.end());
  double lo = quantile(sorted, 0.05), hi = quantile(sorted, 0.95);
  if (hi <= lo) {
    lo = sorted.front();
    hi = sorted.back();
  }
  std::vector<Color> colors;
  for (int64_t i = 0; i < count; ++i) {
    double t = hi > lo ? (x[i] - lo) / (hi - lo) : 0.5;
    colors.push_back(Color::mix(plotting::kBlue, plotting::kRed, t));
  }
  return colors;
}

// Vertical offsets (in units of one dot step) that stack dots whose
// positions fall into the same bin alternately above and below the row's
// centre line, in row order.
std::vector<double> swarm_offsets(const std::vector<double>& px,
                                  double bin_width) {
  std::map<int64_t, int> layers;
  std::vector<double> offsets;
  for (double x : px) {
    int layer = layers[std::llround(x / bin_width)]++;
    double side = layer % 2 == 1 ? 1 : -1;
    offsets.push_back(std::ceil(layer / 2.0) * side);
  }
  return offsets;
}

void draw_swarm(Canvas& canvas, const Row& row, const plotting::Axis& axis,
                double y, double row_height, double radius) {
  const int64_t count = row.values.numel();
  const double* v = row.values.data_ptr<double>();
  std::vector<double> px(v, v + count);
  for (double& x : px) x = axis.px(x);

  const double step = 1.2 * radius;
  auto offsets = swarm_offsets(px, step);
  double widest = 0;
  for (double o : offsets) widest = std::max(widest, std::fabs(o));
  const double room = 0.42 * row_height - radius;
  const double fit = widest * step > room && widest > 0
                         ? std::max(room, 0.0) / (widest * step)
                         : 1.0;

  auto colors = dot_colors(row.data, count);
  for (int64_t i = 0; i < count; ++i) {
    canvas.circle(px[i], y + offsets[i] * step * fit, radius, colors[i]);
  }
}

// The colour bar at the right of a beeswarm, between y0 and y1.
void draw_color_bar(Canvas& canvas, double x, double y0, double y1, double s) {
  const double width = 8 * s;
  canvas.gradient(
      x, y0, width, y1 - y0,
      {plotting::kBlue, Color::mix(plotting::kBlue, plotting::kRed, 0.5),
       plotting::kRed},
      true);
  TextStyle small;
  small.size = 11 * s;
  small.align = Align::kCenter;
  canvas.text(x + width / 2, y0 - 10 * s, "High", small);
  canvas.text(x + width / 2, y1 + 10 * s, "Low", small);
  small.vertical = true;
  small.size = 12 * s;
  canvas.text(x + width + 12 * s, (y0 + y1) / 2, "Feature value", small);
}

// The frame shared by the summaries: rows with their labels down the left,
// a dashed guide line through each row, and the value axis below.
struct Frame {
  int width = 0, height = 0;
  double s = 1;
  plotting::Rows rows;
  plotting::Axis axis;
  double axis_y = 0;
};

Frame summary_frame(Canvas* canvas, const std::vector<Row>& rows,
                    const PlotOptions& options, double title_height,
                    double right, double lo, double hi, double pad) {
  Frame f;
  f.width = options.width;
  f.s = plotting::scale_of(options);
  const double s = f.s;
  const double top = title_height + 18 * s;
  const double below = 8 * s + 46 * s + 8 * s;
  f.rows = plotting::layout_rows(static_cast<int>(rows.size()), top, below,
                                 kNaturalRow * s, options, f.height);
  f.axis_y = f.rows.top + rows.size() * f.rows.height + 8 * s;

  TextStyle label;
  label.size = 12 * s;
  std::vector<std::string> labels;
  for (const auto& row : rows) labels.push_back(row.label);
  const double label_w = plotting::label_width(labels, label, 0.4 * f.width);
  const double x0 = 12 * s + label_w + 10 * s;
  f.axis = plotting::make_axis(lo, hi, x0, f.width - right, pad);
  if (canvas == nullptr) return f;

  label.align = Align::kRight;
  for (size_t i = 0; i < rows.size(); ++i) {
    const double y = f.rows.y(static_cast<int>(i));
    canvas->line(f.axis.x0, y, f.axis.x1, y, plotting::kGrid, std::max(1.0, s),
                 true);
    canvas->text(x0 - 10 * s, y,
                 plotting::fit_text(rows[i].label, label, label_w), label);
  }
  return f;
}

void check_kind(const PlotData& d, const PlotOptions& options,
                const std::string& path) {
  plotting::check_options(options);
  plotting::format_of(path);
}

}  // namespace

void plot_beeswarm(const PlotData& d, const PlotOptions& options,
                   const std::string& path) {
  check_kind(d, options, path);
  const plotting::Table table = plotting::feature_table(d, "beeswarm");
  plotting::per_row(d.targets, "targets", table.values.size(0), 0, "beeswarm");
  const auto sel = plotting::select_features(table.values.abs().mean(0),
                                             options.max_features);
  const auto rows = summary_rows(table, sel);

  double lo = 0, hi = 0;
  for (const auto& row : rows) {
    lo = std::min(lo, row.values.min().item<double>());
    hi = std::max(hi, row.values.max().item<double>());
  }
  const double s = plotting::scale_of(options);
  const double right = table.data.defined() ? 80 * s : 24 * s;
  const std::string title = plotting::join_title(
      {d.title, plotting::describe_targets(d.targets, d.output_names)});

  // Measure first: the canvas needs the height.
  const double title_h = title.empty() ? 0 : 36 * s;
  Frame f = summary_frame(nullptr, rows, options, title_h, right, lo, hi, 0.05);
  auto canvas =
      plotting::make_canvas(plotting::format_of(path), f.width, f.height);
  plotting::draw_title(*canvas, title, f.width, s);
  f = summary_frame(canvas.get(), rows, options, title_h, right, lo, hi, 0.05);

  const double rows_bottom = f.rows.top + rows.size() * f.rows.height;
  const double zero = f.axis.px(0);
  canvas->line(zero, f.rows.top, zero, rows_bottom, plotting::kAxis,
               std::max(1.0, s));
  const double radius = std::clamp(0.14 * f.rows.height, 1.0, 3.5 * s);
  for (size_t i = 0; i < rows.size(); ++i) {
    draw_swarm(*canvas, rows[i], f.axis, f.rows.y(static_cast<int>(i)),
               f.rows.height, radius);
  }
  plotting::draw_x_axis(*canvas, f.axis, f.axis_y, s,
                        "attribution (impact on model output)");
  if (table.data.defined()) {
    const double span = rows_bottom - f.rows.top;
    const double margin = std::max(span * 0.1, 20 * s);
    draw_color_bar(*canvas, f.axis.x1 + 18 * s, f.rows.top + margin,
                   rows_bottom - margin, s);
  }
  plotting::save(*canvas, path, "beeswarm", f.width, f.height);
}

void plot_bar(const PlotData& d, const PlotOptions& options,
              const std::string& path) {
  check_kind(d, options, path);
  const plotting::Table table = plotting::feature_table(d, "bar");
  plotting::per_row(d.targets, "targets", table.values.size(0), 0, "bar");
  const torch::Tensor importance = table.values.abs().mean(0);
  const auto sel = plotting::select_features(importance, options.max_features);
  auto rows = summary_rows(table, sel);

  std::vector<double> bars;
  for (const auto& row : rows) {
    bars.push_back(row.values.abs().mean().item<double>());
  }
  // The bar of the other features is the sum of their mean |value|.
  if (sel.others > 0) {
    bars.back() = importance.sum().item<double>();
    for (int64_t j : sel.top) bars.back() -= importance[j].item<double>();
  }
  const double hi = *std::max_element(bars.begin(), bars.end());

  const double s = plotting::scale_of(options);
  const std::string title = plotting::join_title(
      {d.title, plotting::describe_targets(d.targets, d.output_names)});
  const double title_h = title.empty() ? 0 : 36 * s;
  // Room right of the longest bar for its number.
  Frame f = summary_frame(nullptr, rows, options, title_h, 24 * s, 0,
                          hi > 0 ? hi * 1.15 : 1, 0);
  auto canvas =
      plotting::make_canvas(plotting::format_of(path), f.width, f.height);
  plotting::draw_title(*canvas, title, f.width, s);
  f = summary_frame(canvas.get(), rows, options, title_h, 24 * s, 0,
                    hi > 0 ? hi * 1.15 : 1, 0);

  TextStyle number;
  number.size = 11 * s;
  number.color = plotting::kRed;
  for (size_t i = 0; i < rows.size(); ++i) {
    const double y = f.rows.y(static_cast<int>(i));
    const double h = 0.62 * f.rows.height;
    const double x0 = f.axis.px(0), x1 = f.axis.px(bars[i]);
    canvas->rect(x0, y - h / 2, x1 - x0, h, plotting::kRed);
    canvas->text(x1 + 5 * s, y, plotting::format_number(bars[i], 3), number);
  }
  canvas->line(f.axis.px(0), f.rows.top, f.axis.px(0), f.axis_y,
               plotting::kAxis, std::max(1.0, s));
  plotting::draw_x_axis(*canvas, f.axis, f.axis_y, s, "mean(|attribution|)");
  plotting::save(*canvas, path, "bar", f.width, f.height);
}

}  // namespace xai
