// Benchmark of the attribution methods on the bundled models.
//
// For each case it prints wall time, model rows evaluated, the floor (the
// same number of batched forward and backward passes, of the same batch
// sizes, through the unmodified model), their ratio, and the peak resident
// memory of a process that ran only that case. Times are the best of three.
//
// Usage: xai-bench [SOURCE_DIR]   (default: the current directory)
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "xai/attribution/deeplift.h"
#include "xai/attribution/gradients.h"
#include "xai/io/data.h"
#include "xai/io/npy.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Result {
  double seconds = 0, floor_seconds = 0;
  long evaluations = 0, passes = 0;
  long peak_kb = 0;
};

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// The floor: `passes` forward+backward passes of `rows_per_pass` rows
// (the last one smaller) through the unmodified model, one backward per
// target.
double floor_seconds(const xai::Model& model, const torch::Tensor& pool,
                     long rows, long max_batch, long targets) {
  auto start = Clock::now();
  for (long b = 0; b < rows; b += max_batch) {
    long n = std::min(max_batch, rows - b);
    auto idx = torch::arange(b, b + n) % pool.size(0);
    auto x = pool.index_select(0, idx).requires_grad_(true);
    auto out = model.forward(x);
    for (long t = 0; t < targets; ++t) {
      torch::autograd::grad({out.select(1, t).sum()}, {x}, {},
                            t + 1 < targets);
    }
  }
  return since(start);
}

struct Case {
  std::string name;
  std::function<Result()> run;
};

Result measure(const xai::Model& model, const xai::Explainer& method,
               const torch::Tensor& x, const torch::Tensor& pool,
               long max_batch) {
  // Best of three runs each, so that a busy machine disturbs less.
  Result r;
  r.seconds = r.floor_seconds = 1e30;
  for (int rep = 0; rep < 3; ++rep) {
    auto start = Clock::now();
    xai::Attribution a = method.attribute(x, xai::Target::parse("pred"));
    r.seconds = std::min(r.seconds, since(start));
    r.evaluations = a.model_evaluations;
    r.passes = a.forward_passes;
    r.floor_seconds = std::min(
        r.floor_seconds,
        floor_seconds(model, pool, a.model_evaluations, max_batch, 1));
  }
  return r;
}

// Runs one case in a child process so that its peak RSS is its own.
Result isolated(const Case& c) {
  int fd[2];
  if (pipe(fd) != 0) return {};
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    close(fd[0]);
    Result r = c.run();
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    r.peak_kb = usage.ru_maxrss;
    if (write(fd[1], &r, sizeof r) != sizeof r) _exit(1);
    _exit(0);
  }
  close(fd[1]);
  Result r;
  if (read(fd[0], &r, sizeof r) != sizeof r) r = {};
  close(fd[0]);
  waitpid(pid, nullptr, 0);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  std::string root = argc > 1 ? argv[1] : ".";
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
                      std::function<torch::Tensor()> data, long rows,
                      long bg) {
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
  cases.push_back({"breast_cancer deepshap bg=100 (569 rows)",
                   deepshap(tabular, breast, 569, 100)});
  cases.push_back({"breast_cancer deepshap bg=1000 (569 rows)",
                   deepshap(tabular, [breast]() {
                     return breast().repeat({2, 1});
                   }, 569, 1000)});
  cases.push_back({"breast_cancer ig steps=50 (569 rows)",
                   ig(tabular, breast, 569)});
  cases.push_back({"breast_cancer gradshap samples=50 (569 rows)",
                   gradshap(tabular, breast, 569)});
  cases.push_back({"mnist_cnn deepshap bg=100 (20 digits)",
                   deepshap(cnn, digits, 20, 100)});
  cases.push_back({"mnist_cnn ig steps=50 (20 digits)", ig(cnn, digits, 20)});
  cases.push_back({"mnist_cnn gradshap samples=50 (20 digits)",
                   gradshap(cnn, digits, 20)});

  std::printf("%-46s %9s %9s %9s %6s %9s\n", "case", "time s", "evals",
              "floor s", "ratio", "peak MiB");
  for (const auto& c : cases) {
    Result r = isolated(c);
    std::printf("%-46s %9.3f %9ld %9.3f %6.2f %9.1f\n", c.name.c_str(),
                r.seconds, r.evaluations, r.floor_seconds,
                r.floor_seconds > 0 ? r.seconds / r.floor_seconds : 0.0,
                r.peak_kb / 1024.0);
    std::fflush(stdout);
  }
  return 0;
}
