// Plots of attributions in the style of SHAP, written as PNG or SVG.
//
// Four kinds: a beeswarm summary and a bar chart of mean |value| over rows,
// a waterfall of one row from the base value to f(x), and images beside a
// signed heat map of their attributions. Positive attributions are drawn in
// red (#ff0051), negative ones in blue (#008bfb).
//
// Every plot_*() function picks the format from the extension of `path`
// (.png or .svg, any case), draws the whole figure in memory and then
// replaces `path` atomically (xai::write_file_atomic), so readers never see
// a half-written file. PNG files are drawn with Cairo; SVG files keep every
// label as a <text> element, so names and numbers can be searched and
// copied. Text uses the DejaVu Sans font (Debian: fonts-dejavu-core); PNG
// labels are missing when no font is installed.
//
// Errors: InvalidArgument for an unsupported extension ("cannot write plot
// x.jpg: unsupported format (use .png or .svg)"), bad options or data that
// does not fit the plot; IoError when the file cannot be written (the
// directory must exist).
//
// Thread safety: the functions share no state; concurrent calls writing
// different paths are safe.
#pragma once

#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace xai {

// What a plot draws: the attributions of `rows` input rows of shape S for
// one target per row, or for T targets per row when `target_axis` is set.
// Tensors may be of any floating dtype and on any device; they are copied to
// the CPU as float64 and not modified.
struct PlotData {
  // [rows, ...S], or [rows, T, ...S] when target_axis. The beeswarm, bar
  // and waterfall plots read each row as a flat list of features (S of any
  // rank) and need target_axis false; image plots need S = [channels,
  // height, width] with 1 or 3 channels (3: RGB), or S = [height, width].
  torch::Tensor values;

  // The explained inputs, [rows, ...S]; may be undefined. Colours the
  // beeswarm dots, labels the waterfall and is the picture of image plots
  // (read as intensities in [0, 1]; other ranges are rescaled per image).
  torch::Tensor data;

  // One name per feature (the product of S); may be empty, giving
  // "feature i" for rank-1 rows, "pixel (c,h,w)" for rank 3 and
  // "feature (i,j,...)" otherwise.
  std::vector<std::string> feature_names;

  // The model output that the attributions start from (E[f(X)]) and the
  // explained output f(x): [rows], or [rows, T] when target_axis. Both may
  // be undefined; the waterfall needs base_values and, without outputs,
  // ends at base value + sum of the values.
  torch::Tensor base_values;
  torch::Tensor outputs;

  // The explained output index of each value, [rows] or [rows, T], int64;
  // may be undefined. With output_names (indexed by output; may be empty),
  // labels the heat maps of image plots and the waterfall.
  torch::Tensor targets;
  std::vector<std::string> output_names;

  bool target_axis = false;  // see values
  std::string title;         // drawn above the plot; may be empty
};

// How a plot is drawn. Checked by every plot_*() call; a bad value throws
// InvalidArgument naming the option and the value.
struct PlotOptions {
  // Figure width in pixels (SVG: user units), 200 to 10000. Text and
  // margins scale with width / 800. Default 800.
  int width = 800;

  // Figure height in pixels, 0 or 100 to 10000. 0 (the default) picks the
  // height that fits the content: one row per feature, one row of panels
  // per image.
  int height = 0;

  // Beeswarm, bar and waterfall: the most features drawn, at least 1. The
  // features with the largest mean |value| (waterfall: |value| of the row)
  // come first; when there are more, the rest are summed into one last
  // "Sum of N other features" row. Default 20.
  int max_features = 20;

  // Waterfall: the row drawn. Image plots: the first row drawn. Must be a
  // row of the data. Default 0.
  int64_t row = 0;

  // Image plots: the most rows drawn, from `row` on, at least 1. Default 8.
  int max_images = 8;

  // Image plots: the colour scale is symmetric and saturates at this
  // percentile of |value| over all drawn heat maps, so that a few outliers
  // do not wash out the rest; in (0, 100]. Default 99.5.
  double clip_percentile = 99.5;
};

