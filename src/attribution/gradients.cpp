#include "xai/attribution/gradients.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <sstream>
#include <utility>

#include "text.h"
#include "xai/error.h"

namespace xai {
namespace {

using detail::forward_rows;

using detail::number_str;
using detail::shape_str;
using detail::Stopwatch;

const char* bool_str(bool value) { return value ? "true" : "false"; }

void check_positive(const char* name, int64_t value) {
  if (value < 1) {
    throw InvalidArgument("invalid " + std::string(name) + ": " +
                          std::to_string(value) + " (must be >= 1)");
  }
}

void check_noise(double noise) {
  if (!std::isfinite(noise) || noise < 0) {
    throw InvalidArgument("invalid noise: " + number_str(noise) +
                          " (must be a finite number >= 0)");
  }
}

// Checks that reference rows (a baseline or a background) are a non-empty
// batch; their row shape is compared with the input's in attribute().
void check_reference(const char* name, const torch::Tensor& reference) {
  if (!reference.defined()) {
    throw InvalidArgument("invalid " + std::string(name) +
                          ": none (give reference rows [k, ...])");
  }
  if (reference.dim() == 0 || reference.size(0) == 0) {
    throw InvalidArgument("invalid " + std::string(name) + ": shape " +
                          shape_str(reference.sizes()) +
                          " (must have at least 1 row)");
  }
}

void check_row_shape(const char* name, const torch::Tensor& reference,
                     const torch::Tensor& x) {
  if (reference.sizes().slice(1) != x.sizes().slice(1)) {
    throw InvalidArgument("invalid " + std::string(name) + ": row shape " +
                          shape_str(reference.sizes().slice(1)) +
                          " (must match the input row shape " +
                          shape_str(x.sizes().slice(1)) + ")");
  }
}

// Views a per-model-row tensor [n] as [n, 1, ..., 1] with `dims` dimensions,
// to scale tensors shaped [n, ...].
torch::Tensor per_row(const torch::Tensor& v, int64_t dims) {
  std::vector<int64_t> shape(dims, 1);
  shape[0] = v.size(0);
  return v.reshape(shape);
}

torch::Tensor to_cpu_float(const torch::Tensor& t) {
  return t.detach().to(torch::kCPU, torch::kFloat32);
}


struct GradPass {
  torch::Tensor outputs;  // [n, outputs], detached
  torch::Tensor targets;  // int64 [n, T]
  torch::Tensor grads;    // [n, T, ...row shape]
};

// One forward pass over `points` [n, ...] and one backward pass per target
// column t, giving d(sum_i f(points)[i, targets[i, t]]) / d points. Rows do
// not interact, so that is each row's own gradient. When `targets` is
// undefined they are selected from this pass's outputs with `target`.
GradPass grad_pass(const Model& model, const torch::Tensor& points,
                   torch::Tensor targets, const Target& target,
                   Attribution& a) {
  torch::AutoGradMode grad_on(true);
  torch::Tensor in = points.detach().requires_grad_(true);
  torch::Tensor out = model.forward(in);
  a.forward_passes += 1;
  a.model_evaluations += in.size(0);
  if (!targets.defined()) {
    targets = model.select_targets(out.detach(), target).to(out.device());
  }

  int64_t columns = targets.size(1);
  std::vector<torch::Tensor> grads;
  for (int64_t t = 0; t < columns; ++t) {
    torch::Tensor picked = out.gather(1, targets.narrow(1, t, 1)).sum();
    torch::Tensor g;
    // An output that does not depend on the input has no graph to walk.
    if (picked.requires_grad()) {
      g = torch::autograd::grad({picked}, {in}, /*grad_outputs=*/{},
                                /*retain_graph=*/t + 1 < columns,
                                /*create_graph=*/false,
                                /*allow_unused=*/true)[0];
      a.backward_passes += 1;
    }
    grads.push_back(g.defined() ? g : torch::zeros_like(in));
  }
  return {out.detach(), targets, torch::stack(grads, 1)};
}

// The model rows of an expansion of every input row into `per_row` rows
// (steps or samples): model row i stands for input row i / per_row and
// slot i % per_row.
struct Chunk {
  int64_t begin = 0;
  int64_t end = 0;
  torch::Tensor row;   // int64 [end - begin], on the model's device
  torch::Tensor slot;  // int64 [end - begin]
};

struct ChunkPoints {
  torch::Tensor points;  // [n, ...row shape]
  // Multiplies the gradients [n, T, ...] before they are summed per input
  // row; undefined for 1.
  torch::Tensor weight;
};

// Sums weight * gradient over the `per_row` expanded rows of each input
// row, in chunks of at most `max_batch` model rows visited in increasing
// order. `make(chunk)` returns the chunk's points and weights; `targets`
// [rows, T] selects the outputs. Returns [rows, T, ...row shape].
template <typename Make>
torch::Tensor sum_gradients(const Model& model, const torch::Tensor& x,
                            const torch::Tensor& targets, int64_t per_row,
                            int64_t max_batch, Make&& make, Attribution& a) {
  std::vector<int64_t> shape = x.sizes().vec();
  shape.insert(shape.begin() + 1, targets.size(1));
  torch::Tensor sum = torch::zeros(shape, x.options());

  auto index_opts =
      torch::TensorOptions().dtype(torch::kInt64).device(x.device());
  detail::for_each_chunk(
      x.size(0) * per_row, max_batch, [&](int64_t b, int64_t e) {
        Chunk chunk;
        chunk.begin = b;
        chunk.end = e;
        torch::Tensor i = torch::arange(b, e, index_opts);
        chunk.row = i.div(per_row, "floor");
        chunk.slot = i - chunk.row * per_row;

        ChunkPoints p = make(chunk);
        GradPass pass = grad_pass(
            model, p.points, targets.index_select(0, chunk.row), Target{}, a);
        torch::Tensor g =
            p.weight.defined() ? pass.grads * p.weight : pass.grads;
        sum.index_add_(0, chunk.row, g);
      });
  return sum;
}

// Gaussian noise for the model rows of an expansion, drawn one input row
// (all its `per_row` samples) at a time in row order. The stream of draws
// is thus the same however the expansion is chunked, as long as chunks are
// requested in increasing order (sum_gradients does so).
class RowNoise {
 public:
  // `stdev`: double [rows] on the CPU, the noise scale of each input row.
  RowNoise(at::Generator generator, int64_t per_row, c10::IntArrayRef row_shape,
           torch::Tensor stdev)
      : generator_(std::move(generator)),
        per_row_(per_row),
        shape_(row_shape.vec()),
        stdev_(std::move(stdev)) {
    shape_.insert(shape_.begin(), per_row_);
  }

