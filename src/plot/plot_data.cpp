// Reading explanation.json into PlotData.

#include <nlohmann/json.hpp>

#include "plot/common.h"
#include "xai/error.h"
#include "xai/io/file.h"
#include "xai/plot/plot.h"

namespace xai {
namespace {

using Json = nlohmann::json;

class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw InvalidArgument("cannot read explanation " + path_ + ": " + why);
  }

  // The field `name` of `root`, a nested array of numbers of one shape, as
  // a float64 tensor; undefined when absent or null and not `required`.
  torch::Tensor tensor(const Json& root, const std::string& name,
                       bool required) const {
    auto it = root.find(name);
    if (it == root.end() || it->is_null()) {
      if (required) {
        fail("field '" + name + "' is " +
             (it == root.end() ? "missing" : "null"));
      }
      return {};
    }
    std::vector<int64_t> shape;
    for (const Json* node = &*it; node->is_array(); node = &node->front()) {
      shape.push_back(static_cast<int64_t>(node->size()));
      if (node->empty()) break;
    }
    if (shape.empty()) fail("field '" + name + "' is not an array");
    std::vector<double> flat;
    if (!flatten(*it, shape, 0, flat)) {
      fail("field '" + name + "' is not an array of numbers of one shape");
    }
    return torch::tensor(flat, torch::kFloat64).reshape(shape);
  }

  // The field `name` of `root`, a list of strings; empty when absent or
  // null.
  std::vector<std::string> strings(const Json& root,
                                   const std::string& name) const {
    auto it = root.find(name);
    if (it == root.end() || it->is_null()) return {};
    bool ok = it->is_array();
    for (size_t i = 0; ok && i < it->size(); ++i) ok = (*it)[i].is_string();
    if (!ok) fail("field '" + name + "' is not a list of strings");
    return it->get<std::vector<std::string>>();
  }

  // Checks that `t` (may be undefined) has shape `expected`.
  void check_shape(const torch::Tensor& t, const std::string& name,
                   const std::vector<int64_t>& expected) const {
    if (t.defined() && t.sizes() != c10::IntArrayRef(expected)) {
      fail("field '" + name + "' has shape " + c10::str(t.sizes()) +
           ", expected " + c10::str(c10::IntArrayRef(expected)));
    }
  }

 private:
  static bool flatten(const Json& node, const std::vector<int64_t>& shape,
                      size_t depth, std::vector<double>& out) {
    if (depth == shape.size()) {
      if (!node.is_number()) return false;
      out.push_back(node.get<double>());
      return true;
    }
    if (!node.is_array() || static_cast<int64_t>(node.size()) != shape[depth]) {
      return false;
    }
    for (const auto& child : node) {
      if (!flatten(child, shape, depth + 1, out)) return false;
    }
    return true;
  }

  std::string path_;
};

Json parse(const Reader& reader, const std::string& text) {
  Json root;
  try {
    root = Json::parse(text);
  } catch (const Json::parse_error& e) {
    reader.fail("not valid JSON (error at byte " + std::to_string(e.byte) +
                ")");
  }
  if (!root.is_object()) reader.fail("the top level is not a JSON object");
  return root;
}

// The number of targets per row when every target was explained (targets,
// base_values and outputs are [rows, T]); 0 for one target per row.
int64_t targets_per_row(const torch::Tensor& targets, const torch::Tensor& base,
                        const torch::Tensor& outputs) {
  for (const auto* t : {&targets, &base, &outputs}) {
    if (t->defined()) return t->dim() == 2 ? t->size(1) : 0;
  }
  return 0;
}

}  // namespace

PlotData plot_data_from_explanation(const std::string& json_path,
                                    int64_t target_column) {
  const Reader reader(json_path);
  const Json root = parse(reader, read_file(json_path));

  PlotData d;
  torch::Tensor values = reader.tensor(root, "values", true);
  if (values.dim() < 2 || values.size(0) == 0) {
    reader.fail("field 'values' has shape " + c10::str(values.sizes()) +
                "; expected [rows, features...] with at least one row");
  }
  if (root.contains("shape") && root["shape"].is_array()) {
    torch::Tensor shape = reader.tensor(root, "shape", false);
    if (shape.numel() != values.dim() ||
        !shape.to(torch::kInt64).equal(torch::tensor(values.sizes().vec()))) {
      reader.fail("field 'shape' does not match the shape of 'values', " +
                  c10::str(values.sizes()));
    }
  }
  torch::Tensor targets = reader.tensor(root, "targets", false);
  torch::Tensor base = reader.tensor(root, "base_values", false);
  torch::Tensor outputs = reader.tensor(root, "outputs", false);

  // One target per row: the per-row fields are [rows]. All targets: values
  // have a trailing target axis and the per-row fields are [rows, T].
  const int64_t rows = values.size(0);
  const int64_t per_row = targets_per_row(targets, base, outputs);
  std::vector<int64_t> expected = {rows};
  if (per_row > 0) {
    expected.push_back(per_row);
    if (values.dim() < 3 || values.size(-1) != per_row) {
      reader.fail("field 'values' has shape " + c10::str(values.sizes()) +
                  ", expected [rows, ..., " + std::to_string(per_row) +
                  "] for " + std::to_string(per_row) + " targets per row");
    }
  }
  reader.check_shape(targets, "targets", expected);
  reader.check_shape(base, "base_values", expected);
  reader.check_shape(outputs, "outputs", expected);

  if (per_row == 0 && target_column != 0 && target_column != kAllTargets) {
    reader.fail("target column " + std::to_string(target_column) +
                " is out of range: the explanation has one target per row "
                "(use 0)");
  }
  if (per_row > 0 && target_column == kAllTargets) {
    values = values.movedim(-1, 1).contiguous();
    d.target_axis = true;
  } else if (per_row > 0) {
    if (target_column < 0 || target_column >= per_row) {
      reader.fail("target column " + std::to_string(target_column) +
                  " is out of range for " + std::to_string(per_row) +
                  " targets per row");
    }
    auto pick = [&](const torch::Tensor& t, int64_t dim) {
      return t.defined() ? t.select(dim, target_column).contiguous() : t;
    };
    values = pick(values, -1);
    targets = pick(targets, 1);
    base = pick(base, 1);
    outputs = pick(outputs, 1);
  }

  // The row shape S, as the data has it.
  std::vector<int64_t> row_shape = values.sizes().vec();
  row_shape.erase(row_shape.begin(),
                  row_shape.begin() + (d.target_axis ? 2 : 1));
  std::vector<int64_t> data_shape = {rows};
  data_shape.insert(data_shape.end(), row_shape.begin(), row_shape.end());
  torch::Tensor data = reader.tensor(root, "data", false);
  reader.check_shape(data, "data", data_shape);

  d.feature_names = reader.strings(root, "feature_names");
  const int64_t features = c10::multiply_integers(row_shape);
  if (!d.feature_names.empty() &&
      static_cast<int64_t>(d.feature_names.size()) != features) {
    reader.fail("field 'feature_names' has " +
                std::to_string(d.feature_names.size()) + " names for " +
                std::to_string(features) + " features");
  }
  d.output_names = reader.strings(root, "output_names");
  auto method = root.find("method");
  if (method != root.end() && method->is_string()) {
    d.title = method->get<std::string>();
  }

  d.values = values;
  d.data = data;
  d.base_values = base;
  d.outputs = outputs;
  d.targets = targets.defined() ? targets.to(torch::kInt64) : targets;
  return d;
}

}  // namespace xai
