// Images beside signed heat maps of their attributions.

#include <algorithm>
#include <cmath>

#include "plot/common.h"

namespace xai {
namespace {

using plotting::Align;
using plotting::Color;
using plotting::Pixels;
using plotting::TextStyle;

const std::string kKind = "image";

// How much of the input shows through under a heat map.
constexpr double kFade = 0.3;

// The inputs of the drawn rows as [n, 3, height, width] intensities in
// [0, 1]: RGB for 3 channels, else the channel mean repeated. Each image
// already in [0, 1] is kept as it is; others are stretched to it.
torch::Tensor pictures(const torch::Tensor& data) {
  torch::Tensor x =
      data.size(1) == 3 ? data : data.mean(1, true).expand({-1, 3, -1, -1});
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < x.size(0); ++i) {
    torch::Tensor image = x[i];
    const double lo = image.min().item<double>();
    const double hi = image.max().item<double>();
    if (lo < 0 || hi > 1) {
      image = hi > lo ? (image - lo) / (hi - lo) : torch::zeros_like(image);
    }
    out.push_back(image);
  }
  return torch::stack(out).contiguous();
}

uint8_t byte(double v) {
  return static_cast<uint8_t>(std::lround(std::clamp(v, 0.0, 1.0) * 255));
}

Pixels input_pixels(const torch::Tensor& rgb) {  // [3, H, W]
  Pixels p{static_cast<int>(rgb.size(2)), static_cast<int>(rgb.size(1)), {}};
  auto a = rgb.accessor<double, 3>();
  for (int y = 0; y < p.height; ++y) {
    for (int x = 0; x < p.width; ++x) {
      p.rgba.insert(p.rgba.end(), {byte(a[0][y][x]), byte(a[1][y][x]),
                                   byte(a[2][y][x]), 255});
    }
  }
  return p;
}

// The heat map [H, W] over a faded grayscale copy of `rgb` [3, H, W] (may
// be undefined: white): red for positive, blue for negative, opaque from
// |value| >= clip on.
Pixels heat_pixels(const torch::Tensor& heat, const torch::Tensor& rgb,
                   double clip) {
  Pixels p{static_cast<int>(heat.size(1)), static_cast<int>(heat.size(0)), {}};
  auto h = heat.accessor<double, 2>();
  torch::Tensor gray = rgb.defined()
                           ? (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])
                           : torch::ones_like(heat);
  gray = gray.contiguous();
  auto g = gray.accessor<double, 2>();
  for (int y = 0; y < p.height; ++y) {
    for (int x = 0; x < p.width; ++x) {
      double faded = 1 - kFade + kFade * g[y][x];
      double t = std::clamp(h[y][x] / clip, -1.0, 1.0);
      Color c =
          Color::mix({faded, faded, faded, 1},
                     t >= 0 ? plotting::kRed : plotting::kBlue, std::fabs(t));
      p.rgba.insert(p.rgba.end(), {byte(c.r), byte(c.g), byte(c.b), 255});
    }
  }
  return p;
}

// The percentile (in (0, 100]) of |heat| by nearest rank; 1 when all are 0.
double clip_value(const torch::Tensor& heat, double percentile) {
  torch::Tensor sorted = std::get<0>(heat.abs().flatten().sort());
  const int64_t n = sorted.numel();
  int64_t rank = static_cast<int64_t>(std::ceil(percentile / 100 * n)) - 1;
  double clip = sorted[std::clamp<int64_t>(rank, 0, n - 1)].item<double>();
  if (clip <= 0) clip = sorted[n - 1].item<double>();
  return clip > 0 ? clip : 1.0;
}