// "PlotOptions(width=800, height=auto, max_features=20, row=0,
// max_images=8, clip_percentile=99.5)".
std::string to_string(const PlotOptions& options);

// One row per feature, the features sorted by mean |value| over rows (the
// largest on top); each row is a dot per input row at its attribution,
// spread vertically where dots pile up, coloured from blue (low feature
// value) to red (high) by the feature's value relative to its 5th and 95th
// percentile (grey without data). Needs values [rows, ...S] (target_axis
// false).
void plot_beeswarm(const PlotData& data, const PlotOptions& options,
                   const std::string& path);

// One horizontal bar per feature: mean |value| over rows, sorted, with the
// number at the end of each bar. Needs target_axis false.
void plot_bar(const PlotData& data, const PlotOptions& options,
              const std::string& path);

// The attributions of row options.row as arrows that add up from the base
// value E[f(X)] at the bottom to f(x) at the top, the largest |value| on
// top; each labelled "name = feature value" on the left and with its signed
// contribution. Needs base_values and target_axis false.
void plot_waterfall(const PlotData& data, const PlotOptions& options,
                    const std::string& path);

// One row of panels per image, for rows options.row to options.row +
// options.max_images - 1 (fewer when the data ends): the input at left
// (grayscale, or RGB for 3 channels; blank without data), then for each
// target a heat map of the attributions summed over channels, over a faded
// grayscale copy of the input: red where positive, blue where negative,
// opaque at the clip value (options.clip_percentile). A colour bar with the
// scale's numbers runs along the bottom.
void plot_image(const PlotData& data, const PlotOptions& options,
                const std::string& path);

// Named series of y values over shared x values, such as accuracy
// against eps.
struct CurveData {
  std::vector<double> x;
  // One (name, y values) pair per series; each holds one y per x.
  std::vector<std::pair<std::string, std::vector<double>>> series;
  std::string x_label;
  std::string y_label;
  std::string title;  // may be empty
  // A fixed y range, widened to fit the data; NaN (the default) fits the
  // data alone.
  double y_lo = std::nan("");
  double y_hi = std::nan("");
};

// Each series as a line with a dot per point, in its own colour, with a
// legend, horizontal guides and both axes' numbers. options.width sets the
// width; height 0 means 0.62 of it. Needs at least one point and one
// series, and finite values.
void plot_curve(const CurveData& data, const PlotOptions& options,
                const std::string& path);

enum class PlotKind { kBeeswarm, kBar, kWaterfall, kImage };

// "beeswarm", "bar", "waterfall" or "image" as a PlotKind. Throws
// InvalidArgument "unknown plot kind 'x' (use beeswarm, bar, waterfall or
// image)".
PlotKind plot_kind_from_string(const std::string& name);
std::string to_string(PlotKind kind);

// Calls the plot_*() function of `kind`.
void plot(PlotKind kind, const PlotData& data, const PlotOptions& options,
          const std::string& path);

// Passed as target_column to keep every target of an explanation of all
// targets (PlotData::target_axis set); for image plots.
constexpr int64_t kAllTargets = -1;

// Reads an explanation.json written by xai::write_explanation(). Its values
// are [rows, ...S] for one target per row, or [rows, ...S, T] when every
// target was explained; then `target_column` picks one target (0 to T-1),
// or kAllTargets keeps all of them as values [rows, T, ...S]. For one
// target per row, target_column must be 0 or kAllTargets. The title names
// the method and the target ("deepshap, output 1"). Tensors are float64 and
// int64 on the CPU.
//
// Throws IoError when the file cannot be read, and InvalidArgument
// "cannot read explanation <path>: <why>" when it is not JSON, a field is
// missing or of the wrong type or shape, or target_column is out of range.
PlotData plot_data_from_explanation(const std::string& json_path,
                                    int64_t target_column = 0);

}  // namespace xai
