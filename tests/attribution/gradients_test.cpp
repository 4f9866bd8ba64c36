#include "xai/attribution/gradients.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>

#include "test_util.h"
#include "xai/error.h"

namespace xai {
namespace {

using test::all_close;
using test::error_message;
using test::model_from_source;

// f(x) = x w + b: [rows, 4] -> [rows, 3].
const char* kLinearSource = R"(
def forward(self, x):
    return torch.matmul(x, self.w) + self.b
)";

// A smooth two-layer network: [rows, 4] -> [rows, 3].
const char* kMlpSource = R"(
def forward(self, x):
    h = torch.tanh(torch.matmul(x, self.w1) + self.b1)
    return torch.sigmoid(torch.matmul(h, self.w2) + self.b2)
)";

Model linear_model(torch::ScalarType dtype, torch::Tensor* w = nullptr) {
  auto opts = torch::TensorOptions().dtype(dtype);
  torch::Tensor weight = torch::randn({4, 3}, opts);
  if (w != nullptr) *w = weight;
  return model_from_source(kLinearSource,
                           {{"w", weight}, {"b", torch::randn({3}, opts)}});
}

Model mlp_model(torch::ScalarType dtype) {
  auto opts = torch::TensorOptions().dtype(dtype);
  return model_from_source(kMlpSource, {{"w1", torch::randn({4, 8}, opts)},
                                        {"b1", torch::randn({8}, opts)},
                                        {"w2", torch::randn({8, 3}, opts)},
                                        {"b2", torch::randn({3}, opts)}});
}

Target all_targets() { return Target::parse("all"); }

// d f[:, t] / dx by autograd, straight from the model: [rows, 4].
torch::Tensor autograd_gradient(const Model& model, const torch::Tensor& x,
                                int64_t t) {
  torch::Tensor in = x.clone().requires_grad_(true);
  model.forward(in).select(1, t).sum().backward();
  return in.grad();
}

// W[:, t] * (x - b) for every target t: [rows, 3, 4].
torch::Tensor linear_attribution(const torch::Tensor& w,
                                 const torch::Tensor& diff) {
  return diff.unsqueeze(1) * w.t().unsqueeze(0);
}

double max_abs(const torch::Tensor& t) { return t.abs().max().item<double>(); }

class SaliencyTest : public test::Seeded {};
class InputXGradientTest : public test::Seeded {};
class SmoothGradTest : public test::Seeded {};
class IntegratedGradientsTest : public test::Seeded {};
class GradientShapTest : public test::Seeded {};
class GradientTargetsTest : public test::Seeded {};
class GradientOptionsTest : public test::Seeded {};
class GradientsCudaTest : public test::Seeded {};

// ---------------------------------------------------------------------------

TEST_F(SaliencyTest, EqualsAutogradGradient) {
  Model model = mlp_model(torch::kFloat32);
  torch::Tensor x = torch::randn({5, 4});
  torch::Tensor expected = autograd_gradient(model, x, 1);

  Attribution a = Saliency(model).attribute(x, Target::parse("1"));
  ASSERT_EQ(a.values.sizes(), (std::vector<int64_t>{5, 1, 4}));
  EXPECT_TRUE(all_close(a.values.select(1, 0), expected.abs()));

  Attribution s =
      Saliency(model, {/*abs=*/false}).attribute(x, Target::parse("1"));
  EXPECT_TRUE(all_close(s.values.select(1, 0), expected));
  EXPECT_FALSE(s.completeness_gap.defined());
  EXPECT_FALSE(s.base_values.defined());
  EXPECT_EQ(s.method, "saliency");
}

TEST_F(SaliencyTest, AgreesWithCentralFiniteDifferences) {
  Model model = mlp_model(torch::kFloat64);
  torch::Tensor x = torch::randn({3, 4}, torch::kFloat64);
  Attribution a = Saliency(model, {/*abs=*/false}).attribute(x, all_targets());

  const double h = 1e-5;
  torch::NoGradGuard no_grad;
  for (int64_t j = 0; j < 4; ++j) {
    torch::Tensor step = torch::zeros_like(x);
    step.select(1, j).fill_(h);
    torch::Tensor fd =
        (model.forward(x + step) - model.forward(x - step)) / (2 * h);
    EXPECT_TRUE(all_close(a.values.select(2, j), fd, 1e-6, 1e-5))
        << "feature " << j;
  }
}

