// xai-inspect: shows what libxai sees in a TorchScript model: the forward
// signature, the submodules, and how DeepLIFT treats each op on the input's
// path.

#include <iostream>

#include "app_common.h"
#include "xai/attribution/deeplift.h"
#include "xai/model.h"

namespace {

struct Args {
  std::string model;
  std::string device = "cpu";
};

const char* kFooter = R"(Treatments: "rule: ..." ops get a DeepLIFT rule,
"linear" ops pass multipliers through unchanged, "unsupported" ops are
nonlinear without a rule: DeepLIFT and DeepSHAP use their gradient there
and warn (--strict in xai-attribute refuses them).

Examples:
  xai-inspect --model models/breast_cancer_mlp.pt
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

void run(const Args& a) {
  xai::Model model = xai::Model::load(a.model, a.device);
  std::cout << "model: " << a.model << "\n"
            << "sha256: " << model.sha256() << "\n"
            << "device: " << model.device().str() << "\n"
            << "signature: " << model.signature() << "\n";
  print_row_shape(model);

  auto names = model.submodule_names();
  std::cout << "\nsubmodules (" << names.size() << "):\n";
  for (const auto& name : names) std::cout << "  " << name << "\n";

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
      "Shows a TorchScript model's forward signature, its submodules "
      "and\nhow DeepLIFT treats each op on the input's path.",
      "xai-inspect"};
  Args args;
  xai::app::LoggingFlags logging;
  app.add_option("--model", args.model, "TorchScript model file")->required();
  app.add_option("--device", args.device, "cpu, cuda, cuda:N or auto")
      ->capture_default_str();
  xai::app::add_logging_flags(app, logging);
  app.footer(std::string(kFooter) + xai::app::exit_codes_help());
  return xai::app::run_main(app, logging, argc, argv, [&] { run(args); });
}
