#include "xai/io/explanation.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xai/error.h"
#include "xai/io/file.h"
#include "xai/io/npy.h"
#include "xai/version.h"

namespace xai {
namespace {

using Json = nlohmann::ordered_json;

[[noreturn]] void refuse(const std::string& why) {
  throw InvalidArgument("cannot write explanation: " + why);
}

// The tensors of an Attribution in the layout that is written.
struct Layout {
  torch::Tensor values;  // [rows, ...S] or [rows, ...S, T]
  torch::Tensor errors;  // like values; undefined without standard errors
  torch::Tensor targets, outputs, base_values, gap;  // [rows] or [rows, T]
  int64_t num_outputs = 0;
};

void check_shape(const torch::Tensor& t, const char* name, int64_t rows,
                 int64_t targets) {
  if (!t.defined()) refuse(std::string(name) + " is undefined");
  if (t.dim() != 2 || t.size(0) != rows || t.size(1) != targets) {
    refuse(std::string(name) + " has shape " + c10::str(t.sizes()) +
           ", expected [" + std::to_string(rows) + ", " +
           std::to_string(targets) + "]");
  }
}

void check_finite(const torch::Tensor& t, const char* name) {
  if (!t.defined() || !t.is_floating_point() || t.numel() == 0) return;
  auto bad = t.isfinite().logical_not().reshape({t.size(0), -1}).any(1);
  auto rows = bad.nonzero();
  if (rows.size(0) > 0) {
    refuse("NaN or infinity in " + std::string(name) + " at row index " +
           std::to_string(rows[0][0].item<int64_t>()));
  }
}

int64_t count_outputs(const ExplanationMeta& meta,
                      const torch::Tensor& targets) {
  const auto named = static_cast<int64_t>(meta.output_names.size());
  if (meta.num_outputs < 0) {
    refuse("num_outputs is " + std::to_string(meta.num_outputs));
  }
  if (named > 0 && meta.num_outputs > 0 && named != meta.num_outputs) {
    refuse(std::to_string(named) + " output names for " +
           std::to_string(meta.num_outputs) + " outputs");
  }
  int64_t outputs = meta.num_outputs > 0 ? meta.num_outputs : named;
  if (outputs == 0 && targets.numel() > 0) {
    outputs = targets.max().item<int64_t>() + 1;
  }

  if (targets.numel() > 0) {
    int64_t low = targets.min().item<int64_t>();
    int64_t high = targets.max().item<int64_t>();
    if (low < 0 || high >= outputs) {
      refuse("target " + std::to_string(low < 0 ? low : high) +
             " is out of range for a model with " + std::to_string(outputs) +
             " outputs");
    }
  }
  return outputs;
}

Layout arrange(const Attribution& a, const ExplanationMeta& meta) {
  if (!a.values.defined() || a.values.dim() < 2) {
    refuse("values must have shape [rows, targets, ...], got " +
           (a.values.defined() ? c10::str(a.values.sizes())
                               : std::string("an undefined tensor")));
  }
  const int64_t rows = a.values.size(0);
  const int64_t targets = a.values.size(1);
  if (!meta.all_targets && targets != 1) {
    refuse("values hold " + std::to_string(targets) +
           " targets per row; one target per row is needed unless "
           "all_targets is set");
  }
  check_shape(a.targets, "targets", rows, targets);
  check_shape(a.outputs, "outputs", rows, targets);
  // Methods without a reference (saliency, inputxgrad, smoothgrad) leave
  // base_values and completeness_gap undefined; both are written as null.
  if (a.base_values.defined()) {
    check_shape(a.base_values, "base_values", rows, targets);
  }
  if (a.completeness_gap.defined()) {
    check_shape(a.completeness_gap, "completeness_gap", rows, targets);
  }
  if (meta.data.defined() &&
      (meta.data.dim() == 0 || meta.data.size(0) != rows)) {
    refuse("data has shape " + c10::str(meta.data.sizes()) + " for " +
           std::to_string(rows) + " rows of values");
  }
  const auto features = static_cast<int64_t>(meta.feature_names.size());
  if (features > 0 && a.values.dim() == 3 && a.values.size(2) != features) {
    refuse(std::to_string(features) + " feature names for " +
           std::to_string(a.values.size(2)) + " features");
  }

  if (a.standard_errors.defined() &&
      a.standard_errors.sizes() != a.values.sizes()) {
    refuse("standard_errors has shape " + c10::str(a.standard_errors.sizes()) +
           ", expected " + c10::str(a.values.sizes()));
  }
  check_finite(a.values, "values");
  check_finite(a.standard_errors, "standard_errors");
  check_finite(a.outputs, "outputs");
  check_finite(a.base_values, "base_values");
  check_finite(a.completeness_gap, "completeness_gap");
  check_finite(meta.data, "data");

  Layout layout;
  layout.num_outputs = count_outputs(meta, a.targets.to(torch::kInt64));
  auto per_row = [&](const torch::Tensor& t) {
    if (!t.defined()) return t;
    torch::Tensor cpu = t.detach().to(torch::kCPU);
    return meta.all_targets ? cpu : cpu.select(1, 0);
  };
  auto per_value = [&](const torch::Tensor& t) {
    if (!t.defined()) return t;
    torch::Tensor cpu = t.detach().to(torch::kCPU);
    return meta.all_targets ? cpu.movedim(1, -1).contiguous()
                            : cpu.select(1, 0).contiguous();
  };
  layout.values = per_value(a.values);
  layout.errors = per_value(a.standard_errors);
  layout.targets = per_row(a.targets).to(torch::kInt64);
  layout.outputs = per_row(a.outputs);
  layout.base_values = per_row(a.base_values);
  layout.gap = per_row(a.completeness_gap);
  return layout;
}

// Nested lists of the elements of a contiguous CPU tensor of element type T.
template <typename T>
Json nested(const T* data, torch::IntArrayRef sizes, size_t dim) {
  if (dim == sizes.size()) return Json(*data);
  Json list = Json::array();
  int64_t stride = 1;
  for (size_t d = dim + 1; d < sizes.size(); ++d) stride *= sizes[d];
  for (int64_t i = 0; i < sizes[dim]; ++i) {
    list.push_back(nested(data + i * stride, sizes, dim + 1));
  }
  return list;
}

// A tensor as nested lists: floating as doubles, integers as integers; null
// when undefined.
Json to_json(const torch::Tensor& t) {
  if (!t.defined()) return nullptr;
  torch::Tensor cpu = t.detach().to(torch::kCPU);
  if (cpu.scalar_type() == torch::kBool) {
    cpu = cpu.contiguous();
    return nested(cpu.data_ptr<bool>(), cpu.sizes(), 0);
  }
  if (cpu.is_floating_point()) {
    cpu = cpu.to(torch::kFloat64).contiguous();
    return nested(cpu.data_ptr<double>(), cpu.sizes(), 0);
  }
  cpu = cpu.to(torch::kInt64).contiguous();
  return nested(cpu.data_ptr<int64_t>(), cpu.sizes(), 0);
}

// True when all of `text` is a decimal literal: -?digits[.digits][e[+-]digits]
// (digits on at least one side of the point). `integer` tells whether it has
// neither point nor exponent.
bool is_number_literal(const std::string& text, bool& integer) {
  size_t i = 0, n = text.size();
  auto digits = [&] {
    size_t start = i;
    while (i < n && std::isdigit(static_cast<unsigned char>(text[i]))) ++i;
    return i - start;
  };
  if (i < n && text[i] == '-') ++i;
  size_t whole = digits();
  size_t fraction = 0;
  integer = true;
  if (i < n && text[i] == '.') {
    ++i;
    fraction = digits();
    integer = false;
  }
  if (whole + fraction == 0) return false;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
    if (digits() == 0) return false;
    integer = false;
  }
  return i == n;
}

Json option_value(const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  bool integer = false;
  if (!is_number_literal(text, integer)) return text;
  if (integer) {
    errno = 0;
    long long value = std::strtoll(text.c_str(), nullptr, 10);
    if (errno == 0) return static_cast<int64_t>(value);
  }
  double value = std::strtod(text.c_str(), nullptr);
  return std::isfinite(value) ? Json(value) : Json(text);
}

Json output_names(const ExplanationMeta& meta, int64_t count) {
  if (!meta.output_names.empty()) return meta.output_names;
  Json names = Json::array();
  for (int64_t i = 0; i < count; ++i) {
    names.push_back("output " + std::to_string(i));
  }
  return names;
}

// Writes each top-level field on a line of its own, values compact.
std::string dump(const Json& object) {
  const auto handler = Json::error_handler_t::replace;
  std::string text = "{\n";
  size_t i = 0;
  for (const auto& item : object.items()) {
    text += "  " + Json(item.key()).dump() + ": " +
            item.value().dump(-1, ' ', false, handler);
    text += ++i < object.size() ? ",\n" : "\n";
  }
  return text + "}\n";
}

std::string json_text(const Attribution& a, const ExplanationMeta& meta,
                      const Layout& layout) {
  Json options = Json::object();
  for (const auto& [name, value] : a.options) {
    options[name] = option_value(value);
  }
  Json gap_max = nullptr;
  if (layout.gap.defined()) {
    gap_max = layout.gap.numel() == 0
                  ? 0.0
                  : layout.gap.abs().max().to(torch::kFloat64).item<double>();
  }

  Json j = Json::object();
  j["libxai_version"] = XAI_VERSION;
  j["method"] = a.method;
  j["options"] = std::move(options);
  j["model"] = {{"path", meta.model_path}, {"sha256", meta.model_sha256}};
  j["input"] = meta.input_path;
  j["device"] = meta.device;
  j["shape"] = layout.values.sizes().vec();
  j["feature_names"] = meta.feature_names;
  j["output_names"] = output_names(meta, layout.num_outputs);
  j["timings"] = {{"attribution_seconds", a.seconds},
                  {"total_seconds", meta.total_seconds},
                  {"model_evaluations", a.model_evaluations},
                  {"forward_passes", a.forward_passes},
                  {"backward_passes", a.backward_passes}};
  j["max_abs_completeness_gap"] = gap_max;
  j["targets"] = to_json(layout.targets);
  j["outputs"] = to_json(layout.outputs);
  j["base_values"] = to_json(layout.base_values);
  j["completeness_gap"] = to_json(layout.gap);
  j["values"] = to_json(layout.values);
  j["standard_errors"] = to_json(layout.errors);
  j["data"] = to_json(meta.data);
  return dump(j);
}

}  // namespace

std::string explanation_json(const Attribution& a,
                             const ExplanationMeta& meta) {
  return json_text(a, meta, arrange(a, meta));
}

void write_explanation(const std::string& out_dir, const Attribution& a,
                       const ExplanationMeta& meta) {
  // Everything is encoded before anything is written.
  const Layout layout = arrange(a, meta);
  const std::string json = json_text(a, meta, layout);
  torch::Tensor values = layout.values;
  if (values.scalar_type() != torch::kFloat64) {
    values = values.to(torch::kFloat32);
  }
  const std::string npy = npy_bytes(values);

  namespace fs = std::filesystem;
  std::error_code error;
  if (fs::exists(out_dir, error) && !fs::is_directory(out_dir, error)) {
    throw IoError("cannot create directory " + out_dir +
                  ": a file of that name exists");
  }
  fs::create_directories(out_dir, error);
  if (error) {
    throw IoError("cannot create directory " + out_dir + ": " +
                  error.message());
  }
  check_replaceable({out_dir + "/values.npy", out_dir + "/explanation.json"});
  write_file_atomic(out_dir + "/values.npy", npy);
  write_file_atomic(out_dir + "/explanation.json", json);
}

}  // namespace xai