  // Noise for model rows [begin, end): double [end - begin, ...] on the CPU.
  torch::Tensor take(int64_t begin, int64_t end) {
    std::vector<torch::Tensor> parts;
    for (int64_t r = begin / per_row_; r * per_row_ < end; ++r) {
      if (r != row_) {
        TORCH_INTERNAL_ASSERT(r == row_ + 1, "noise rows out of order");
        current_ = torch::randn(shape_, generator_, torch::kFloat64) *
                   stdev_[r].item<double>();
        row_ = r;
      }
      int64_t lo = std::max(begin, r * per_row_) - r * per_row_;
      int64_t hi = std::min(end, (r + 1) * per_row_) - r * per_row_;
      parts.push_back(current_.slice(0, lo, hi));
    }
    return torch::cat(parts);
  }

 private:
  at::Generator generator_;
  int64_t per_row_;
  std::vector<int64_t> shape_;
  torch::Tensor stdev_;
  int64_t row_ = -1;
  torch::Tensor current_;
};

// Outputs and targets of a method without a reference point.
void finish_plain(Attribution& a, const torch::Tensor& outputs,
                  const torch::Tensor& targets) {
  a.targets = targets.to(torch::kCPU);
  a.outputs = to_cpu_float(outputs.gather(1, targets));
}

// Outputs, base values and completeness gap of a method with a reference.
// Unlike detail::finish_completeness, the gap is summed in float64 on the
// device from the values in the model's dtype, before the float32 copy, so
// a float64 model reports a gap free of float32 rounding.
void finish_with_reference(Attribution& a, const torch::Tensor& values,
                           const torch::Tensor& outputs,
                           const torch::Tensor& base,
                           const torch::Tensor& targets) {
  torch::Tensor picked = outputs.gather(1, targets).to(torch::kFloat64);
  torch::Tensor change = picked - base.to(torch::kFloat64);
  torch::Tensor gap = values.to(torch::kFloat64).flatten(2).sum(2) - change;
  a.targets = targets.to(torch::kCPU);
  a.outputs = to_cpu_float(picked);
  a.base_values = to_cpu_float(base);
  a.completeness_gap = to_cpu_float(gap);
}

// Gradients at x itself, with targets chosen from the same forward passes.
GradPass gradients_at_input(const Model& model, const torch::Tensor& x,
                            const Target& target, int64_t max_batch,
                            Attribution& a) {
  std::vector<torch::Tensor> outputs, targets, grads;
  detail::for_each_chunk(x.size(0), max_batch, [&](int64_t b, int64_t e) {
    GradPass p = grad_pass(model, x.slice(0, b, e), {}, target, a);
    outputs.push_back(p.outputs);
    targets.push_back(p.targets);
    grads.push_back(p.grads);
  });
  return {torch::cat(outputs), torch::cat(targets), torch::cat(grads)};
}

Quadrature gauss_legendre(int64_t n) {
  // P_n(z) and P_n'(z) by the three-term recurrence.
  auto legendre = [n](double z) {
    double p0 = 1.0;
    double p1 = z;
    for (int64_t k = 2; k <= n; ++k) {
      double p2 = ((2.0 * k - 1.0) * z * p1 - (k - 1.0) * p0) / k;
      p0 = p1;
      p1 = p2;
    }
    double derivative = n * (z * p1 - p0) / (z * z - 1.0);
    return std::make_pair(p1, derivative);
  };

  // Roots come in pairs +-z; Newton from Tricomi's estimate of the i-th
  // largest root converges in a few steps.
  Quadrature q;
  q.nodes.resize(n);
  q.weights.resize(n);
  const double pi = std::acos(-1.0);
  for (int64_t i = 0; i < (n + 1) / 2; ++i) {
    double z = std::cos(pi * (i + 0.75) / (n + 0.5));
    for (int iteration = 0; iteration < 100; ++iteration) {
      auto [p, dp] = legendre(z);
      double step = p / dp;
      z -= step;
      if (std::abs(step) < 1e-15) break;
    }
    double dp = legendre(z).second;
    double w = 2.0 / ((1.0 - z * z) * dp * dp);

    // Map [-1, 1] to [0, 1]: node (1 + z) / 2, weight w / 2.
    q.nodes[i] = (1.0 - z) / 2.0;
    q.nodes[n - 1 - i] = (1.0 + z) / 2.0;
    q.weights[i] = w / 2.0;
    q.weights[n - 1 - i] = w / 2.0;
  }
  return q;
}

at::Generator make_generator(uint64_t seed) {
  return at::detail::createCPUGenerator(seed);
}

}  // namespace

// ---------------------------------------------------------------------------

Saliency::Saliency(Model model, SaliencyOptions options)
    : model_(std::move(model)), options_(options) {
  check_positive("max_batch", options_.max_batch);
}

Attribution Saliency::attribute(const torch::Tensor& x_in,
                                const Target& target) const {
  Stopwatch watch;
  Attribution a;
  a.method = "saliency";
  a.options = {{"abs", bool_str(options_.abs)},
               {"max_batch", std::to_string(options_.max_batch)}};

  torch::Tensor x = detail::prepare_input(model_, x_in, "input").detach();
  GradPass p = gradients_at_input(model_, x, target, options_.max_batch, a);
  a.values = to_cpu_float(options_.abs ? p.grads.abs() : p.grads);
  finish_plain(a, p.outputs, p.targets);
  a.seconds = watch.seconds();
  return a;
}

std::string Saliency::str() const {
  return std::string("Saliency(abs=") + bool_str(options_.abs) +
         ", max_batch=" + std::to_string(options_.max_batch) + ")";
}

// ---------------------------------------------------------------------------

InputXGradient::InputXGradient(Model model, InputXGradientOptions options)
    : model_(std::move(model)), options_(options) {
  check_positive("max_batch", options_.max_batch);
}

Attribution InputXGradient::attribute(const torch::Tensor& x_in,
                                      const Target& target) const {
  Stopwatch watch;
  Attribution a;
  a.method = "inputxgrad";
  a.options = {{"max_batch", std::to_string(options_.max_batch)}};

  torch::Tensor x = detail::prepare_input(model_, x_in, "input").detach();
  GradPass p = gradients_at_input(model_, x, target, options_.max_batch, a);
  a.values = to_cpu_float(x.unsqueeze(1) * p.grads);
  finish_plain(a, p.outputs, p.targets);
  a.seconds = watch.seconds();
  return a;
}

std::string InputXGradient::str() const {
  return "InputXGradient(max_batch=" + std::to_string(options_.max_batch) + ")";
}

// ---------------------------------------------------------------------------

SmoothGrad::SmoothGrad(Model model, SmoothGradOptions options)
    : model_(std::move(model)), options_(options) {
  check_positive("samples", options_.samples);
  check_noise(options_.noise);
  check_positive("max_batch", options_.max_batch);
}

Attribution SmoothGrad::attribute(const torch::Tensor& x_in,
                                  const Target& target) const {
  Stopwatch watch;
  Attribution a;
  a.method = "smoothgrad";
  a.options = {{"samples", std::to_string(options_.samples)},
               {"noise", number_str(options_.noise)},
               {"seed", std::to_string(options_.seed)},
               {"max_batch", std::to_string(options_.max_batch)}};

  torch::Tensor x = detail::prepare_input(model_, x_in, "input").detach();
  torch::Tensor outputs = forward_rows(model_, x, options_.max_batch, a);
  torch::Tensor targets = model_.select_targets(outputs, target).to(x.device());

  // Noise scale per row: a fraction of the row's value range.
  torch::Tensor flat = x.detach().flatten(1);
  torch::Tensor stdev = ((flat.amax(1) - flat.amin(1)) * options_.noise)
                            .to(torch::kCPU, torch::kFloat64);
  RowNoise noise(make_generator(options_.seed), options_.samples,
                 x.sizes().slice(1), stdev);

  int64_t samples = options_.samples;
  bool noisy = options_.noise > 0;
  auto make = [&](const Chunk& c) {
    torch::Tensor points = x.index_select(0, c.row);
    if (noisy) points = points + noise.take(c.begin, c.end).to(x.options());
    return ChunkPoints{points, {}};
  };
  torch::Tensor sum =
      sum_gradients(model_, x, targets, samples, options_.max_batch, make, a);

  a.values = to_cpu_float(sum / static_cast<double>(samples));
  finish_plain(a, outputs, targets);
  a.seconds = watch.seconds();
  return a;
}

std::string SmoothGrad::str() const {
  return "SmoothGrad(samples=" + std::to_string(options_.samples) +
         ", noise=" + number_str(options_.noise) +
         ", seed=" + std::to_string(options_.seed) +
         ", max_batch=" + std::to_string(options_.max_batch) + ")";
}

// ---------------------------------------------------------------------------

std::string to_string(IntegrationRule rule) {
  switch (rule) {
    case IntegrationRule::kGaussLegendre:
      return "gauss-legendre";
    case IntegrationRule::kRiemann:
      return "riemann";
  }
  return "unknown";
}

IntegrationRule parse_integration_rule(const std::string& name) {
  if (name == "gauss-legendre") return IntegrationRule::kGaussLegendre;
  if (name == "riemann") return IntegrationRule::kRiemann;
  throw InvalidArgument("invalid rule: '" + name +
                        "' (must be gauss-legendre or riemann)");
}

Quadrature quadrature(IntegrationRule rule, int64_t n) {
  check_positive("steps", n);
  if (rule == IntegrationRule::kGaussLegendre) return gauss_legendre(n);

  Quadrature q;
  for (int64_t k = 0; k < n; ++k) {
    q.nodes.push_back((k + 0.5) / static_cast<double>(n));
    q.weights.push_back(1.0 / static_cast<double>(n));
  }
  return q;
}

IntegratedGradients::IntegratedGradients(Model model,
                                         IntegratedGradientsOptions options)
    : model_(std::move(model)), options_(std::move(options)) {
  check_positive("steps", options_.steps);
  if (options_.baseline.defined()) {
    check_reference("baseline", options_.baseline);
  }
  check_positive("max_batch", options_.max_batch);
  quadrature_ = quadrature(options_.rule, options_.steps);
}

Attribution IntegratedGradients::attribute(const torch::Tensor& x_in,
                                           const Target& target) const {
  Stopwatch watch;
  Attribution a;
  a.method = "ig";
  a.options = {{"steps", std::to_string(options_.steps)},
               {"rule", to_string(options_.rule)},
               {"baseline", options_.baseline.defined()
                                ? shape_str(options_.baseline.sizes())
                                : std::string("zeros")},
               {"max_batch", std::to_string(options_.max_batch)}};

  torch::Tensor x = detail::prepare_input(model_, x_in, "input").detach();
  int64_t rows = x.size(0);
  torch::Tensor baseline = torch::zeros_like(x.narrow(0, 0, 1));
  if (options_.baseline.defined()) {
    check_row_shape("baseline", options_.baseline, x);
    int64_t n = options_.baseline.size(0);
    if (n != 1 && n != rows) {
      throw InvalidArgument("invalid baseline: " + std::to_string(n) +
                            " rows (must be 1 or the input's " +
                            std::to_string(rows) + ")");
    }
    baseline = detail::prepare_input(model_, options_.baseline, "baseline");
  }

  // Targets come from f(x); base values are f(baseline) at the same index.
  torch::Tensor outputs = forward_rows(model_, x, options_.max_batch, a);
  torch::Tensor targets = model_.select_targets(outputs, target).to(x.device());
  torch::Tensor base_outputs =
      forward_rows(model_, baseline, options_.max_batch, a).expand({rows, -1});
  torch::Tensor base = base_outputs.gather(1, targets);

  auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor nodes = torch::tensor(quadrature_.nodes, opts).to(x.options());
  torch::Tensor weights =
      torch::tensor(quadrature_.weights, opts).to(x.options());
  torch::Tensor diff = x - baseline;
  bool shared = baseline.size(0) == 1;
  auto make = [&](const Chunk& c) {
    torch::Tensor alpha = per_row(nodes.index_select(0, c.slot), x.dim());
    torch::Tensor start = shared ? baseline : baseline.index_select(0, c.row);
    torch::Tensor points = start + alpha * diff.index_select(0, c.row);
    torch::Tensor w = per_row(weights.index_select(0, c.slot), x.dim() + 1);
    return ChunkPoints{points, w};
  };
  torch::Tensor sum = sum_gradients(model_, x, targets, options_.steps,
                                    options_.max_batch, make, a);

  torch::Tensor values = diff.unsqueeze(1) * sum;
  a.values = to_cpu_float(values);
  finish_with_reference(a, values, outputs, base, targets);
  a.seconds = watch.seconds();
  return a;
}

std::string IntegratedGradients::str() const {
  std::string text =
      "IntegratedGradients(steps=" + std::to_string(options_.steps) +
      ", rule=" + to_string(options_.rule);
  if (options_.baseline.defined()) {
    text += ", baseline=" + shape_str(options_.baseline.sizes());
  }
  return text + ", max_batch=" + std::to_string(options_.max_batch) + ")";
}

// ---------------------------------------------------------------------------

GradientShap::GradientShap(Model model, GradientShapOptions options)
    : model_(std::move(model)), options_(std::move(options)) {
  check_reference("background", options_.background);
  check_positive("samples", options_.samples);
  check_noise(options_.noise);
  check_positive("max_batch", options_.max_batch);
}

Attribution GradientShap::attribute(const torch::Tensor& x_in,
                                    const Target& target) const {
  Stopwatch watch;
  Attribution a;
  a.method = "gradshap";
  a.options = {{"background", std::to_string(options_.background.size(0))},
               {"samples", std::to_string(options_.samples)},
               {"noise", number_str(options_.noise)},
               {"seed", std::to_string(options_.seed)},
               {"max_batch", std::to_string(options_.max_batch)}};

  torch::Tensor x = detail::prepare_input(model_, x_in, "input").detach();
  check_row_shape("background", options_.background, x);
  torch::Tensor background =
      detail::prepare_input(model_, options_.background, "background");
  int64_t rows = x.size(0);
  int64_t samples = options_.samples;

  // Targets come from f(x); the base value is the background's mean output.
  torch::Tensor outputs = forward_rows(model_, x, options_.max_batch, a);
  torch::Tensor targets = model_.select_targets(outputs, target).to(x.device());
  torch::Tensor base = forward_rows(model_, background, options_.max_batch, a)
                           .mean(0, /*keepdim=*/true)
                           .expand({rows, -1})
                           .gather(1, targets);

  // Every (background row, alpha) pair is drawn before the first chunk, and
  // the noise row by row in order, so the draws do not depend on max_batch.
  at::Generator generator = make_generator(options_.seed);
  torch::Tensor picks = torch::randint(background.size(0), {rows * samples},
                                       generator, torch::kInt64)
                            .to(x.device());
  torch::Tensor alphas =
      torch::rand({rows * samples}, generator, torch::kFloat64).to(x.options());
  RowNoise noise(generator, samples, x.sizes().slice(1),
                 torch::full({rows}, options_.noise, torch::kFloat64));

  bool noisy = options_.noise > 0;
  auto make = [&](const Chunk& c) {
    torch::Tensor b =
        background.index_select(0, picks.slice(0, c.begin, c.end));
    torch::Tensor xr = x.index_select(0, c.row);
    torch::Tensor end = xr;
    if (noisy) end = xr + noise.take(c.begin, c.end).to(x.options());
    torch::Tensor alpha = per_row(alphas.slice(0, c.begin, c.end), x.dim());
    return ChunkPoints{b + alpha * (end - b), (xr - b).unsqueeze(1)};
  };
  torch::Tensor sum =
      sum_gradients(model_, x, targets, samples, options_.max_batch, make, a);

  torch::Tensor values = sum / static_cast<double>(samples);
  a.values = to_cpu_float(values);
  finish_with_reference(a, values, outputs, base, targets);
  a.seconds = watch.seconds();
  return a;
}

std::string GradientShap::str() const {
  return "GradientShap(background=" +
         std::to_string(options_.background.size(0)) +
         ", samples=" + std::to_string(options_.samples) +
         ", noise=" + number_str(options_.noise) +
         ", seed=" + std::to_string(options_.seed) +
         ", max_batch=" + std::to_string(options_.max_batch) + ")";
}

}  // namespace xai