// The values as [rows, T, C, H, W], float64 on the CPU.
torch::Tensor image_values(const PlotData& d) {
  const int64_t lead = d.target_axis ? 2 : 1;
  if (!d.values.defined() || d.values.dim() < lead + 2 ||
      d.values.dim() > lead + 3) {
    plotting::refuse(kKind,
                     "values have shape " +
                         (d.values.defined() ? c10::str(d.values.sizes())
                                             : std::string("undefined")) +
                         "; an image plot needs " +
                         (d.target_axis ? "[rows, targets, channels, height, "
                                          "width] or [rows, targets, height, "
                                          "width]"
                                        : "[rows, channels, height, width] or "
                                          "[rows, height, width]"));
  }
  if (d.values.numel() == 0) {
    plotting::refuse(
        kKind, "values of shape " + c10::str(d.values.sizes()) + " are empty");
  }
  torch::Tensor v = d.values.detach().to(torch::kCPU, torch::kFloat64);
  if (!d.target_axis) v = v.unsqueeze(1);
  if (v.dim() == 4) v = v.unsqueeze(2);
  if (!v.isfinite().all().item<bool>()) {
    plotting::refuse(kKind, "values contain NaN or infinity");
  }
  return v;
}

// The data as [rows, C, H, W], float64 on the CPU; undefined when absent.
torch::Tensor image_data(const PlotData& d, const torch::Tensor& v) {
  if (!d.data.defined()) return {};
  std::vector<int64_t> expected = {v.size(0)};
  auto row = d.values.sizes().slice(d.target_axis ? 2 : 1);
  expected.insert(expected.end(), row.begin(), row.end());
  if (d.data.sizes() != c10::IntArrayRef(expected)) {
    plotting::refuse(kKind, "data has shape " + c10::str(d.data.sizes()) +
                                ", expected " +
                                c10::str(c10::IntArrayRef(expected)));
  }
  torch::Tensor x = d.data.detach().to(torch::kCPU, torch::kFloat64);
  if (x.dim() == 3) x = x.unsqueeze(1);
  if (!x.isfinite().all().item<bool>()) {
    plotting::refuse(kKind, "data contain NaN or infinity");
  }
  return x;
}

// The label above a heat map: as much of "name, f(x) = 5.77" as fits.
std::string heat_label(const std::string& name, const torch::Tensor& outputs,
                       int64_t row, int64_t t, const TextStyle& style,
                       double width) {
  if (!outputs.defined()) return plotting::fit_text(name, style, width);
  const double out = outputs.dim() == 2 ? outputs[row][t].item<double>()
                                        : outputs[row].item<double>();
  const std::string value = plotting::format_number(out, 3);
  for (const std::string& text :
       {name + ", f(x) = " + value, name + ": " + value}) {
    if (plotting::text_width(text, style) <= width) return text;
  }
  return plotting::fit_text(name, style, width);
}

void draw_color_bar(plotting::Canvas& canvas, double width, double y,
                    double clip, double percentile, double s) {
  const double bar_w = std::min(0.6 * width, 360 * s);
  const double x0 = (width - bar_w) / 2;
  const double bar_h = 10 * s;
  canvas.gradient(x0, y, bar_w, bar_h,
                  {plotting::kBlue, plotting::kWhite, plotting::kRed}, false);

  TextStyle numbers;
  numbers.size = 11 * s;
  numbers.align = Align::kCenter;
  const plotting::Axis axis{-clip, clip, x0, x0 + bar_w};
  const auto ticks = plotting::nice_ticks(-clip, clip, 4);
  const auto labels = plotting::tick_labels(ticks);
  for (size_t i = 0; i < ticks.size(); ++i) {
    const double x = axis.px(ticks[i]);
    canvas.line(x, y + bar_h, x, y + bar_h + 4 * s, plotting::kAxis,
                std::max(1.0, s));
    canvas.text(x, y + bar_h + 13 * s, labels[i], numbers);
  }
  TextStyle caption;
  caption.size = 12 * s;
  caption.align = Align::kCenter;
  canvas.text(width / 2, y + bar_h + 32 * s,
              "attribution (saturates at percentile " +
                  plotting::format_number(percentile) + " of |value|, " +
                  plotting::format_number(clip, 3) + ")",
              caption);
}

}  // namespace

