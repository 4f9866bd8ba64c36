// xai-attribute: explains a TorchScript model's outputs on a data file and
// writes explanation.json and values.npy.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <sstream>

#include "app_common.h"
#include "xai/attribution/attribution.h"
#include "xai/error.h"
#include "xai/io/data.h"
#include "xai/io/explanation.h"
#include "xai/io/npy.h"
#include "xai/model.h"
#include "xai/plot/plot.h"

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
  std::string groups;
  std::vector<int64_t> patch;
  std::string mask;
  int64_t budget = 0;
  int64_t max_players = 0;
  std::vector<int64_t> window;
  std::vector<int64_t> stride;
  std::vector<std::string> plots;
  std::string out;
};

// Options that only some methods read.
struct MethodOption {
  const char* flag;
  std::vector<std::string> methods;
};

const std::vector<MethodOption>& method_options() {
  static const std::vector<std::string> background = {
      "deepshap",   "gradshap", "shapley",  "permutation",
      "kernelshap", "ablation", "occlusion"};
  static const std::vector<std::string> players = {"shapley", "permutation",
                                                   "kernelshap", "ablation"};
  static const std::vector<MethodOption> options = {
      {"--background", background},
      {"--background-rows", background},
      {"--baseline", {"deeplift", "ig", "ablation", "occlusion"}},
      {"--steps", {"ig"}},
      {"--rule", {"ig"}},
      {"--samples", {"gradshap", "smoothgrad", "permutation"}},
      {"--noise", {"gradshap", "smoothgrad"}},
      {"--strict", {"deepshap", "deeplift"}},
      {"--groups", players},
      {"--patch", players},
      {"--mask", players},
      {"--budget", {"kernelshap"}},
      {"--max-players", {"shapley"}},
      {"--window", {"occlusion"}},
      {"--stride", {"occlusion"}},
  };
  return options;
}

bool uses(const std::vector<std::string>& methods, const std::string& m) {
  return std::find(methods.begin(), methods.end(), m) != methods.end();
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    out += (i == 0 ? "" : i + 1 == items.size() ? " and " : ", ") + items[i];
  }
  return out;
}

const char* kFooter = R"(Input files: .csv (header row, numeric cells),
.npy, .pt (one tensor), .png/.jpg (one image, [1, channels, height, width]
in [0, 1]) or a directory of images. Background and baseline files take the
same formats.

Background (deepshap, gradshap, shapley, permutation, kernelshap,
ablation, occlusion): --background FILE uses every row of FILE;
--background-rows N draws N distinct rows (seeded by --seed) from FILE, or
from the whole input file when --background is not given. The base value
is the mean model output over the background.
Baseline (deeplift, ig): one row, or one row per input row (then --rows
selects from it too); all zeros when not given. ablation and occlusion take
a one-row baseline as their background; without either, zeros.

Players (shapley, permutation, kernelshap, ablation): each feature by
default. --groups "radius=mean radius,worst radius;texture=3,13" makes
named groups of CSV columns (names or 0-based indices; the other columns
stay single); --patch H,W cuts images into H x W patches; --mask FILE.npy
gives each element of a row an integer player id 0..P-1. A player's value
is shared equally by its elements in values.npy.

Plots: --plot beeswarm,waterfall writes out/beeswarm.png and
out/waterfall.png (row 0) beside the explanation; see xai-plot for more.

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
  xai-attribute --model models/breast_cancer_mlp.pt \
      --input models/data/breast_cancer.csv --label-column target \
      --rows 0:20 --method kernelshap --background-rows 100 \
      --plot beeswarm,waterfall --out out/breast_cancer_kernelshap

)";

