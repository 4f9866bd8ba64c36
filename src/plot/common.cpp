#include "plot/common.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "xai/error.h"
#include "xai/io/file.h"

namespace xai::plotting {

void refuse(const std::string& kind, const std::string& why) {
  throw InvalidArgument("cannot plot " + kind + ": " + why);
}

void check_options(const PlotOptions& o) {
  auto bad = [](const std::string& name, const std::string& value,
                const std::string& rule) {
    throw InvalidArgument("invalid plot option " + name + ": " + value +
                          " (" + rule + ")");
  };
  if (o.width < 200 || o.width > 10000) {
    bad("width", std::to_string(o.width), "use 200 to 10000");
  }
  if (o.height != 0 && (o.height < 100 || o.height > 10000)) {
    bad("height", std::to_string(o.height), "use 0 for auto, or 100 to 10000");
  }
  if (o.max_features < 1) {
    bad("max_features", std::to_string(o.max_features), "use 1 or more");
  }
  if (o.row < 0) bad("row", std::to_string(o.row), "use 0 or more");
  if (o.max_images < 1) {
    bad("max_images", std::to_string(o.max_images), "use 1 or more");
  }
  if (!(o.clip_percentile > 0 && o.clip_percentile <= 100)) {
    bad("clip_percentile", format_number(o.clip_percentile),
        "use more than 0 and at most 100");
  }
}

double scale_of(const PlotOptions& options) { return options.width / 800.0; }

namespace {

bool all_finite(const torch::Tensor& t) {
  return t.numel() == 0 || t.isfinite().all().item<bool>();
}

std::string shape_of(const torch::Tensor& t) { return c10::str(t.sizes()); }

}  // namespace

Table feature_table(const PlotData& d, const std::string& kind) {
  if (!d.values.defined() || d.values.dim() < 2) {
    refuse(kind, "values must have shape [rows, features...], got " +
                     (d.values.defined() ? shape_of(d.values)
                                         : std::string("an undefined tensor")));
  }
  if (d.target_axis) {
    refuse(kind, "values hold " + std::to_string(d.values.size(1)) +
                     " targets per row; pick one target");
  }
  const int64_t rows = d.values.size(0);
  if (rows == 0 || d.values.numel() == 0) {
    refuse(kind, "values of shape " + shape_of(d.values) + " are empty");
  }
  const int64_t features = d.values.numel() / rows;

  Table table;
  table.values = d.values.detach().to(torch::kCPU, torch::kFloat64)
                     .reshape({rows, features})
                     .contiguous();
  if (!all_finite(table.values)) {
    refuse(kind, "values contain NaN or infinity");
  }
  if (d.data.defined()) {
    if (d.data.sizes() != d.values.sizes()) {
      refuse(kind, "data has shape " + shape_of(d.data) + " and values " +
                       shape_of(d.values) + "; they must agree");
    }
    table.data = d.data.detach().to(torch::kCPU, torch::kFloat64)
                     .reshape({rows, features})
                     .contiguous();
    if (!all_finite(table.data)) {
      refuse(kind, "data contain NaN or infinity");
    }
  }

  const auto named = static_cast<int64_t>(d.feature_names.size());
  if (named == 0) {
    table.names = default_names(d.values.sizes().slice(1));
  } else if (named == features) {
    table.names = d.feature_names;
  } else {
    refuse(kind, std::to_string(named) + " feature names for " +
                     std::to_string(features) + " features");
  }
  return table;
}

torch::Tensor per_row(const torch::Tensor& t, const char* name, int64_t rows,
                      int64_t targets, const std::string& kind) {
  if (!t.defined()) return t;
  std::vector<int64_t> expected = {rows};
  if (targets > 0) expected.push_back(targets);
  if (t.sizes() != c10::IntArrayRef(expected)) {
    refuse(kind, std::string(name) + " has shape " + shape_of(t) +
                     ", expected " + c10::str(c10::IntArrayRef(expected)));
  }
  torch::Tensor out = t.detach().to(torch::kCPU, torch::kFloat64);
  if (!all_finite(out)) {
    refuse(kind, std::string(name) + " contain NaN or infinity");
  }
  return out;
}

std::vector<std::string> default_names(c10::IntArrayRef row_shape) {
  const int64_t count = c10::multiply_integers(row_shape);
  std::vector<std::string> names;
  names.reserve(count);
  for (int64_t flat = 0; flat < count; ++flat) {
    if (row_shape.size() == 1) {
      names.push_back("feature " + std::to_string(flat));
      continue;
    }
    std::vector<int64_t> index(row_shape.size());
    int64_t rest = flat;
    for (size_t d = row_shape.size(); d-- > 0;) {
      index[d] = rest % row_shape[d];
      rest /= row_shape[d];
    }
    std::string text = row_shape.size() == 3 ? "pixel (" : "feature (";
    for (size_t d = 0; d < index.size(); ++d) {
      text += (d ? "," : "") + std::to_string(index[d]);
    }
    names.push_back(text + ")");
  }
  return names;
}

std::vector<int64_t> top_features(const torch::Tensor& importance,
                                  int64_t keep) {
  torch::Tensor imp = importance.to(torch::kFloat64).contiguous();
  const double* v = imp.data_ptr<double>();
  std::vector<int64_t> order(imp.numel());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [v](int64_t a, int64_t b) { return v[a] > v[b]; });
  if (static_cast<int64_t>(order.size()) > keep) order.resize(keep);
  return order;
}

