// xai-attack: attacks a TorchScript classifier on the rows of a data file
// and writes report.json, the adversarial examples and, for images, PNGs.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>

#include "app_common.h"
#include "xai/attack/attack.h"
#include "xai/attack/report.h"
#include "xai/error.h"
#include "xai/io/data.h"
#include "xai/io/npy.h"
#include "xai/model.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string model;
  std::string input;
  std::string labels;
  std::string label_column;
  std::string attack;
  std::vector<double> eps;
  int64_t steps = 0;
  double step_size = 0.0;
  int64_t restarts = 0;
  std::string targeted = "none";
  std::string norm = "linf";
  std::vector<double> bounds;
  std::vector<double> mean;
  std::vector<double> std;
  std::string device = "cpu";
  int64_t max_batch = 256;
  uint64_t seed = 0;
  std::string rows;
  int64_t images = 4;
  std::string out;
};

const char* kFooter = R"(Attacks (--attack):
  fgsm      one signed-gradient step of size eps
  bim       iterative FGSM from the input (10 steps)
  pgd       projected gradient descent from a random start (40 steps of
            2.5 eps / steps; --restarts), best iterate kept
  pgd-l2    pgd under the L2 norm
  mifgsm    momentum iterative FGSM (10 steps)
  cw        Carlini-Wagner L2 (100 Adam steps, 5 binary-search steps)
  deepfool  DeepFool (50 steps), untargeted
  apgd-ce   Auto-PGD on the cross-entropy (100 steps)
  apgd-dlr  Auto-PGD on the difference-of-logits ratio (3+ classes)
  auto      apgd-ce, then apgd-dlr, then targeted apgd-dlr, each on the
            rows still classified correctly

eps is in input units, in the --norm of the attack (cw and pgd-l2: l2).
Bounds: [0, 1] for images, else each feature's min and max over the input
file, unless --bounds LO,HI. --mean/--std (one value per channel) put the
normalization in front of the model, so eps stays in input units.
Labels: --labels FILE (.npy, or .csv with one integer per line) or
--label-column of a CSV input; one per input row (or, with --rows, one
per selected row).

Examples:
  xai-attack --model models/mnist_cnn.pt \
      --input models/data/mnist_test_images.npy \
      --labels models/data/mnist_test_labels.npy --rows 0:200 \
      --attack pgd --eps 0.1,0.2,0.3 --out out/attack_pgd
  xai-attack --model models/breast_cancer_mlp.pt \
      --input models/data/breast_cancer.csv --label-column target \
      --attack apgd-ce --eps 5 --out out/attack_tabular

)";

void add_options(CLI::App& app, Args& a) {
  app.add_option("--model", a.model, "TorchScript classifier")->required();
  app.add_option("--input", a.input, "Rows to attack (.npy, .csv, .pt, images)")
      ->required();
  app.add_option("--labels", a.labels, "True labels, one per row");
  app.add_option("--label-column", a.label_column,
                 "CSV column holding the true labels");
  app.add_option("--attack", a.attack, "Attack (see below)")
      ->required()
      ->check(CLI::IsMember(xai::attack_names()).description(""));
  app.add_option("--eps", a.eps, "Radius or radii: 0.1 or 0.05,0.1,0.2")
      ->required()
      ->delimiter(',');
  app.add_option("--steps", a.steps, "Iterations (default: the attack's)");
  app.add_option("--step-size", a.step_size,
                 "Step size (cw: Adam learning rate)");
  app.add_option("--restarts", a.restarts, "pgd, apgd: random restarts");
  app.add_option("--targeted", a.targeted,
                 "none, random, least-likely or a label")
      ->capture_default_str();
  app.add_option("--norm", a.norm, "linf or l2")
      ->check(CLI::IsMember({"linf", "l2"}).description(""))
      ->capture_default_str();
  app.add_option("--bounds", a.bounds, "LO,HI of valid inputs")
      ->delimiter(',')
      ->expected(2);
  app.add_option("--mean", a.mean, "Per-channel mean of the normalization")
      ->delimiter(',');
  app.add_option("--std", a.std, "Per-channel std of the normalization")
      ->delimiter(',');
  app.add_option("--device", a.device, "cpu, cuda, cuda:N or auto")
      ->capture_default_str();
  app.add_option("--max-batch", a.max_batch, "Most rows attacked at once")
      ->capture_default_str();
  app.add_option("--seed", a.seed, "Seed of random starts and targets")
      ->capture_default_str();
  app.add_option("--rows", a.rows, "Attack rows A..B-1 only (A:B, A:, :B)");
  app.add_option("--images", a.images, "PNGs of the first N image rows")
      ->capture_default_str();
  app.add_option("--out", a.out, "Directory for report.json and the rest")
      ->required();
}

