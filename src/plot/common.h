// Steps shared by the plots: checking the input, ranking features, number
// formatting, axes, and writing the file. Internal to libxai.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "plot/canvas.h"
#include "xai/plot/plot.h"

namespace xai::plotting {

// Throws InvalidArgument "cannot plot <kind>: <why>".
[[noreturn]] void refuse(const std::string& kind, const std::string& why);

// Throws InvalidArgument naming the first option out of range.
void check_options(const PlotOptions& options);

// Text and margins scale with the figure width: width / 800.
double scale_of(const PlotOptions& options);

// The attributions as a table of features, for beeswarm, bar and waterfall.
struct Table {
  torch::Tensor values;  // [rows, features], float64, CPU
  torch::Tensor data;    // [rows, features], float64, CPU; may be undefined
  std::vector<std::string> names;  // one per feature
};

// Checks `d` for a feature plot of `kind` and flattens each row.
Table feature_table(const PlotData& d, const std::string& kind);

// Checks that `t` (may be undefined) is [rows] or, with a target axis,
// [rows, targets]; returns it as float64 on the CPU.
torch::Tensor per_row(const torch::Tensor& t, const char* name, int64_t rows,
                      int64_t targets, const std::string& kind);

// The features drawn as rows: the `top` ones by importance, largest first,
// and a last row summing the `others` when there are more than
// max_features (max_features - 1 top ones then; all of them when
// max_features is 1, without the sum).
struct Selection {
  std::vector<int64_t> top;
  int64_t others = 0;
  // The summed row's label, "Sum of N other features"; empty when none.
  std::string others_label() const;
};
Selection select_features(const torch::Tensor& importance, int max_features);

// The values of the unselected features summed per row: [rows].
torch::Tensor others_sum(const torch::Tensor& values, const Selection& sel);

// The name of output `index` from `names`, or "output <index>".
std::string output_name(const std::vector<std::string>& names, int64_t index);

// "output <name>" when every element of `targets` (may be undefined) is the
// same output, "each row's own output" when they differ, "" when undefined.
std::string describe_targets(const torch::Tensor& targets,
                             const std::vector<std::string>& names);

// The non-empty parts joined by ", ".
std::string join_title(const std::vector<std::string>& parts);

// Vertical layout of plots with one horizontal row per feature.
struct Rows {
  double top = 0;     // y of the first row's top edge
  double height = 0;  // of one row
  double y(int i) const { return top + (i + 0.5) * height; }
};

// Rows of `count` under `top`: `natural` high each when options.height is
// 0 (the figure height then becomes top + rows + `below`), else shared
// out of what the fixed height leaves. Sets `figure_height`.
Rows layout_rows(int count, double top, double below, double natural,
                 const PlotOptions& options, int& figure_height);

// The width of the widest of `labels` in `style`, at most `limit`.
double label_width(const std::vector<std::string>& labels,
                   const TextStyle& style, double limit);

// "feature i", "pixel (c,h,w)" or "feature (i,j,...)" for every element of
// a row of shape `row_shape`, in row-major order.
std::vector<std::string> default_names(c10::IntArrayRef row_shape);

// The indices of the features with the largest `importance` [features],
// largest first, at most `keep`; ties keep the feature order.
std::vector<int64_t> top_features(const torch::Tensor& importance,
                                  int64_t keep);

// `v` with about `digits` significant digits, without trailing zeros, in
// exponent notation only when very large or small: 17.99, 0.1184, 1001,
// 2.5e-05. With `sign`, positive numbers get a "+".
std::string format_number(double v, int digits = 4, bool sign = false);

// A horizontal value axis mapping [lo, hi] onto pixels [x0, x1].
struct Axis {
  double lo = 0, hi = 1;
  double x0 = 0, x1 = 1;
  double px(double v) const { return x0 + (v - lo) / (hi - lo) * (x1 - x0); }
};

// An axis over [lo, hi] widened by `pad` of its span on each side (and to a
// nonzero span when lo == hi).
Axis make_axis(double lo, double hi, double x0, double x1, double pad);

// Round tick values (1, 2 or 5 times a power of ten apart) within [lo, hi],
// about `count` of them.
std::vector<double> nice_ticks(double lo, double hi, int count);

// Labels for `ticks`, all with the same number of decimals.
std::vector<std::string> tick_labels(const std::vector<double>& ticks);

// Draws the axis line at height y with ticks, numbers below it, and
// `label` under the numbers. Returns the height used below y.
double draw_x_axis(Canvas& canvas, const Axis& axis, double y, double s,
                   const std::string& label);

// The title above a plot; returns the height used (0 when empty).
double draw_title(Canvas& canvas, const std::string& title, double width,
                  double s);

// Writes the canvas to `path` atomically and logs it.
void save(Canvas& canvas, const std::string& path, const std::string& kind,
          int width, int height);

}  // namespace xai::plotting
