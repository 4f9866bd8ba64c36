// The waterfall of one row: arrows from E[f(X)] to f(x).

#include <algorithm>
#include <cmath>

#include "plot/common.h"

namespace xai {
namespace {

using plotting::Align;
using plotting::Canvas;
using plotting::TextStyle;

constexpr double kNaturalRow = 30;  // row height at scale 1, in pixels

// One arrow, drawn from `from` to `from + value`.
struct Step {
  std::string label;
  double value = 0;
  double from = 0;
};

// The arrows from the top row down: the largest |value| first, then the
// sum of the others; each starts where the one below it ends, the lowest
// at `base`.
std::vector<Step> steps_of(const plotting::Table& table, int64_t row,
                           const PlotOptions& options, double base) {
  const torch::Tensor v = table.values[row];
  const auto sel = plotting::select_features(v.abs(), options.max_features);
  std::vector<Step> steps;
  for (int64_t j : sel.top) {
    std::string label = table.names[j];
    if (table.data.defined()) {
      label +=
          " = " + plotting::format_number(table.data[row][j].item<double>());
    }
    steps.push_back({label, v[j].item<double>(), 0});
  }
  if (sel.others > 0) {
    steps.push_back(
        {sel.others_label(),
         plotting::others_sum(table.values, sel)[row].item<double>(), 0});
  }
  double at = base;
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    it->from = at;
    at += it->value;
  }
  return steps;
}

void draw_arrow(Canvas& canvas, const Step& step, const plotting::Axis& axis,
                double y, double height, double s) {
  const double x0 = axis.px(step.from);
  const double x1 = axis.px(step.from + step.value);
  const double dir = step.value >= 0 ? 1 : -1;
  const double length = std::fabs(x1 - x0);
  const double head = std::min(0.35 * height, length);
  const double h = height / 2;
  const auto color = step.value >= 0 ? plotting::kRed : plotting::kBlue;
  canvas.polygon({x0, y - h, x1 - dir * head, y - h, x1, y, x1 - dir * head,
                  y + h, x0, y + h},
                 color);

  // The contribution inside the arrow when it fits, else beyond its tip.
  TextStyle number;
  number.size = 11 * s;
  const std::string text = plotting::format_number(step.value, 3, true);
  const double needed = plotting::text_width(text, number) + 8 * s;
  if (needed <= length - head) {
    number.color = plotting::kWhite;
    number.align = Align::kCenter;
    canvas.text((x0 + x1 - dir * head) / 2, y, text, number);
  } else {
    number.color = color;
    number.align = dir > 0 ? Align::kLeft : Align::kRight;
    canvas.text(x1 + dir * 4 * s, y, text, number);
  }
}

// A marker line at `x` from y0 to y1 with `label` centred at (x, label_y).
void draw_mark(Canvas& canvas, double x, double y0, double y1, double label_y,
               const std::string& label, double s) {
  canvas.line(x, y0, x, y1, plotting::kAxis, std::max(1.0, s), true);
  TextStyle style;
  style.size = 12 * s;
  style.align = Align::kCenter;
  canvas.text(x, label_y, label, style);
}

}  // namespace

void plot_waterfall(const PlotData& d, const PlotOptions& options,
                    const std::string& path) {
  plotting::check_options(options);
  const plotting::Format format = plotting::format_of(path);
  const plotting::Table table = plotting::feature_table(d, "waterfall");
  const int64_t rows = table.values.size(0);
  if (options.row >= rows) {
    plotting::refuse("waterfall", "row " + std::to_string(options.row) +
                                      " is out of range for " +
                                      std::to_string(rows) + " rows");
  }
  if (!d.base_values.defined()) {
    plotting::refuse("waterfall",
                     "there are no base values to start from (methods without "
                     "a reference have none); draw a beeswarm or bar plot "
                     "instead");
  }
  const int64_t r = options.row;
  const double base =
      plotting::per_row(d.base_values, "base_values", rows, 0, "waterfall")[r]
          .item<double>();
  torch::Tensor outputs =
      plotting::per_row(d.outputs, "outputs", rows, 0, "waterfall");
  torch::Tensor targets =
      plotting::per_row(d.targets, "targets", rows, 0, "waterfall");

  const auto steps = steps_of(table, r, options, base);
  const double end = steps.front().from + steps.front().value;
  const double fx = outputs.defined() ? outputs[r].item<double>() : end;
  double lo = std::min({base, fx, end}), hi = std::max({base, fx, end});
  for (const auto& step : steps) {
    lo = std::min(lo, step.from);
    hi = std::max(hi, step.from);
  }

  // Layout: title, the f(x) label, the arrows, the axis with E[f(X)].
  const double s = plotting::scale_of(options);
  std::string target;
  if (targets.defined()) {
    target = plotting::output_name(
        d.output_names, static_cast<int64_t>(targets[r].item<double>()));
  }
  const std::string title =
      plotting::join_title({d.title, "row " + std::to_string(r), target});
  const double title_h = 36 * s;
  const double top = title_h + 34 * s;
  const double below = 8 * s + 24 * s + 30 * s;
  int height = 0;
  const plotting::Rows layout =
      plotting::layout_rows(static_cast<int>(steps.size()), top, below,
                            kNaturalRow * s, options, height);

  TextStyle label;
  label.size = 12 * s;
  std::vector<std::string> labels;
  for (const auto& step : steps) labels.push_back(step.label);
  const double label_w =
      plotting::label_width(labels, label, 0.45 * options.width);
  const double x0 = 12 * s + label_w + 10 * s;
  // Room on both sides for numbers beyond the arrow tips.
  const plotting::Axis axis =
      plotting::make_axis(lo, hi, x0 + 40 * s, options.width - 50 * s, 0.02);

  auto canvas = plotting::make_canvas(format, options.width, height);
  plotting::draw_title(*canvas, title, options.width, s);
  const double rows_bottom = layout.top + steps.size() * layout.height;
  const double axis_y = rows_bottom + 8 * s;
  label.align = Align::kRight;
  for (size_t i = 0; i < steps.size(); ++i) {
    const double y = layout.y(static_cast<int>(i));
    canvas->line(x0, y, axis.x1, y, plotting::kGrid, std::max(1.0, s), true);
    canvas->text(x0 - 10 * s, y,
                 plotting::fit_text(steps[i].label, label, label_w), label);
  }

  // Thin connectors from each arrow's start to the end of the one below.
  for (size_t i = 0; i + 1 < steps.size(); ++i) {
    const double x = axis.px(steps[i].from);
    canvas->line(x, layout.y(static_cast<int>(i)), x,
                 layout.y(static_cast<int>(i + 1)), plotting::kNoData,
                 std::max(1.0, 0.8 * s));
  }
  const int last = static_cast<int>(steps.size()) - 1;
  draw_mark(*canvas, axis.px(fx), layout.top - 8 * s, layout.y(0),
            layout.top - 18 * s, "f(x) = " + plotting::format_number(fx), s);
  draw_mark(*canvas, axis.px(base), layout.y(last), axis_y, axis_y + 42 * s,
            "E[f(X)] = " + plotting::format_number(base), s);
  for (size_t i = 0; i < steps.size(); ++i) {
    draw_arrow(*canvas, steps[i], axis, layout.y(static_cast<int>(i)),
               0.66 * layout.height, s);
  }
  plotting::draw_x_axis(*canvas, axis, axis_y, s, "");
  plotting::save(*canvas, path, "waterfall", options.width, height);
}

}  // namespace xai
