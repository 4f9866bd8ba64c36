// Benchmark of the attribution methods on the bundled models.
//
// For each case it prints wall time, model rows evaluated, the floor (the
// same number of batched passes, of the same batch sizes, through the
// unmodified model: forward and backward for gradient methods, forward only
// for the model-agnostic ones), their ratio, and the peak resident memory
// of a process that ran only that case. Times are the best of three (of one
// for the slowest cases).
//
// Usage: xai-bench [SOURCE_DIR [FILTER]]: the bundled models under
// SOURCE_DIR (default: the current directory); only the cases whose name
// contains FILTER, when given.
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench_util.h"
#include "xai/attribution/deeplift.h"
#include "xai/attribution/gradients.h"
#include "xai/attribution/shapley.h"
#include "xai/io/data.h"
#include "xai/io/npy.h"

namespace {

using xai::bench::Clock;
using xai::bench::since;

struct Result {
  double seconds = 0, floor_seconds = 0;
  long evaluations = 0, passes = 0;
  long peak_kb = 0;
};

// The floor: `rows` model rows in passes of `max_batch` rows (the last one
// smaller) through the unmodified model; with `backward`, each pass is
// followed by a backward pass of the summed outputs.
double floor_seconds(const xai::Model& model, const torch::Tensor& pool,
                     long rows, long max_batch, bool backward) {
  auto start = Clock::now();
  for (long b = 0; b < rows; b += max_batch) {
    long n = std::min(max_batch, rows - b);
    auto idx = torch::arange(b, b + n) % pool.size(0);
    auto x = pool.index_select(0, idx);
    if (!backward) {
      torch::NoGradGuard no_grad;
      model.forward(x);
      continue;
    }
    x.requires_grad_(true);
    auto out = model.forward(x);
    torch::autograd::grad({out.select(1, 0).sum()}, {x});
  }
  return since(start);
}

struct Case {
  std::string name;
  std::function<Result()> run;
};

Result measure(const xai::Model& model, const xai::Explainer& method,
               const torch::Tensor& x, const torch::Tensor& pool,
               long max_batch, bool backward = true, int repeats = 3) {
  // Best of several runs, so that a busy machine disturbs less.
  Result r;
  r.seconds = r.floor_seconds = 1e30;
  for (int rep = 0; rep < repeats; ++rep) {
    auto start = Clock::now();
    xai::Attribution a = method.attribute(x, xai::Target::parse("pred"));
    r.seconds = std::min(r.seconds, since(start));
    r.evaluations = a.model_evaluations;
    r.passes = a.forward_passes;
    r.floor_seconds = std::min(
        r.floor_seconds,
        floor_seconds(model, pool, a.model_evaluations, max_batch, backward));
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string root = argc > 1 ? argv[1] : ".";
  std::string filter = argc > 2 ? argv[2] : "";
  torch::set_num_threads(std::max(1, torch::get_num_threads()));
  const long kBatch = 2048;

  auto breast = [root]() {
    xai::LoadOptions o;
    o.label_column = "target";
    return xai::load_data(root + "/models/data/breast_cancer.csv", o).x;
  };
  auto digits = [root]() {
    return xai::load_npy(root + "/models/data/mnist_test_images.npy");
  };
  auto tabular = [root]() {
    return xai::Model::load(root + "/models/breast_cancer_mlp.pt");
  };
  auto cnn = [root]() {
    return xai::Model::load(root + "/models/mnist_cnn.pt");
  };

  std::vector<Case> cases;
  auto deepshap = [=](std::function<xai::Model()> load,
                      std::function<torch::Tensor()> data, long rows, long bg) {
    return [=]() {
      xai::Model m = load();
      auto all = data();
      xai::DeepLiftOptions o;
      o.max_batch = kBatch;
      xai::DeepShap method(m, all.slice(0, all.size(0) - bg), o);
      return measure(m, method, all.slice(0, 0, rows), all, kBatch);
    };
  };
  auto ig = [=](std::function<xai::Model()> load,
                std::function<torch::Tensor()> data, long rows) {
    return [=]() {
      xai::Model m = load();
      auto all = data();
      xai::IntegratedGradientsOptions o;
      o.max_batch = kBatch;
      xai::IntegratedGradients method(m, o);
      return measure(m, method, all.slice(0, 0, rows), all, kBatch);
    };
  };
  auto gradshap = [=](std::function<xai::Model()> load,
                      std::function<torch::Tensor()> data, long rows) {
    return [=]() {
      xai::Model m = load();
      auto all = data();
      xai::GradientShapOptions o;
      o.max_batch = kBatch;
      o.background = all.slice(0, all.size(0) - 100);
      xai::GradientShap method(m, o);
      return measure(m, method, all.slice(0, 0, rows), all, kBatch);
    };
  };
  // Model-agnostic methods: forward passes only, in chunks of 4096 rows.
  const long kShapleyBatch = 4096;
  auto kernelshap = [=](long rows) {
    return [=]() {
      xai::Model m = tabular();
      auto all = breast();
      xai::KernelShapOptions o;
      o.background = all.slice(0, all.size(0) - 100);
      xai::KernelShap method(m, o);
      return measure(m, method, all.slice(0, 0, rows), all, kShapleyBatch,
                     /*backward=*/false);
    };
  };
  auto exact = [=](std::function<xai::Model()> load,
                   std::function<torch::Tensor()> data, xai::Players players,
                   long rows, long bg, int repeats) {
    return [=]() {
      xai::Model m = load();
      auto all = data();
      xai::ExactShapleyOptions o;
      o.background = all.slice(0, all.size(0) - bg);
      o.players = players;
      xai::ExactShapley method(m, o);
      return measure(m, method, all.slice(0, 0, rows), all, kShapleyBatch,
                     /*backward=*/false, repeats);
    };
  };
  xai::Players twelve_columns(torch::arange(30, torch::kInt64) % 12);
  xai::Players twelve_patches = xai::Players::grid(28, 28, 7, 10);
  cases.push_back(
      {"breast_cancer kernelshap bg=100 (20 rows)", kernelshap(20)});
  cases.push_back({"breast_cancer shapley 12 groups bg=100 (5 rows)",
                   exact(tabular, breast, twelve_columns, 5, 100, 3)});
  cases.push_back({"mnist_cnn shapley 12 patches bg=10 (1 digit)",
                   exact(cnn, digits, twelve_patches, 1, 10, 1)});

  cases.push_back({"breast_cancer deepshap bg=100 (569 rows)",
                   deepshap(tabular, breast, 569, 100)});
  cases.push_back({"breast_cancer deepshap bg=1000 (569 rows)",
                   deepshap(
                       tabular,
                       [breast]() {
                         return breast().repeat({2, 1});
                       },
                       569, 1000)});
  cases.push_back(
      {"breast_cancer ig steps=50 (569 rows)", ig(tabular, breast, 569)});
  cases.push_back({"breast_cancer gradshap samples=50 (569 rows)",
                   gradshap(tabular, breast, 569)});
  cases.push_back({"mnist_cnn deepshap bg=100 (20 digits)",
                   deepshap(cnn, digits, 20, 100)});
  cases.push_back({"mnist_cnn ig steps=50 (20 digits)", ig(cnn, digits, 20)});
  cases.push_back(
      {"mnist_cnn gradshap samples=50 (20 digits)", gradshap(cnn, digits, 20)});

  std::printf("%-48s %9s %9s %9s %6s %9s\n", "case", "time s", "evals",
              "floor s", "ratio", "peak MiB");
  for (const auto& c : cases) {
    if (c.name.find(filter) == std::string::npos) continue;
    Result r = xai::bench::isolated<Result>(c.run);
    std::printf("%-48s %9.3f %9ld %9.3f %6.2f %9.1f\n", c.name.c_str(),
                r.seconds, r.evaluations, r.floor_seconds,
                r.floor_seconds > 0 ? r.seconds / r.floor_seconds : 0.0,
                r.peak_kb / 1024.0);
    std::fflush(stdout);
  }
  return 0;
}