TEST_F(SaliencyTest, CountsPassesPerChunkAndTarget) {
  Model model = mlp_model(torch::kFloat32);
  Attribution a = Saliency(model, {true, /*max_batch=*/2})
                      .attribute(torch::randn({5, 4}), all_targets());
  EXPECT_EQ(a.forward_passes, 3);
  EXPECT_EQ(a.backward_passes, 9);
  EXPECT_EQ(a.model_evaluations, 5);
  EXPECT_GE(a.seconds, 0.0);
}

// ---------------------------------------------------------------------------

TEST_F(InputXGradientTest, EqualsInputTimesWeightOnLinearModel) {
  torch::Tensor w;
  Model model = linear_model(torch::kFloat64, &w);
  torch::Tensor x = torch::randn({4, 4}, torch::kFloat64);

  Attribution a = InputXGradient(model).attribute(x, all_targets());
  EXPECT_TRUE(all_close(a.values, linear_attribution(w, x), 1e-6, 1e-6));
  EXPECT_FALSE(a.completeness_gap.defined());
  EXPECT_EQ(a.values.scalar_type(), torch::kFloat32);
}

// ---------------------------------------------------------------------------

TEST_F(SmoothGradTest, ZeroNoiseEqualsSignedSaliency) {
  Model model = mlp_model(torch::kFloat32);
  torch::Tensor x = torch::randn({3, 4});
  SmoothGradOptions options;
  options.samples = 4;
  options.noise = 0.0;

  Attribution smooth = SmoothGrad(model, options).attribute(x, all_targets());
  Attribution plain = Saliency(model, {false}).attribute(x, all_targets());
  EXPECT_TRUE(all_close(smooth.values, plain.values));
}

TEST_F(SmoothGradTest, AveragesGradientsAtNoisyCopies) {
  // With noise the mean gradient moves away from the clean one, and every
  // row is evaluated once clean (for the targets) and `samples` times noisy.
  Model model = mlp_model(torch::kFloat32);
  torch::Tensor x = torch::randn({2, 4});
  SmoothGradOptions options;
  options.samples = 8;
  Attribution smooth = SmoothGrad(model, options).attribute(x, all_targets());
  Attribution plain = Saliency(model, {false}).attribute(x, all_targets());
  EXPECT_GT(max_abs(smooth.values - plain.values), 1e-4);
  EXPECT_EQ(smooth.model_evaluations, 2 + 2 * 8);
}

TEST_F(SmoothGradTest, ChunkedEqualsUnchunked) {
  Model model = mlp_model(torch::kFloat32);
  torch::Tensor x = torch::randn({5, 4});
  SmoothGradOptions options;
  options.samples = 7;
  Attribution whole = SmoothGrad(model, options).attribute(x, all_targets());
  options.max_batch = 3;
  Attribution chunked = SmoothGrad(model, options).attribute(x, all_targets());
  EXPECT_TRUE(all_close(chunked.values, whole.values));
  EXPECT_EQ(chunked.forward_passes, 2 + 12);
}

TEST_F(SmoothGradTest, SameSeedReproducesOtherSeedDiffers) {
  Model model = mlp_model(torch::kFloat32);
  torch::Tensor x = torch::randn({2, 4});
  SmoothGradOptions options;
  options.samples = 5;
  Attribution first = SmoothGrad(model, options).attribute(x, all_targets());
  Attribution again = SmoothGrad(model, options).attribute(x, all_targets());
  options.seed = 1;
  Attribution other = SmoothGrad(model, options).attribute(x, all_targets());
  EXPECT_TRUE(all_close(again.values, first.values, 0.0));
  EXPECT_GT(max_abs(other.values - first.values), 1e-4);
}

// ---------------------------------------------------------------------------