// Checks the options before anything is loaded.
void validate(const CLI::App& app, const Args& a) {
  if (a.labels.empty() == a.label_column.empty()) {
    xai::app::usage_error(
        "give the true labels with exactly one of "
        "--labels FILE and --label-column NAME");
  }
  if (a.eps.empty()) xai::app::usage_error("--eps needs at least one value");
  for (size_t i = 0; i < a.eps.size(); ++i) {
    double e = a.eps[i];
    if (std::find(a.eps.begin(), a.eps.begin() + i, e) != a.eps.begin() + i) {
      xai::app::usage_error("--eps lists " + fmt::format("{}", e) + " twice");
    }
    if (!(std::isfinite(e) && e >= 0)) {
      throw xai::InvalidArgument("invalid --eps: " + fmt::format("{}", e) +
                                 " (must be >= 0 and finite)");
    }
  }
  if (app.count("--steps") > 0 && a.steps < 1) {
    throw xai::InvalidArgument("invalid --steps: " + std::to_string(a.steps) +
                               " (must be >= 1)");
  }
  if (app.count("--restarts") > 0 && a.restarts < 1) {
    throw xai::InvalidArgument("invalid --restarts: " +
                               std::to_string(a.restarts) + " (must be >= 1)");
  }
  if (app.count("--step-size") > 0 &&
      !(std::isfinite(a.step_size) && a.step_size > 0)) {
    throw xai::InvalidArgument(
        "invalid --step-size: " + fmt::format("{}", a.step_size) +
        " (must be > 0)");
  }
  if (a.images < 0) {
    throw xai::InvalidArgument("invalid --images: " + std::to_string(a.images) +
                               " (must be >= 0)");
  }
  if (!a.bounds.empty() && a.bounds[0] > a.bounds[1]) {
    throw xai::InvalidArgument("invalid --bounds: lo " +
                               fmt::format("{}", a.bounds[0]) + " > hi " +
                               fmt::format("{}", a.bounds[1]));
  }
  if ((a.attack == "cw" || a.attack == "pgd-l2") && a.norm == "linf" &&
      app.count("--norm") > 0) {
    xai::app::usage_error("--attack " + a.attack +
                          " is an L2 attack; drop "
                          "--norm linf");
  }
  xai::Targeting::parse(a.targeted);
  xai::parse_device(a.device);
  if (!a.rows.empty()) xai::app::parse_row_range(a.rows);
  xai::app::check_output_dir(a.out);
}

// The input rows, keeping float64 .npy files in float64.
xai::Dataset load_input(const Args& a) {
  bool npy =
      a.input.size() > 4 && a.input.compare(a.input.size() - 4, 4, ".npy") == 0;
  if (!npy) {
    xai::LoadOptions load;
    load.label_column = a.label_column;
    return xai::load_data(a.input, load);
  }
  if (!a.label_column.empty()) {
    throw xai::InvalidArgument("invalid --label-column: " + a.input +
                               " is not a CSV file (use --labels FILE)");
  }
  xai::Dataset d;
  d.x = xai::load_npy(a.input);
  if (!d.x.is_floating_point()) d.x = d.x.to(torch::kFloat32);
  return d;
}

xai::ThreatModel make_threat(const Args& a, const torch::Tensor& all_rows) {
  xai::ThreatModel t;
  t.norm = xai::parse_norm(a.norm);
  t.targeting = xai::Targeting::parse(a.targeted);
  t.mean = a.mean;
  t.std = a.std;
  t.seed = a.seed;
  t.max_batch = a.max_batch;
  if (!a.bounds.empty()) {
    t.lo = torch::tensor(a.bounds[0], torch::kFloat64);
    t.hi = torch::tensor(a.bounds[1], torch::kFloat64);
  } else if (all_rows.dim() == 2) {
    // Tabular rows: each feature's range over the whole input file.
    t.lo = std::get<0>(all_rows.min(0)).to(torch::kFloat64);
    t.hi = std::get<0>(all_rows.max(0)).to(torch::kFloat64);
  }
  return t;
}

std::string fixed(double v, int digits = 4) {
  return fmt::format("{:.{}f}", v, digits);
}

