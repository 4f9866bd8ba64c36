// Benchmark of the gradient attacks on the bundled MNIST models.
//
// For each case it prints wall time, the batched forward and backward
// passes the attack ran, the floor (the same number of forward passes of the
// same batch size through the model, as many of them followed by a backward
// pass of the cross-entropy to the input as the attack ran), their ratio,
// and the peak resident memory of a process that ran only that case.
//
// The floor's passes run on the attack's own adversarial examples: that is
// where an attack spends nearly all of its passes, and on a CPU a backward
// pass through saturated outputs (tiny, denormal gradients) is measurably
// slower than one at a clean input, which would understate the floor. The
// model is warmed up first (TorchScript optimizes a graph over its first
// runs); times are the best of two runs each, interleaved.
//
// Usage: xai-bench-attack [SOURCE_DIR [FILTER]]: the bundled models under
// SOURCE_DIR (default: the current directory); only the cases whose name
// contains FILTER, when given.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "bench_util.h"
#include "xai/attack/apgd.h"
#include "xai/attack/gradient_attacks.h"
#include "xai/io/npy.h"

namespace {

using xai::bench::Clock;
using xai::bench::since;

struct Result {
  double seconds = 0, floor_seconds = 0, robust_accuracy = 0;
  long forward = 0, backward = 0;
  long peak_kb = 0;
};

// `forward` forward passes of `batch` rows of `x` (cycling through it), the
// first `backward` of them followed by a backward pass of the
// cross-entropy to the input.
double floor_seconds(const xai::Model& model, const torch::Tensor& x,
                     const torch::Tensor& y, long forward, long backward,
                     long batch) {
  auto start = Clock::now();
  for (long p = 0; p < forward; ++p) {
    long b = (p * batch) % x.size(0);
    long e = std::min<long>(x.size(0), b + batch);
    if (p >= backward) {
      torch::NoGradGuard no_grad;
      model.forward(x.slice(0, b, e));
      continue;
    }
    auto xb = x.slice(0, b, e).detach().requires_grad_(true);
    auto loss = torch::nn::functional::cross_entropy(model.forward(xb),
                                                     y.slice(0, b, e));
    torch::autograd::grad({loss}, {xb});
  }
  return since(start);
}

struct Case {
  std::string name;
  std::function<Result()> run;
};

}  // namespace

int main(int argc, char** argv) {
  std::string root = argc > 1 ? argv[1] : ".";
  std::string filter = argc > 2 ? argv[2] : "";
  const long kDigits = 1000;

  auto make = [=](std::string file, std::string attack) {
    return [=]() {
      xai::Model model = xai::Model::load(root + "/models/" + file);
      auto x = xai::load_npy(root + "/models/data/mnist_test_images.npy")
                   .slice(0, 0, kDigits);
      auto y = xai::load_npy(root + "/models/data/mnist_test_labels.npy")
                   .slice(0, 0, kDigits);
      xai::ThreatModel threat;
      threat.eps = 0.3;
      std::unique_ptr<xai::Attack> a;
      if (attack == "pgd") {
        a = std::make_unique<xai::Pgd>(model, threat);  // 40 steps
      } else {
        a = std::make_unique<xai::Apgd>(model, threat);  // 100 steps, CE
      }
      floor_seconds(model, x, y, 4, 4, threat.max_batch);  // warm-up
      Result out;
      out.seconds = out.floor_seconds = 1e30;
      for (int rep = 0; rep < 2; ++rep) {
        auto start = Clock::now();
        xai::AttackResult r = a->run(x, y);
        out.seconds = std::min(out.seconds, since(start));
        out.forward = r.forward_passes;
        out.backward = r.backward_passes;
        out.robust_accuracy = r.robust_accuracy();
        out.floor_seconds =
            std::min(out.floor_seconds,
                     floor_seconds(model, r.adversarial, y, r.forward_passes,
                                   r.backward_passes, threat.max_batch));
      }
      return out;
    };
  };

  std::vector<Case> cases = {
      {"mnist_cnn pgd-40 eps=0.3 (1000 digits)", make("mnist_cnn.pt", "pgd")},
      {"mnist_cnn_robust pgd-40 eps=0.3 (1000 digits)",
       make("mnist_cnn_robust.pt", "pgd")},
      {"mnist_cnn apgd-ce-100 eps=0.3 (1000 digits)",
       make("mnist_cnn.pt", "apgd")},
      {"mnist_cnn_robust apgd-ce-100 eps=0.3 (1000 digits)",
       make("mnist_cnn_robust.pt", "apgd")},
  };

  std::printf("%-50s %8s %7s %7s %8s %6s %8s %9s\n", "case", "time s", "fwd",
              "bwd", "floor s", "ratio", "accuracy", "peak MiB");
  for (const auto& c : cases) {
    if (c.name.find(filter) == std::string::npos) continue;
    Result r = xai::bench::isolated<Result>(c.run);
    std::printf("%-50s %8.2f %7ld %7ld %8.2f %6.2f %8.3f %9.1f\n",
                c.name.c_str(), r.seconds, r.forward, r.backward,
                r.floor_seconds,
                r.floor_seconds > 0 ? r.seconds / r.floor_seconds : 0.0,
                r.robust_accuracy, r.peak_kb / 1024.0);
    std::fflush(stdout);
  }
  return 0;
}