TEST(QuadratureTest, GaussLegendreIsExactUpToDegree2nMinus1) {
  for (int64_t n : {1, 2, 3, 4, 5, 6, 7, 8, 12, 50, 256}) {
    Quadrature q = quadrature(IntegrationRule::kGaussLegendre, n);
    ASSERT_EQ(q.nodes.size(), static_cast<size_t>(n));
    for (int64_t k = 0; k < n; ++k) {
      EXPECT_GT(q.nodes[k], 0.0);
      EXPECT_LT(q.nodes[k], 1.0);
      EXPECT_GT(q.weights[k], 0.0);
      if (k > 0) {
        EXPECT_LT(q.nodes[k - 1], q.nodes[k]);
      }
    }
    for (int64_t degree = 0; degree <= 2 * n; ++degree) {
      double sum = 0.0;
      for (int64_t k = 0; k < n; ++k) {
        sum += q.weights[k] * std::pow(q.nodes[k], degree);
      }
      double error = std::abs(sum - 1.0 / (degree + 1.0));
      if (degree <= 2 * n - 1) {
        EXPECT_LT(error, 1e-13) << "n=" << n << " degree=" << degree;
      } else if (n <= 6) {
        // Degree 2n is the first one the rule misses (by an amount that
        // falls fast with n, hence only small n).
        EXPECT_GT(error, 1e-8) << "n=" << n << " degree=" << degree;
      }
    }
  }
}

TEST(QuadratureTest, RiemannIsTheMidpointRule) {
  Quadrature q = quadrature(IntegrationRule::kRiemann, 4);
  EXPECT_EQ(q.nodes, (std::vector<double>{0.125, 0.375, 0.625, 0.875}));
  EXPECT_EQ(q.weights, (std::vector<double>{0.25, 0.25, 0.25, 0.25}));
}

TEST(QuadratureTest, RuleNamesRoundTrip) {
  for (auto rule :
       {IntegrationRule::kGaussLegendre, IntegrationRule::kRiemann}) {
    EXPECT_EQ(parse_integration_rule(to_string(rule)), rule);
  }
  EXPECT_EQ(error_message([] { parse_integration_rule("simpson"); }),
            "invalid rule: 'simpson' (must be gauss-legendre or riemann)");
  EXPECT_EQ(
      error_message([] { quadrature(IntegrationRule::kGaussLegendre, 0); }),
      "invalid steps: 0 (must be >= 1)");
}

// ---------------------------------------------------------------------------

TEST_F(IntegratedGradientsTest, LinearModelGivesWeightTimesDifference) {
  torch::Tensor w;
  Model model = linear_model(torch::kFloat64, &w);
  torch::Tensor x = torch::randn({3, 4}, torch::kFloat64);
  torch::Tensor baseline = torch::randn({1, 4}, torch::kFloat64);

  for (auto rule :
       {IntegrationRule::kGaussLegendre, IntegrationRule::kRiemann}) {
    IntegratedGradientsOptions options;
    options.steps = 3;
    options.rule = rule;
    options.baseline = baseline;
    Attribution a =
        IntegratedGradients(model, options).attribute(x, all_targets());
    EXPECT_TRUE(
        all_close(a.values, linear_attribution(w, x - baseline), 1e-6, 1e-6))
        << to_string(rule);
    EXPECT_LT(max_abs(a.completeness_gap), 1e-6) << to_string(rule);
  }
}

TEST_F(IntegratedGradientsTest, DefaultBaselineIsZeros) {
  torch::Tensor w;
  Model model = linear_model(torch::kFloat64, &w);
  torch::Tensor x = torch::randn({2, 4}, torch::kFloat64);
  Attribution a = IntegratedGradients(model).attribute(x, all_targets());

  EXPECT_TRUE(all_close(a.values, linear_attribution(w, x), 1e-6, 1e-6));
  torch::NoGradGuard no_grad;
  torch::Tensor f0 = model.forward(torch::zeros({1, 4}, torch::kFloat64));
  EXPECT_TRUE(all_close(a.base_values, f0.expand({2, 3})));
}

TEST_F(IntegratedGradientsTest, PerRowBaseline) {
  torch::Tensor w;
  Model model = linear_model(torch::kFloat64, &w);
  torch::Tensor x = torch::randn({3, 4}, torch::kFloat64);
  IntegratedGradientsOptions options;
  options.steps = 2;
  options.baseline = torch::randn({3, 4});  // float32: moved to the model's
  Attribution a =
      IntegratedGradients(model, options).attribute(x, all_targets());
  torch::Tensor diff = x - options.baseline.to(torch::kFloat64);
  EXPECT_TRUE(all_close(a.values, linear_attribution(w, diff), 1e-6, 1e-6));
}