std::string Selection::others_label() const {
  if (others == 0) return "";
  return "Sum of " + std::to_string(others) + " other feature" +
         (others == 1 ? "" : "s");
}

Selection select_features(const torch::Tensor& importance, int max_features) {
  const int64_t features = importance.numel();
  Selection sel;
  if (features <= max_features || max_features == 1) {
    sel.top = top_features(importance, max_features);
  } else {
    sel.top = top_features(importance, max_features - 1);
  }
  if (max_features > 1) {
    sel.others = features - static_cast<int64_t>(sel.top.size());
  }
  return sel;
}

torch::Tensor others_sum(const torch::Tensor& values, const Selection& sel) {
  auto index = torch::tensor(sel.top, torch::kInt64);
  return values.sum(1) - values.index_select(1, index).sum(1);
}

std::string output_name(const std::vector<std::string>& names, int64_t index) {
  if (index >= 0 && index < static_cast<int64_t>(names.size()) &&
      !names[index].empty()) {
    return names[index];
  }
  return "output " + std::to_string(index);
}

std::string describe_targets(const torch::Tensor& targets,
                             const std::vector<std::string>& names) {
  if (!targets.defined() || targets.numel() == 0) return "";
  torch::Tensor t = targets.to(torch::kInt64);
  int64_t first = t.min().item<int64_t>();
  if (first != t.max().item<int64_t>()) return "each row's own output";
  std::string name = output_name(names, first);
  return name.rfind("output", 0) == 0 ? name : "output " + name;
}

std::string join_title(const std::vector<std::string>& parts) {
  std::string text;
  for (const auto& part : parts) {
    if (part.empty()) continue;
    text += (text.empty() ? "" : ", ") + part;
  }
  return text;
}

Rows layout_rows(int count, double top, double below, double natural,
                 const PlotOptions& options, int& figure_height) {
  Rows rows;
  rows.top = top;
  if (options.height == 0) {
    rows.height = natural;
    figure_height = static_cast<int>(std::ceil(top + count * natural + below));
  } else {
    figure_height = options.height;
    rows.height = std::max(4.0, (options.height - top - below) / count);
  }
  return rows;
}

double label_width(const std::vector<std::string>& labels,
                   const TextStyle& style, double limit) {
  double widest = 0;
  for (const auto& label : labels) {
    widest = std::max(widest, text_width(label, style));
  }
  return std::min(widest, limit);
}

namespace {

void trim_zeros(std::string& text) {
  if (text.find('.') == std::string::npos) return;
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
}

}  // namespace

