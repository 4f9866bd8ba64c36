// Activation-maximization steps per second against their floor: one
// forward and backward pass of the same batch through the model, plus the
// transforms. Prints peak RSS.

#include <sys/resource.h>

#include <chrono>
#include <iostream>
#include <random>

#include "xai/visualize/visualize.h"

int main(int argc, char** argv) {
  std::string path = argc > 1 ? argv[1] : "models/mnist_cnn.pt";
  int64_t batch = argc > 2 ? std::stoll(argv[2]) : 8;
  int64_t steps = argc > 3 ? std::stoll(argv[3]) : 40;
  xai::Model model = xai::Model::load(path);
  xai::VisualizeOptions o;
  o.row_shape = {1, 28, 28};
  o.batch = batch;
  o.steps = steps;
  o.redirect_relu_steps = 0;
  xai::Visualizer vis(model, {xai::Objective::channel("conv2", 3)}, o);
  vis.run();  // warm-up
  auto t0 = std::chrono::steady_clock::now();
  vis.run();
  double run_s = std::chrono::duration<double>(
                     std::chrono::steady_clock::now() - t0).count();

  std::mt19937_64 rng(0);
  torch::Tensor x = torch::rand({batch, 1, 28, 28}).requires_grad_(true);
  auto t1 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < steps; ++i) {
    torch::Tensor y = model.forward(xai::random_transform(x, o.transforms,
                                                          rng));
    y.sum().backward();
  }
  double floor_s = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - t1).count();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::cout << "batch " << batch << ", " << steps << " steps\n"
            << "visualize: " << steps / run_s << " steps/s\n"
            << "floor (forward+backward+transforms): " << steps / floor_s
            << " steps/s\n"
            << "ratio: " << floor_s / run_s << "\n"
            << "peak RSS: " << usage.ru_maxrss / 1024.0 << " MiB\n";
}