TEST_F(IntegratedGradientsTest, GaussLegendreGapIsSmallOnSmoothModel) {
  Model model = mlp_model(torch::kFloat64);
  torch::Tensor x = torch::randn({4, 4}, torch::kFloat64);
  Attribution a = IntegratedGradients(model).attribute(x, all_targets());
  // 50 Gauss-Legendre nodes integrate this smooth path to rounding level;
  // the bound leaves a wide margin.
  EXPECT_LE(max_abs(a.completeness_gap), 1e-6);

  // The gap is what it says: sum of values minus the output difference.
  torch::Tensor sum = a.values.flatten(2).sum(2);
  EXPECT_TRUE(
      all_close(sum - (a.outputs - a.base_values), a.completeness_gap, 1e-5));
}

TEST_F(IntegratedGradientsTest, RiemannGapShrinksWithSteps) {
  Model model = mlp_model(torch::kFloat64);
  torch::Tensor x = 2 * torch::randn({4, 4}, torch::kFloat64);
  double previous = INFINITY;
  for (int64_t steps : {2, 8, 32}) {
    IntegratedGradientsOptions options;
    options.steps = steps;
    options.rule = IntegrationRule::kRiemann;
    Attribution a =
        IntegratedGradients(model, options).attribute(x, all_targets());
    double gap = max_abs(a.completeness_gap);
    EXPECT_LT(gap, previous) << "steps=" << steps;
    previous = gap;
  }
  EXPECT_LT(previous, 1e-2);
}

TEST_F(IntegratedGradientsTest, ChunkedEqualsUnchunked) {
  Model model = mlp_model(torch::kFloat32);
  torch::Tensor x = torch::randn({5, 4});
  IntegratedGradientsOptions options;
  options.steps = 7;
  Attribution whole =
      IntegratedGradients(model, options).attribute(x, all_targets());
  options.max_batch = 3;
  Attribution chunked =
      IntegratedGradients(model, options).attribute(x, all_targets());

  EXPECT_TRUE(all_close(chunked.values, whole.values));
  EXPECT_TRUE(all_close(chunked.completeness_gap, whole.completeness_gap));
  // x in 2 chunks, the baseline in 1, 35 path points in 12.
  EXPECT_EQ(chunked.forward_passes, 2 + 1 + 12);
  EXPECT_EQ(chunked.backward_passes, 12 * 3);
  EXPECT_EQ(chunked.model_evaluations, 5 + 1 + 35);
}

// ---------------------------------------------------------------------------

TEST_F(GradientShapTest, SingleBackgroundRowOnLinearModelIsExact) {
  torch::Tensor w;
  Model model = linear_model(torch::kFloat64, &w);
  torch::Tensor x = torch::randn({3, 4}, torch::kFloat64);
  GradientShapOptions options;
  options.background = torch::randn({1, 4}, torch::kFloat64);
  options.samples = 5;
  Attribution a = GradientShap(model, options).attribute(x, all_targets());

  EXPECT_TRUE(all_close(a.values, linear_attribution(w, x - options.background),
                        1e-6, 1e-6));
  EXPECT_LT(max_abs(a.completeness_gap), 1e-6);
}

TEST_F(GradientShapTest, BaseValueIsMeanBackgroundOutput) {
  Model model = mlp_model(torch::kFloat64);
  torch::Tensor x = torch::randn({2, 4}, torch::kFloat64);
  GradientShapOptions options;
  options.background = torch::randn({6, 4}, torch::kFloat64);
  options.samples = 10;
  Attribution a = GradientShap(model, options).attribute(x, all_targets());

  torch::NoGradGuard no_grad;
  torch::Tensor mean = model.forward(options.background).mean(0);
  EXPECT_TRUE(all_close(a.base_values, mean.expand({2, 3})));
  torch::Tensor sum = a.values.flatten(2).sum(2);
  EXPECT_TRUE(
      all_close(sum - (a.outputs - a.base_values), a.completeness_gap, 1e-5));
}

TEST_F(GradientShapTest, SameSeedReproducesOtherSeedDiffers) {
  Model model = mlp_model(torch::kFloat32);
  torch::Tensor x = torch::randn({3, 4});
  GradientShapOptions options;
  options.background = torch::randn({6, 4});
  options.samples = 6;
  Attribution first = GradientShap(model, options).attribute(x, all_targets());
  Attribution again = GradientShap(model, options).attribute(x, all_targets());
  options.seed = 7;
  Attribution other = GradientShap(model, options).attribute(x, all_targets());

  EXPECT_TRUE(all_close(again.values, first.values, 0.0));
  EXPECT_GT(max_abs(other.values - first.values), 1e-4);
}

