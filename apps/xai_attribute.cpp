// xai-attribute: explains a TorchScript model's outputs on a data file and
// writes explanation.json and values.npy.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>

#include "app_common.h"
#include "xai/attribution/attribution.h"
#include "xai/error.h"
#include "xai/io/data.h"
#include "xai/io/explanation.h"
#include "xai/model.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string model;
  std::string input;
  std::string method;
  std::string background;
  int64_t background_rows = 0;
  std::string baseline;
  std::string target = "pred";
  std::string label_column;
  std::string device = "cpu";
  int64_t max_batch = 0;
  int64_t steps = 0;
  int64_t samples = 0;
  double noise = -1.0;
  std::string rule;
  uint64_t seed = 0;
  bool strict = false;
  std::string rows;
  std::string out;
};

// Options that only some methods read.
struct MethodOption {
  const char* flag;
  std::vector<std::string> methods;
};

const std::vector<MethodOption>& method_options() {
  static const std::vector<MethodOption> options = {
      {"--background", {"deepshap", "gradshap"}},
      {"--background-rows", {"deepshap", "gradshap"}},
      {"--baseline", {"deeplift", "ig"}},
      {"--steps", {"ig"}},
      {"--rule", {"ig"}},
      {"--samples", {"gradshap", "smoothgrad"}},
      {"--noise", {"gradshap", "smoothgrad"}},
      {"--strict", {"deepshap", "deeplift"}},
  };
  return options;
}

const char* kFooter = R"(Input files: .csv (header row, numeric cells),
.npy, .pt (one tensor), .png/.jpg (one image, [1, channels, height, width]
in [0, 1]) or a directory of images. Background and baseline files take the
same formats.

Background (deepshap, gradshap): --background FILE uses every row of FILE;
--background-rows N draws N distinct rows (seeded by --seed) from FILE, or
from the whole input file when --background is not given.
Baseline (deeplift, ig): one row, or one row per input row (then --rows
selects from it too); all zeros when not given.

Examples:
  xai-attribute --model models/breast_cancer_mlp.pt \
      --input models/data/breast_cancer.csv --label-column target \
      --method deepshap --background-rows 100 --out out/breast_cancer
  xai-attribute --model models/mnist_cnn.pt \
      --input models/data/mnist_png/digit_0_label8.png --method deepshap \
      --background models/data/mnist_test_images.npy --background-rows 50 \
      --out out/mnist_digit
  xai-attribute --model models/mnist_cnn.pt \
      --input models/data/mnist_test_images.npy --rows 0:10 --method ig \
      --steps 32 --target all --device auto --out out/mnist_ig

)";

void add_options(CLI::App& app, Args& a) {
  app.add_option("--model", a.model, "TorchScript model file")->required();
  app.add_option("--input", a.input, "Rows to explain (see below)")->required();
  app.add_option("--method", a.method,
                 "deepshap, deeplift, ig, gradshap, saliency,\n"
                 "inputxgrad or smoothgrad")
      ->required()
      ->check(CLI::IsMember(xai::method_names()).description(""));
  app.add_option("--background", a.background,
                 "Reference rows for deepshap and gradshap");
  app.add_option("--background-rows", a.background_rows,
                 "Draw this many background rows (see below)");
  app.add_option("--baseline", a.baseline,
                 "Reference for deeplift and ig (default: zeros)");
  app.add_option("--target", a.target,
                 "pred (each row's arg-max), all, or an index")
      ->capture_default_str();
  app.add_option("--label-column", a.label_column,
                 "CSV label column, left out of the features");
  app.add_option("--device", a.device, "cpu, cuda, cuda:N or auto")
      ->capture_default_str();
  app.add_option("--max-batch", a.max_batch,
                 "Most model rows per pass (default: the method's)");
  app.add_option("--steps", a.steps, "ig: points along the path (50)");
  app.add_option("--samples", a.samples,
                 "gradshap, smoothgrad: samples per row (50)");
  app.add_option("--noise", a.noise,
                 "gradshap: std in input units (0); smoothgrad:\n"
                 "share of each row's value range (0.15)");
  app.add_option("--rule", a.rule, "ig: gauss-legendre (default) or riemann")
      ->check(CLI::IsMember({"gauss-legendre", "riemann"}).description(""));
  app.add_option("--seed", a.seed,
                 "Seed of background sampling and random methods")
      ->capture_default_str();
  app.add_flag("--strict", a.strict,
               "deepshap, deeplift: refuse ops without a rule");
  app.add_option("--rows", a.rows,
                 "Explain rows A..B-1 only (A:B, A:, :B; from 0)");
  app.add_option("--out", a.out,
                 "Directory for explanation.json and values.npy")
      ->required();
}

void require_positive(const CLI::App& app, const char* flag, int64_t value) {
  if (app.count(flag) > 0 && value < 1) {
    throw xai::InvalidArgument("invalid " + std::string(flag) + ": " +
                               std::to_string(value) + " (must be >= 1)");
  }
}

