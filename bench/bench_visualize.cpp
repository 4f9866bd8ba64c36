// Activation-maximization steps per second against their floor: per step,
// the transforms and one forward and backward pass of the same batch
// through the model, reading the same layer. Prints the time ratio
// (optimization / floor) and peak RSS.
//
// Usage: xai-bench-visualize [MODEL [BATCH [STEPS]]] (default
// models/mnist_cnn.pt, 8, 40), from the repository root.

#include <sys/resource.h>

#include <chrono>
#include <iostream>
#include <random>

#include "xai/visualize/layers.h"
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
  double run_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();

  std::mt19937_64 rng(0);
  xai::LayerReader reader(model, {"conv2"});
  torch::Tensor x = torch::rand({batch, 1, 28, 28}).requires_grad_(true);
  auto t1 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < steps; ++i) {
    torch::Tensor in = xai::random_transform(x, o.transforms, rng);
    torch::Tensor conv2 = reader.forward(in)[1];
    torch::autograd::grad({conv2.select(1, 3).mean()}, {x});
  }
  double floor_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t1)
          .count();
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  std::cout << "batch " << batch << ", " << steps << " steps\n"
            << "visualize: " << steps / run_s << " steps/s\n"
            << "floor (forward+backward+transforms): " << steps / floor_s
            << " steps/s\n"
            << "time ratio (visualize / floor): " << run_s / floor_s << "\n"
            << "peak RSS: " << usage.ru_maxrss / 1024.0 << " MiB\n";
}