TEST_F(GradientShapTest, ChunkedEqualsUnchunked) {
  Model model = mlp_model(torch::kFloat32);
  torch::Tensor x = torch::randn({5, 4});
  GradientShapOptions options;
  options.background = torch::randn({4, 4});
  options.samples = 7;
  options.noise = 0.1;
  Attribution whole = GradientShap(model, options).attribute(x, all_targets());
  options.max_batch = 3;
  Attribution chunked =
      GradientShap(model, options).attribute(x, all_targets());

  EXPECT_TRUE(all_close(chunked.values, whole.values));
  EXPECT_TRUE(all_close(chunked.completeness_gap, whole.completeness_gap));
  EXPECT_EQ(chunked.model_evaluations, 5 + 4 + 35);
}

// ---------------------------------------------------------------------------

TEST_F(GradientTargetsTest, PredIndexAndAllSelectTheRightOutputs) {
  Model model = mlp_model(torch::kFloat64);
  torch::Tensor x = torch::randn({4, 4}, torch::kFloat64);
  IntegratedGradientsOptions options;
  options.steps = 4;
  IntegratedGradients ig(model, options);

  Attribution all = ig.attribute(x, all_targets());
  ASSERT_EQ(all.values.sizes(), (std::vector<int64_t>{4, 3, 4}));
  ASSERT_EQ(all.targets.sizes(), (std::vector<int64_t>{4, 3}));
  EXPECT_TRUE(torch::equal(all.targets[2], torch::arange(3)));
  torch::NoGradGuard no_grad;
  torch::Tensor f = model.forward(x);
  EXPECT_TRUE(all_close(all.outputs, f));

  Attribution pred = ig.attribute(x, Target::parse("pred"));
  ASSERT_EQ(pred.values.sizes(), (std::vector<int64_t>{4, 1, 4}));
  torch::Tensor argmax = f.argmax(1);
  EXPECT_TRUE(torch::equal(pred.targets.select(1, 0), argmax));
  for (int64_t r = 0; r < 4; ++r) {
    EXPECT_TRUE(all_close(pred.values[r][0], all.values[r][argmax[r]]));
  }

  Attribution index = ig.attribute(x, Target::parse("2"));
  ASSERT_EQ(index.targets.sizes(), (std::vector<int64_t>{4, 1}));
  EXPECT_TRUE(
      torch::equal(index.targets, torch::full({4, 1}, 2, torch::kInt64)));
  EXPECT_TRUE(all_close(index.values.select(1, 0), all.values.select(1, 2)));
  EXPECT_TRUE(
      all_close(index.base_values.select(1, 0), all.base_values.select(1, 2)));
}

// ---------------------------------------------------------------------------

TEST_F(GradientOptionsTest, BadOptionsAreRejectedWithTheirValue) {
  Model model = linear_model(torch::kFloat32);
  EXPECT_EQ(error_message([&] {
              IntegratedGradientsOptions o;
              o.steps = 0;
              IntegratedGradients(model, o);
            }),
            "invalid steps: 0 (must be >= 1)");
  EXPECT_EQ(error_message([&] {
              GradientShapOptions o;
              o.background = torch::zeros({2, 4});
              o.samples = 0;
              GradientShap(model, o);
            }),
            "invalid samples: 0 (must be >= 1)");
  EXPECT_EQ(error_message([&] {
              SmoothGradOptions o;
              o.noise = -0.5;
              SmoothGrad(model, o);
            }),
            "invalid noise: -0.5 (must be a finite number >= 0)");
  EXPECT_EQ(error_message([&] {
              Saliency(model, {true, 0});
            }),
            "invalid max_batch: 0 (must be >= 1)");
  EXPECT_THROW(InputXGradient(model, {-1}), InvalidArgument);
}

TEST_F(GradientOptionsTest, BackgroundMustBeNonEmptyAndShapedLikeRows) {
  Model model = linear_model(torch::kFloat32);
  EXPECT_EQ(error_message([&] { GradientShap(model, {}); }),
            "invalid background: none (give reference rows [k, ...])");
  EXPECT_EQ(error_message([&] {
              GradientShapOptions o;
              o.background = torch::zeros({0, 4});
              GradientShap(model, o);
            }),
            "invalid background: shape [0, 4] (must have at least 1 row)");

  GradientShapOptions o;
  o.background = torch::zeros({3, 5});
  GradientShap shap(model, o);
  EXPECT_EQ(error_message([&] {
              shap.attribute(torch::randn({2, 4}), all_targets());
            }),
            "invalid background: row shape [5] (must match the input row "
            "shape [4])");
  EXPECT_THROW(shap.attribute(torch::randn({2, 4}), all_targets()),
               InvalidArgument);
}

