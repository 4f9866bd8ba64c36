// xai-inspect: shows what libxai sees in a TorchScript model: the forward
// signature, the submodules, the readable layers with their output shapes,
// and how DeepLIFT treats each op on the input's path.

#include <algorithm>
#include <cctype>
#include <iostream>
#include <optional>
#include <sstream>

#include "app_common.h"
#include "xai/attribution/deeplift.h"
#include "xai/error.h"
#include "xai/model.h"
#include "xai/visualize/layers.h"

namespace {

struct Args {
  std::string model;
  std::string input_shape;
  std::string device = "cpu";
};

const char* kFooter = R"(Treatments: "rule: ..." ops get a DeepLIFT rule,
"linear" ops pass multipliers through unchanged, "unsupported" ops are
nonlinear without a rule: DeepLIFT and DeepSHAP use their gradient there
and warn (--strict in xai-attribute refuses them).

Examples:
  xai-inspect --model models/breast_cancer_mlp.pt
  xai-inspect --model models/mnist_cnn.pt --input-shape 1,28,28
  xai-inspect --model models/mnist_cnn.pt --device auto

)";

void print_row_shape(const xai::Model& model) {
  const auto& shape = model.input_row_shape();
  std::cout << "input row shape: ";
  if (shape.empty()) {
    std::cout << "unknown\n";
    return;
  }
  std::cout << "[rows";
  for (int64_t d : shape) {
    std::cout << ", " << (d < 0 ? std::string("?") : std::to_string(d));
  }
  std::cout << "] (read off the first layer)\n";
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return s + "]";
}

// The input row shape to probe the layers with: --input-shape, else the
// model's own when every size of it is known.
std::optional<std::vector<int64_t>> probe_shape(const Args& a,
                                                const xai::Model& model) {
  if (!a.input_shape.empty())
    return xai::app::parse_shape(a.input_shape, "--input-shape");
  const auto& known = model.input_row_shape();
  bool complete =
      !known.empty() &&
      std::none_of(known.begin(), known.end(), [](int64_t d) { return d < 0; });
  if (!complete) return std::nullopt;
  return known;
}

// The readable layers for one row of shape `row`, computed before anything
// is printed so that a rejected shape only prints the error. A model whose
// layers cannot be read fails the run only when --input-shape asked for
// them; otherwise `note` says why they are missing.
std::vector<xai::LayerInfo> probe_layers(const Args& a, const xai::Model& model,
                                         const std::vector<int64_t>& row,
                                         std::string& note) {
  std::vector<int64_t> batch = {1};
  batch.insert(batch.end(), row.begin(), row.end());
  try {
    return xai::describe_layers(model, batch);
  } catch (const xai::UnsupportedModel& e) {
    if (!a.input_shape.empty()) throw;
    note = e.what();
    return {};
  }
}

void print_layers(const std::optional<std::vector<int64_t>>& row,
                  const std::vector<xai::LayerInfo>& layers,
                  const std::string& note) {
  if (!row) {
    std::cout << "\nlayers: pass --input-shape (one input row, e.g. "
                 "1,28,28) to see each layer's output shape\n";
    return;
  }
  if (!note.empty()) {
    std::cout << "\nlayers: " << note << "\n";
    return;
  }
  std::vector<std::vector<std::string>> table;
  for (const auto& layer : layers) {
    // One row in, so the leading batch size of 1 is dropped.
    std::vector<int64_t> shape = layer.shape;
    if (!shape.empty()) shape.erase(shape.begin());
    table.push_back({layer.name, shape_str(shape)});
  }
  std::cout << "\nlayers for an input row of shape " << shape_str(*row) << " ("
            << layers.size() << "):\n";
  xai::app::print_table(std::cout, {"layer", "output shape"}, table);
}

void run(const Args& a) {
  xai::Model model = xai::Model::load(a.model, a.device);
  auto row = probe_shape(a, model);
  std::vector<xai::LayerInfo> layers;
  std::string note;
  if (row) layers = probe_layers(a, model, *row, note);

  std::cout << "model: " << a.model << "\n"
            << "sha256: " << model.sha256() << "\n"
            << "device: " << model.device().str() << "\n"
            << "signature: " << model.signature() << "\n";
  print_row_shape(model);

  auto names = model.submodule_names();
  std::cout << "\nsubmodules (" << names.size() << "):\n";
  for (const auto& name : names) std::cout << "  " << name << "\n";
  print_layers(row, layers, note);

  auto ops = xai::describe_deeplift(model);
  std::vector<std::vector<std::string>> table;
  int64_t rules = 0, linear = 0, unsupported = 0;
  for (const auto& op : ops) {
    table.push_back({op.op, op.treatment, op.location});
    if (op.treatment.rfind("rule", 0) == 0) ++rules;
    if (op.treatment == "linear") ++linear;
    if (op.treatment == "unsupported") ++unsupported;
  }
  std::cout << "\nDeepLIFT treatment of the ops on the input's path ("
            << ops.size() << "):\n";
  xai::app::print_table(std::cout, {"op", "treatment", "location"}, table);
  std::cout << "\ncounts: " << rules << " rule, " << linear << " linear, "
            << unsupported << " unsupported\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Shows a TorchScript model's forward signature, its submodules, "
      "its\nreadable layers with their output shapes, and how DeepLIFT "
      "treats each\nop on the input's path.",
      "xai-inspect"};
  Args args;
  xai::app::LoggingFlags logging;
  app.add_option("--model", args.model, "TorchScript model file")->required();
  app.add_option("--input-shape", args.input_shape,
                 "shape of one input row, e.g. 1,28,28, for the layer "
                 "shapes (default: read off the first layer when complete)");
  app.add_option("--device", args.device, "cpu, cuda, cuda:N or auto")
      ->capture_default_str();
  xai::app::add_logging_flags(app, logging);
  app.footer(std::string(kFooter) + xai::app::exit_codes_help());
  return xai::app::run_main(app, logging, argc, argv, [&] { run(args); });
}