void add_options(CLI::App& app, Args& a) {
  app.add_option("--model", a.model, "TorchScript model file")->required();
  app.add_option("--input", a.input, "Rows to explain (see below)")->required();
  app.add_option("--method", a.method,
                 "deepshap, deeplift, ig, gradshap, saliency,\n"
                 "inputxgrad, smoothgrad, shapley, permutation,\n"
                 "kernelshap, ablation or occlusion")
      ->required()
      ->check(CLI::IsMember(xai::method_names()).description(""));
  app.add_option("--background", a.background, "Reference rows (see below)");
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
                 "gradshap, smoothgrad: samples per row (50);\n"
                 "permutation: antithetic pairs per row (25)");
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
  app.add_option("--groups", a.groups,
                 "Named groups of CSV columns as players");
  app.add_option("--patch", a.patch, "Image patches H,W as players")
      ->delimiter(',')
      ->expected(2);
  app.add_option("--mask", a.mask, ".npy of integer player ids per element");
  app.add_option("--budget", a.budget,
                 "kernelshap: coalitions per row (2 * players + 2048)");
  app.add_option("--max-players", a.max_players,
                 "shapley: most players enumerated (20)");
  app.add_option("--window", a.window, "occlusion: window sizes (4,4)")
      ->delimiter(',');
  app.add_option("--stride", a.stride,
                 "occlusion: window steps (default: the window)")
      ->delimiter(',');
  app.add_option("--plot", a.plots,
                 "Also draw beeswarm, bar, waterfall and/or image")
      ->delimiter(',')
      ->check(CLI::IsMember({"beeswarm", "bar", "waterfall", "image"})
                  .description(""));
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
    if (uses(option.methods, a.method)) continue;
    xai::app::usage_error(std::string(option.flag) + " does not apply to " +
                          "--method " + a.method + " (only to " +
                          join(option.methods) + ")");
  }
  int players = (app.count("--groups") > 0) + (app.count("--patch") > 0) +
                (app.count("--mask") > 0);
  if (players > 1) {
    xai::app::usage_error("--groups, --patch and --mask exclude each other");
  }
  bool reference =
      app.count("--background") > 0 || app.count("--background-rows") > 0;
  if (reference && app.count("--baseline") > 0) {
    xai::app::usage_error("--method " + a.method +
                          " takes a background or a baseline, not both");
  }
  bool needs_background =
      uses({"deepshap", "gradshap", "shapley", "permutation", "kernelshap"},
           a.method);
  if (needs_background && app.count("--background") == 0 &&
      app.count("--background-rows") == 0) {
    xai::app::usage_error("--method " + a.method +
                          " needs --background FILE or --background-rows N");
  }

  require_positive(app, "--max-batch", a.max_batch);
  require_positive(app, "--steps", a.steps);
  require_positive(app, "--samples", a.samples);
  require_positive(app, "--background-rows", a.background_rows);
  require_positive(app, "--max-players", a.max_players);
  // Each step or sample is a model evaluation per row; beyond this the
  // run cannot finish in memory or time.
  const int64_t most = 1000000;
  for (auto [flag, value] :
       {std::pair{"--steps", a.steps}, std::pair{"--samples", a.samples}}) {
    if (value > most) {
      throw xai::InvalidArgument("invalid " + std::string(flag) + ": " +
                                 std::to_string(value) + " (at most " +
                                 std::to_string(most) + ")");
    }
  }
  bool has_base = !uses({"saliency", "inputxgrad", "smoothgrad"}, a.method);
  if (!has_base && uses(a.plots, "waterfall")) {
    xai::app::usage_error(
        "--plot waterfall needs base values, which --method " + a.method +
        " does not have");
  }
  if (app.count("--budget") > 0 && a.budget < 0) {
    throw xai::InvalidArgument("invalid --budget: " + std::to_string(a.budget) +
                               " (must be >= 0)");
  }
  for (int64_t size : a.patch) require_positive(app, "--patch", size);
  if (app.count("--noise") > 0 && !(std::isfinite(a.noise) && a.noise >= 0)) {
    throw xai::InvalidArgument("invalid --noise: " + std::to_string(a.noise) +
                               " (must be finite and >= 0)");
  }
  xai::Target::parse(a.target);
  xai::parse_device(a.device);
  if (!a.rows.empty()) xai::app::parse_row_range(a.rows);
  xai::app::check_output_dir(a.out);
}

// Parses --groups "name=col,col;name=col" against the CSV's column names
// (a column is named or given by its 0-based index).
[[noreturn]] void refuse_groups(const std::string& why) {
  throw xai::InvalidArgument("invalid --groups: " + why);
}