TEST_F(GradientOptionsTest, BaselineMustMatchTheInput) {
  Model model = linear_model(torch::kFloat32);
  IntegratedGradientsOptions o;
  o.baseline = torch::zeros({3, 4});
  IntegratedGradients ig(model, o);
  EXPECT_EQ(error_message([&] {
              ig.attribute(torch::randn({2, 4}), all_targets());
            }),
            "invalid baseline: 3 rows (must be 1 or the input's 2)");

  o.baseline = torch::zeros({1, 2, 2});
  IntegratedGradients reshaped(model, o);
  EXPECT_EQ(error_message([&] {
              reshaped.attribute(torch::randn({2, 4}), all_targets());
            }),
            "invalid baseline: row shape [2, 2] (must match the input row "
            "shape [4])");
}

TEST_F(GradientOptionsTest, ExplainersPrintTheirOptions) {
  Model model = linear_model(torch::kFloat32);
  EXPECT_EQ(Saliency(model).str(), "Saliency(abs=true, max_batch=2048)");
  EXPECT_EQ(InputXGradient(model).str(), "InputXGradient(max_batch=2048)");
  EXPECT_EQ(SmoothGrad(model).str(),
            "SmoothGrad(samples=50, noise=0.15, seed=0, max_batch=2048)");
  EXPECT_EQ(IntegratedGradients(model).str(),
            "IntegratedGradients(steps=50, rule=gauss-legendre, "
            "max_batch=2048)");
  IntegratedGradientsOptions ig;
  ig.rule = IntegrationRule::kRiemann;
  ig.baseline = torch::zeros({1, 4});
  EXPECT_EQ(IntegratedGradients(model, ig).str(),
            "IntegratedGradients(steps=50, rule=riemann, baseline=[1, 4], "
            "max_batch=2048)");
  GradientShapOptions shap;
  shap.background = torch::zeros({10, 4});
  EXPECT_EQ(GradientShap(model, shap).str(),
            "GradientShap(background=10, samples=50, noise=0, seed=0, "
            "max_batch=2048)");
}

// ---------------------------------------------------------------------------

TEST_F(GradientsCudaTest, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) {
#ifdef XAI_REQUIRE_CUDA
    FAIL() << "CUDA is required (XAI_WITH_CUDA_TESTS) but not available";
#else
    GTEST_SKIP() << "CUDA is not available";
#endif
  }
  Model cpu = mlp_model(torch::kFloat32);
  Model cuda(cpu.module().clone(), torch::Device(torch::kCUDA, 0));
  torch::Tensor x = torch::randn({4, 4});
  torch::Tensor background = torch::randn({5, 4});

  auto check = [&](const Explainer& on_cpu, const Explainer& on_cuda) {
    Attribution a = on_cpu.attribute(x, all_targets());
    Attribution b = on_cuda.attribute(x.to(torch::kCUDA), all_targets());
    EXPECT_TRUE(b.values.device().is_cpu()) << on_cuda.str();
    EXPECT_TRUE(all_close(b.values, a.values, 1e-5, 1e-4)) << on_cuda.str();
    EXPECT_TRUE(all_close(b.outputs, a.outputs, 1e-5, 1e-4));
    if (a.completeness_gap.defined()) {
      EXPECT_TRUE(all_close(b.completeness_gap, a.completeness_gap, 1e-5));
    }
  };
  check(Saliency(cpu), Saliency(cuda));
  SmoothGradOptions smooth;
  smooth.samples = 6;
  check(SmoothGrad(cpu, smooth), SmoothGrad(cuda, smooth));
  IntegratedGradientsOptions ig;
  ig.steps = 16;
  ig.max_batch = 5;
  check(IntegratedGradients(cpu, ig), IntegratedGradients(cuda, ig));
  GradientShapOptions shap;
  shap.background = background;
  shap.samples = 8;
  shap.noise = 0.1;
  check(GradientShap(cpu, shap), GradientShap(cuda, shap));
}

}  // namespace
}  // namespace xai