// Checks every option before anything is loaded.
void validate(const CLI::App& app, const Args& a) {
  for (const auto& option : method_options()) {
    if (app.count(option.flag) == 0) continue;
    const auto& m = option.methods;
    if (std::find(m.begin(), m.end(), a.method) != m.end()) continue;
    xai::app::usage_error(std::string(option.flag) + " does not apply to " +
                          "--method " + a.method + " (only to " + m[0] +
                          (m.size() > 1 ? " and " + m[1] : "") + ")");
  }
  bool needs_background = a.method == "deepshap" || a.method == "gradshap";
  if (needs_background && app.count("--background") == 0 &&
      app.count("--background-rows") == 0) {
    xai::app::usage_error("--method " + a.method +
                          " needs --background FILE or --background-rows N");
  }

  require_positive(app, "--max-batch", a.max_batch);
  require_positive(app, "--steps", a.steps);
  require_positive(app, "--samples", a.samples);
  require_positive(app, "--background-rows", a.background_rows);
  if (app.count("--noise") > 0 && !(std::isfinite(a.noise) && a.noise >= 0)) {
    throw xai::InvalidArgument("invalid --noise: " + std::to_string(a.noise) +
                               " (must be finite and >= 0)");
  }
  xai::Target::parse(a.target);
  xai::parse_device(a.device);
  if (!a.rows.empty()) xai::app::parse_row_range(a.rows);
  xai::app::check_output_dir(a.out);
}

xai::ExplainerConfig make_config(const CLI::App& app, const Args& a,
                                 const xai::Dataset& input) {
  xai::ExplainerConfig c;
  c.max_batch = a.max_batch;
  c.steps = a.steps;
  c.samples = a.samples;
  c.noise = a.noise;
  c.seed = a.seed;
  c.strict = a.strict;
  c.ig_rule = a.rule;

  if (!a.background.empty()) {
    c.background = xai::app::load_reference(a.background, a.label_column).x;
  }
  if (app.count("--background-rows") > 0) {
    bool from_file = !a.background.empty();
    c.background = xai::app::sample_rows(from_file ? c.background : input.x,
                                         a.background_rows, a.seed,
                                         from_file ? a.background : a.input);
  }

  if (!a.baseline.empty()) {
    c.baseline = xai::app::load_reference(a.baseline, a.label_column).x;
    bool per_row = c.baseline.size(0) == input.x.size(0);
    if (per_row && c.baseline.size(0) > 1 && !a.rows.empty()) {
      c.baseline = xai::app::slice_rows(
          c.baseline, xai::app::parse_row_range(a.rows), a.baseline);
    }
  }
  return c;
}

// Number of model outputs, from one row.
int64_t count_outputs(const xai::Model& model, const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  auto row = x.narrow(0, 0, 1).to(model.device(), model.dtype());
  return model.forward(row).size(1);
}

void run(const CLI::App& app, const Args& a) {
  const auto start = Clock::now();
  validate(app, a);
  const xai::Target target = xai::Target::parse(a.target);

  xai::Model model = xai::Model::load(a.model, a.device);
  spdlog::info("loaded {} ({}) on {}", a.model, model.signature(),
               model.device().str());

  xai::LoadOptions load;
  load.label_column = a.label_column;
  xai::Dataset input = xai::load_data(a.input, load);
  torch::Tensor x = input.x;
  if (!a.rows.empty()) {
    x = xai::app::slice_rows(x, xai::app::parse_row_range(a.rows), a.input);
  }

  auto config = make_config(app, a, input);
  auto explainer = xai::make_explainer(a.method, model, config);
  const char* plural = x.size(0) == 1 ? "" : "s";
  spdlog::info("explaining {} row{} of {} (target {}) with {}", x.size(0),
               plural, a.input, target.str(), explainer->str());
  xai::Attribution attribution = explainer->attribute(x, target);
  spdlog::info(
      "explained {} row{} in {:.3f} s: {} model evaluations, {} "
      "forward and {} backward passes",
      x.size(0), plural, attribution.seconds, attribution.model_evaluations,
      attribution.forward_passes, attribution.backward_passes);

  xai::ExplanationMeta meta;
  meta.model_path = a.model;
  meta.model_sha256 = model.sha256();
  meta.input_path = a.input;
  meta.device = model.device().str();
  meta.feature_names = input.feature_names;
  meta.num_outputs = count_outputs(model, x);
  meta.all_targets = target.kind == xai::Target::Kind::kAll;
  meta.data = x;
  meta.total_seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  xai::write_explanation(a.out, attribution, meta);

  auto labels =
      xai::app::feature_labels(x.sizes().slice(1), input.feature_names);
  xai::app::print_summary(std::cout, attribution, explainer->str(), labels);
  std::cout << "wrote " << a.out << "/explanation.json and " << a.out
            << "/values.npy\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Explains a TorchScript model's outputs on the rows of a data "
      "file\nand writes explanation.json and values.npy.",
      "xai-attribute"};
  Args args;
  xai::app::LoggingFlags logging;
  add_options(app, args);
  xai::app::add_logging_flags(app, logging);
  app.footer(std::string(kFooter) + xai::app::exit_codes_help());
  return xai::app::run_main(app, logging, argc, argv, [&] { run(app, args); });
}