void run(const CLI::App& app, const Args& a) {
  const auto start = Clock::now();
  validate(app, a);

  xai::Model model = xai::Model::load(a.model, a.device);
  spdlog::info("loaded {} ({}) on {}", a.model, model.signature(),
               model.device().str());
  xai::Dataset input = load_input(a);
  torch::Tensor labels =
      a.labels.empty() ? input.labels : xai::load_labels(a.labels);
  torch::Tensor x = input.x;
  if (!a.rows.empty()) {
    xai::app::RowRange range = xai::app::parse_row_range(a.rows);
    x = xai::app::slice_rows(x, range, a.input);
    // Labels for every input row follow the selection; labels for just
    // the selected rows are taken as they are.
    if (labels.defined() && labels.size(0) == input.x.size(0)) {
      labels = xai::app::slice_rows(labels, range, a.labels);
    } else if (labels.defined() && labels.size(0) != x.size(0)) {
      throw xai::InvalidArgument(
          "cannot attack input: " + std::to_string(labels.size(0)) +
          " labels for " + std::to_string(input.x.size(0)) + " rows of " +
          a.input + " and " + std::to_string(x.size(0)) +
          " selected rows (give one label per input row, or one per "
          "selected row)");
    }
  }

  xai::AttackConfig config;
  config.threat = make_threat(a, input.x);
  if (a.bounds.empty() && config.threat.lo.defined()) {
    int64_t fixed = config.threat.lo.eq(config.threat.hi).sum().item<int64_t>();
    if (fixed > 0) {
      spdlog::warn(
          "{} of {} features take a single value in {}, so their "
          "bounds allow no change; give --bounds to attack them",
          fixed, config.threat.lo.numel(), a.input);
    }
  }
  config.steps = a.steps;
  config.step_size = a.step_size;
  config.restarts = a.restarts;

  std::vector<xai::AttackRun> runs;
  std::string attack_str;
  xai::Norm norm = config.threat.norm;
  for (double eps : a.eps) {
    config.threat.eps = eps;
    auto attack = xai::make_attack(a.attack, model, config);
    attack_str = attack->str();
    norm = attack->threat().norm;
    spdlog::info("attacking {} rows with {}", x.size(0), attack_str);
    xai::AttackRun run;
    run.eps = eps;
    run.result = attack->run(x, labels);
    // A one-step attack should never beat an iterative one.
    if (a.attack != "fgsm" && eps > 0) {
      xai::AttackConfig weak = config;
      weak.threat = attack->threat();
      if (weak.threat.targeting.targeted() ==
          config.threat.targeting.targeted()) {
        xai::AttackResult fgsm =
            xai::make_attack("fgsm", model, weak)->run(x, labels);
        std::string note =
            xai::weaker_attack_note(run.result, fgsm, a.attack, "fgsm");
        if (!note.empty()) {
          spdlog::warn("{}", note);
          run.notes.push_back(note);
        }
      }
    }
    runs.push_back(std::move(run));
  }

  xai::AttackReportMeta meta;
  meta.model_path = a.model;
  meta.model_sha256 = model.sha256();
  meta.input_path = a.input;
  meta.labels_path = a.labels.empty() ? "column " + a.label_column : a.labels;
  meta.device = model.device().str();
  meta.attack = a.attack;
  meta.attack_str = attack_str;
  meta.threat = config.threat;
  meta.threat.norm = norm;
  meta.total_seconds =
      std::chrono::duration<double>(Clock::now() - start).count();
  xai::write_attack_report(a.out, meta, x, runs, a.images);

  const xai::AttackResult& first = runs.front().result;
  std::cout << a.attack << " on " << x.size(0) << " rows of " << a.input
            << ": clean accuracy " << fixed(first.clean_accuracy()) << "\n";
  std::vector<std::vector<std::string>> table;
  for (const auto& run : runs) {
    xai::RobustnessNumbers n = xai::robustness_numbers(x, run.result);
    table.push_back({fixed(run.eps, 3), fixed(n.robust_accuracy),
                     fixed(n.success_rate), fixed(n.successful.l2.median),
                     fixed(n.successful.linf.median),
                     fixed(run.result.seconds, 2)});
  }
  xai::app::print_table(std::cout,
                        {"eps", "robust accuracy", "success rate", "median l2",
                         "median linf", "seconds"},
                        table, {true, true, true, true, true, true});
  if (runs.size() == 1 && first.stages.size() > 1) {
    std::cout << "accuracy after each stage:";
    for (const auto& [name, accuracy] : first.stages) {
      std::cout << " " << name << " " << fixed(accuracy);
    }
    std::cout << "\n";
  }
  std::vector<std::string> warnings;
  for (const auto& run : runs) {
    for (const auto* list : {&run.result.warnings, &run.notes}) {
      for (const auto& w : *list) {
        if (std::find(warnings.begin(), warnings.end(), w) == warnings.end()) {
          warnings.push_back(w);
          std::cout << "warning: " << w << "\n";
        }
      }
    }
  }
  std::cout << "wrote " << a.out << "/report.json and "
            << (runs.size() == 1 ? "adversarial.npy"
                                 : "adversarial_eps<eps>.npy files")
            << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Attacks a TorchScript classifier on the rows of a data file and\n"
      "reports its robust accuracy.",
      "xai-attack"};
  Args args;
  xai::app::LoggingFlags logging;
  add_options(app, args);
  xai::app::add_logging_flags(app, logging);
  app.footer(std::string(kFooter) + xai::app::exit_codes_help());
  return xai::app::run_main(app, logging, argc, argv, [&] { run(app, args); });
}