std::string format_number(double v, int digits, bool sign) {
  if (v == 0 || !std::isfinite(v)) {
    return v == 0 ? "0" : std::to_string(v);
  }
  char buffer[64];
  std::string text;
  const double a = std::fabs(v);
  if (a >= 1e6 || a < 1e-3) {
    std::snprintf(buffer, sizeof(buffer), "%.*e", digits - 1, v);
    text = buffer;
    auto e = text.find('e');
    std::string mantissa = text.substr(0, e);
    trim_zeros(mantissa);
    text = mantissa + text.substr(e);
  } else {
    int magnitude = static_cast<int>(std::floor(std::log10(a)));
    int decimals = std::max(0, digits - 1 - magnitude);
    std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, v);
    text = buffer;
    trim_zeros(text);
  }
  if (text == "-0") text = "0";
  if (sign && v > 0 && text != "0") text = "+" + text;
  return text;
}

Axis make_axis(double lo, double hi, double x0, double x1, double pad) {
  if (hi - lo <= 0) {
    double half = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= half;
    hi += half;
  }
  double extra = (hi - lo) * pad;
  return {lo - extra, hi + extra, x0, x1};
}

std::vector<double> nice_ticks(double lo, double hi, int count) {
  const double raw = (hi - lo) / std::max(1, count);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  const double step = magnitude * (norm < 1.5 ? 1 : norm < 3 ? 2
                                               : norm < 7 ? 5
                                                          : 10);
  std::vector<double> ticks;
  for (double i = std::ceil(lo / step - 1e-9); i * step <= hi + step * 1e-9;
       i += 1) {
    double v = i * step;
    ticks.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  }
  return ticks;
}

std::vector<std::string> tick_labels(const std::vector<double>& ticks) {
  std::vector<std::string> labels;
  if (ticks.empty()) return labels;
  double step = ticks.size() > 1 ? ticks[1] - ticks[0] : std::fabs(ticks[0]);
  double largest = 0;
  for (double t : ticks) largest = std::max(largest, std::fabs(t));
  const bool exponent = largest >= 1e6 || (step > 0 && step < 1e-4);
  int decimals = 0;
  if (step > 0) {
    decimals = std::max(0, -static_cast<int>(std::floor(std::log10(step) +
                                                        1e-9)));
  }
  for (double t : ticks) {
    if (exponent) {
      labels.push_back(format_number(t, 3));
      continue;
    }
    char buffer[64];
    std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, t);
    labels.push_back(buffer);
  }
  return labels;
}

double draw_x_axis(Canvas& canvas, const Axis& axis, double y, double s,
                   const std::string& label) {
  canvas.line(axis.x0, y, axis.x1, y, kAxis, std::max(1.0, s));
  TextStyle numbers;
  numbers.size = 11 * s;
  numbers.align = Align::kCenter;
  auto ticks = nice_ticks(axis.lo, axis.hi, 6);
  auto labels = tick_labels(ticks);
  for (size_t i = 0; i < ticks.size(); ++i) {
    double x = axis.px(ticks[i]);
    canvas.line(x, y, x, y + 5 * s, kAxis, std::max(1.0, s));
    canvas.text(x, y + 14 * s, labels[i], numbers);
  }
  if (label.empty()) return 24 * s;

  TextStyle caption;
  caption.size = 12 * s;
  caption.align = Align::kCenter;
  canvas.text((axis.x0 + axis.x1) / 2, y + 34 * s, label, caption);
  return 46 * s;
}

double draw_title(Canvas& canvas, const std::string& title, double width,
                  double s) {
  if (title.empty()) return 0;
  TextStyle style;
  style.size = 15 * s;
  style.bold = true;
  style.align = Align::kCenter;
  canvas.text(width / 2, 20 * s, fit_text(title, style, width - 20 * s),
              style);
  return 36 * s;
}

void save(Canvas& canvas, const std::string& path, const std::string& kind,
          int width, int height) {
  write_file_atomic(path, canvas.finish());
  spdlog::debug("wrote {} plot {} ({}x{})", kind, path, width, height);
}

}  // namespace xai::plotting