void plot_image(const PlotData& d, const PlotOptions& options,
                const std::string& path) {
  plotting::check_options(options);
  const plotting::Format format = plotting::format_of(path);
  const torch::Tensor v = image_values(d);  // [rows, T, C, H, W]
  const torch::Tensor x = image_data(d, v);
  const int64_t rows = v.size(0), targets = v.size(1);
  if (options.row >= rows) {
    plotting::refuse(kKind, "row " + std::to_string(options.row) +
                                " is out of range for " + std::to_string(rows) +
                                " rows");
  }
  const int64_t tcount = d.target_axis ? targets : 0;
  const torch::Tensor target_ids =
      plotting::per_row(d.targets, "targets", rows, tcount, kKind);
  const torch::Tensor outputs =
      plotting::per_row(d.outputs, "outputs", rows, tcount, kKind);

  const int64_t r0 = options.row;
  const int64_t n = std::min<int64_t>(options.max_images, rows - r0);
  const torch::Tensor heat = v.slice(0, r0, r0 + n).sum(2).contiguous();
  const torch::Tensor rgb =
      x.defined() ? pictures(x.slice(0, r0, r0 + n)) : torch::Tensor();
  const double clip = clip_value(heat, options.clip_percentile);

  // Layout: a grid of n rows by 1 + T panels, each with a label above it,
  // then the colour bar.
  const double s = plotting::scale_of(options);
  const double width = options.width;
  const int64_t cols = 1 + targets;
  const double margin = 10 * s, gap = 8 * s;
  const double aspect = double(v.size(3)) / v.size(4);  // height / width
  double panel_w = (width - 2 * margin - (cols - 1) * gap) / cols;
  const std::string title = d.title;
  const double title_h = title.empty() ? 8 * s : 36 * s;
  const double bar_h = 76 * s;
  auto label_size = [&](double w) {
    return std::min(12 * s, std::max(7.0, 0.11 * w));
  };
  auto row_h = [&](double w) { return 2 * label_size(w) + w * aspect + gap; };
  int height = options.height;
  if (height == 0) {
    height = static_cast<int>(
        std::ceil(title_h + n * row_h(panel_w) + bar_h + margin));
  } else {
    const double room = (height - title_h - bar_h - margin) / n;
    while (panel_w > 4 && row_h(panel_w) > room) panel_w *= 0.95;
  }
  const double panel_h = panel_w * aspect;
  const double grid_w = cols * panel_w + (cols - 1) * gap;
  const double left = (width - grid_w) / 2;

  auto canvas = plotting::make_canvas(format, options.width, height);
  plotting::draw_title(*canvas, title, width, s);
  TextStyle label;
  label.size = label_size(panel_w);
  label.align = Align::kCenter;
  double y = title_h;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t row = r0 + i;
    const double image_y = y + 2 * label.size;
    canvas->text(left + panel_w / 2, y + label.size,
                 "row " + std::to_string(row), label);
    if (rgb.defined()) {
      canvas->image(left, image_y, panel_w, panel_h, input_pixels(rgb[i]));
    } else {
      canvas->rect(left, image_y, panel_w, panel_h, plotting::kGrid);
    }
    for (int64_t t = 0; t < targets; ++t) {
      const double px = left + (t + 1) * (panel_w + gap);
      std::string name;
      if (target_ids.defined()) {
        const double id = target_ids.dim() == 2
                              ? target_ids[row][t].item<double>()
                              : target_ids[row].item<double>();
        name = plotting::output_name(d.output_names, static_cast<int64_t>(id));
      } else {
        name = targets > 1 ? "target " + std::to_string(t) : "attribution";
      }
      canvas->text(px + panel_w / 2, y + label.size,
                   heat_label(name, outputs, row, t, label, panel_w), label);
      canvas->image(
          px, image_y, panel_w, panel_h,
          heat_pixels(heat[i][t], rgb.defined() ? rgb[i] : torch::Tensor(),
                      clip));
    }
    y += row_h(panel_w);
  }
  draw_color_bar(*canvas, width, y + 8 * s, clip, options.clip_percentile, s);
  plotting::save(*canvas, path, kKind, options.width, height);
}

}  // namespace xai