xai::Players parse_groups(const std::string& spec, int64_t columns,
                          const std::vector<std::string>& names) {
  auto trim = [](std::string t) {
    t.erase(0, t.find_first_not_of(' '));
    t.erase(t.find_last_not_of(' ') + 1);
    return t;
  };
  auto column_of = [&](const std::string& cell) -> int64_t {
    auto named = std::find(names.begin(), names.end(), cell);
    if (named != names.end()) return named - names.begin();
    size_t used = 0;
    try {
      long long index = std::stoll(cell, &used);
      if (used == cell.size() && index >= 0 && index < columns) return index;
    } catch (const std::exception&) {
    }
    refuse_groups("no column '" + cell +
                  "' (give a column name or an index 0.." +
                  std::to_string(columns - 1) + ")");
  };

  std::vector<xai::FeatureGroup> groups;
  std::stringstream all(spec);
  std::string item;
  while (std::getline(all, item, ';')) {
    if (trim(item).empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string::npos || trim(item.substr(0, eq)).empty()) {
      refuse_groups("'" + item + "' is not name=column,column,...");
    }
    xai::FeatureGroup group{trim(item.substr(0, eq)), {}};
    std::stringstream cells(item.substr(eq + 1));
    std::string cell;
    while (std::getline(cells, cell, ',')) {
      if (!trim(cell).empty()) group.columns.push_back(column_of(trim(cell)));
    }
    groups.push_back(std::move(group));
  }
  if (groups.empty()) refuse_groups("'" + spec + "' names no group");
  return xai::Players::groups(columns, groups, names);
}

// The players of --groups, --patch or --mask for rows shaped `row_shape`.
xai::Players make_players(const Args& a, c10::IntArrayRef row_shape,
                          const std::vector<std::string>& names) {
  if (!a.groups.empty()) {
    if (row_shape.size() != 1) {
      throw xai::InvalidArgument(
          "invalid --groups: rows of shape " + c10::str(row_shape) +
          " have no columns (use --patch or --mask for images)");
    }
    return parse_groups(a.groups, row_shape[0], names);
  }
  if (!a.patch.empty()) {
    if (row_shape.size() < 2) {
      throw xai::InvalidArgument(
          "invalid --patch: rows of shape " + c10::str(row_shape) +
          " are not images (use --groups for tabular rows)");
    }
    int64_t rank = static_cast<int64_t>(row_shape.size());
    return xai::Players::grid(row_shape[rank - 2], row_shape[rank - 1],
                              a.patch[0], a.patch[1]);
  }
  if (!a.mask.empty()) {
    torch::Tensor mask = xai::load_npy(a.mask);
    if (mask.is_floating_point()) {
      if (!torch::equal(mask, mask.round())) {
        throw xai::InvalidArgument("invalid --mask: " + a.mask +
                                   " holds non-integer player ids");
      }
    }
    return xai::Players(mask.to(torch::kInt64));
  }
  return {};
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
  c.players = make_players(a, input.x.sizes().slice(1), input.feature_names);
  c.budget = a.budget;
  c.max_players = a.max_players;
  c.window = a.window;
  c.stride = a.stride;

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
    if (a.method == "ablation" || a.method == "occlusion") {
      if (c.baseline.size(0) != 1) {
        throw xai::InvalidArgument(
            "invalid --baseline: " + a.baseline + " has " +
            std::to_string(c.baseline.size(0)) + " rows (--method " + a.method +
            " takes one; use --background for several)");
      }
      c.background = c.baseline;
      return c;
    }
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

  for (const std::string& name : a.plots) {
    xai::PlotKind kind = xai::plot_kind_from_string(name);
    bool image = kind == xai::PlotKind::kImage;
    xai::PlotData data = xai::plot_data_from_explanation(
        a.out + "/explanation.json", image ? xai::kAllTargets : 0);
    std::string path = a.out + "/" + name + ".png";
    xai::plot(kind, data, {}, path);
    std::cout << "wrote " << path << "\n";
  }
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
