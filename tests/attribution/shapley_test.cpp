#include "xai/attribution/shapley.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>
#include <vector>

#include "test_util.h"
#include "xai/attribution/players.h"
#include "xai/error.h"
#include "xai/io/data.h"
#include "xai/io/npy.h"

namespace xai {
namespace {

using test::all_close;
using test::error_message;
using test::model_from_source;
using test::source_path;

// f(x) = x w + b: [rows, n] -> [rows, outputs].
const char* kLinearSource = R"(
def forward(self, x):
    return torch.matmul(x, self.w) + self.b
)";

// Products, a max and a ReLU of 8 features: [rows, 8] -> [rows, 2].
const char* kInteractionSource = R"(
def forward(self, x):
    a = x[:, 0] * x[:, 1]
    b = torch.amax(x[:, 2:5], 1)
    c = x[:, 5] * x[:, 6] * x[:, 7]
    d = torch.relu(x[:, 0] - x[:, 3])
    return torch.stack([a + b + c - d, a * b - c + 2.0 * d], 1) * self.scale
)";

// Captum's three-layer ReLU test model: [rows, 3] -> [rows, 2].
const char* kReluSource = R"(
def forward(self, x):
    h = torch.linear(x, self.w0)
    h = torch.relu(torch.linear(h, self.w1, self.b1))
    return torch.linear(h, self.w2, self.b2)
)";

const auto kDouble = torch::kFloat64;

Model linear_model(int64_t features, int64_t outputs, torch::Tensor* w) {
  *w = torch::randn({features, outputs}, kDouble);
  return model_from_source(
      kLinearSource, {{"w", *w}, {"b", torch::randn({outputs}, kDouble)}});
}

Model interaction_model() {
  return model_from_source(kInteractionSource,
                           {{"scale", torch::ones({}, kDouble)}});
}

Model relu_model() {
  return model_from_source(
      kReluSource, {{"w0", torch::eye(3, kDouble)},
                    {"w1", torch::ones({4, 3}, kDouble)},
                    {"b1", torch::tensor({-10.0, 1.0, 1.0, 1.0}, kDouble)},
                    {"w2", torch::ones({2, 4}, kDouble)},
                    {"b2", torch::tensor({-1.0, 1.0}, kDouble)}});
}

Target all_targets() { return Target::parse("all"); }

// w_i (x_i - mean of background column i) for every target: [rows, T, n].
torch::Tensor linear_shapley(const torch::Tensor& w, const torch::Tensor& x,
                             const torch::Tensor& background) {
  torch::Tensor diff = x - background.mean(0, /*keepdim=*/true);
  return diff.unsqueeze(1) * w.t().unsqueeze(0);
}

// v(S) from the definition: one model call per background row.
double brute_value(const Model& model, const torch::Tensor& x,
                   const torch::Tensor& background, uint64_t coalition,
                   int64_t target) {
  torch::NoGradGuard no_grad;
  double sum = 0.0;
  for (int64_t b = 0; b < background.size(0); ++b) {
    torch::Tensor in = background[b].clone();
    for (int64_t i = 0; i < x.size(0); ++i) {
      if (coalition >> i & 1) in[i] = x[i];
    }
    sum += model.forward(in.unsqueeze(0))[0][target].item<double>();
  }
  return sum / static_cast<double>(background.size(0));
}

double factorial(int64_t n) { return std::tgamma(static_cast<double>(n + 1)); }

// phi_i = sum over S without i of |S|! (n - |S| - 1)! / n! (v(S+i) - v(S)),
// for one input row x [n].
std::vector<double> brute_shapley(const Model& model, const torch::Tensor& x,
                                  const torch::Tensor& background,
                                  int64_t target) {
  int64_t n = x.size(0);
  std::vector<double> v(uint64_t{1} << n);
  for (uint64_t s = 0; s < v.size(); ++s) {
    v[s] = brute_value(model, x, background, s, target);
  }
  std::vector<double> phi(n, 0.0);
  for (int64_t i = 0; i < n; ++i) {
    for (uint64_t s = 0; s < v.size(); ++s) {
      if (s >> i & 1) continue;
      int64_t size = __builtin_popcountll(s);
      double weight = factorial(size) * factorial(n - size - 1) / factorial(n);
      phi[i] += weight * (v[s | uint64_t{1} << i] - v[s]);
    }
  }
  return phi;
}

double max_abs(const torch::Tensor& t) { return t.abs().max().item<double>(); }

class ExactShapleyTest : public test::Seeded {};
class PermutationShapleyTest : public test::Seeded {};
class KernelShapTest : public test::Seeded {};
class FeatureAblationTest : public test::Seeded {};
class OcclusionTest : public test::Seeded {};
class PlayersTest : public test::Seeded {};
class ShapleyOptionsTest : public test::Seeded {};
class ShapleyBundledTest : public test::Seeded {};
class ShapleyCudaTest : public test::Seeded {};

// ---------------------------------------------------------------------------
// A linear model: every method gives w_i (x_i - mean background_i).

TEST_F(ExactShapleyTest, LinearModelGivesWeightTimesShiftFromBackgroundMean) {
  torch::Tensor w;
  Model model = linear_model(6, 3, &w);
  torch::Tensor x = torch::randn({3, 6}, kDouble);
  torch::Tensor background = torch::randn({5, 6}, kDouble);

  ExactShapleyOptions options;
  options.background = background;
  PlayerAttribution r = ExactShapley(model, options).explain(x, all_targets());
  Attribution& a = r.attribution;
  EXPECT_TRUE(all_close(a.values, linear_shapley(w, x, background), 1e-10));
  EXPECT_TRUE(all_close(r.player_values, a.values, 0.0));
  EXPECT_FALSE(r.standard_errors.defined());
  EXPECT_LE(max_abs(a.completeness_gap), 1e-10);
  EXPECT_EQ(a.method, "shapley");
  EXPECT_EQ(a.values.scalar_type(), kDouble);

  torch::Tensor base = model.forward(background).mean(0).unsqueeze(0);
  EXPECT_TRUE(all_close(a.base_values, base.expand({3, 3}), 1e-12));
  // f(x), the background, then the 2^6 - 2 proper coalitions x 5
  // background rows per row.
  EXPECT_EQ(a.model_evaluations, 3 + 5 + 3 * 62 * 5);
}

TEST_F(PermutationShapleyTest, LinearModelIsExactWithZeroError) {
  torch::Tensor w;
  Model model = linear_model(6, 3, &w);
  torch::Tensor x = torch::randn({3, 6}, kDouble);
  torch::Tensor background = torch::randn({5, 6}, kDouble);

  PermutationShapleyOptions options;
  options.background = background;
  options.samples = 3;
  PlayerAttribution r =
      PermutationShapley(model, options).explain(x, all_targets());
  torch::Tensor error =
      (r.attribution.values - linear_shapley(w, x, background)).abs();
  EXPECT_TRUE((error <= 3 * r.standard_errors + 1e-10).all().item<bool>())
      << "largest error " << max_abs(error);
  EXPECT_LE(max_abs(r.standard_errors), 1e-10);
  EXPECT_LE(max_abs(r.attribution.completeness_gap), 1e-10);
  // 2 * samples * (P - 1) coalitions per row.
  EXPECT_EQ(r.attribution.model_evaluations, 3 + 5 + 3 * (2 * 3 * 5) * 5);
}

TEST_F(KernelShapTest, LinearModelIsExactWhenSampled) {
  // 12 players: 4094 proper coalitions, over the default budget of 2072.
  torch::Tensor w;
  Model model = linear_model(12, 2, &w);
  torch::Tensor x = torch::randn({2, 12}, kDouble);
  torch::Tensor background = torch::randn({4, 12}, kDouble);

  KernelShapOptions options;
  options.background = background;
  Attribution a = KernelShap(model, options).attribute(x, all_targets());
  EXPECT_TRUE(all_close(a.values, linear_shapley(w, x, background), 1e-9));
  EXPECT_LE(max_abs(a.completeness_gap), 1e-10);
  EXPECT_EQ(a.model_evaluations, 2 + 4 + 2 * 2072 * 4);
}

TEST_F(FeatureAblationTest, LinearModelGivesWeightTimesShift) {
  torch::Tensor w;
  Model model = linear_model(6, 3, &w);
  torch::Tensor x = torch::randn({3, 6}, kDouble);
  torch::Tensor background = torch::randn({5, 6}, kDouble);

  FeatureAblationOptions options;
  options.background = background;
  Attribution a = FeatureAblation(model, options).attribute(x, all_targets());
  EXPECT_TRUE(all_close(a.values, linear_shapley(w, x, background), 1e-10));
  EXPECT_LE(max_abs(a.completeness_gap), 1e-10);
  EXPECT_EQ(a.method, "ablation");
}

TEST_F(OcclusionTest, OneElementWindowsOnLinearModelGiveWeightTimesShift) {
  torch::Tensor w;
  Model model = linear_model(6, 3, &w);
  torch::Tensor x = torch::randn({3, 6}, kDouble);
  torch::Tensor background = torch::randn({5, 6}, kDouble);

  OcclusionOptions options;
  options.window = {1};
  options.background = background;
  Attribution a = Occlusion(model, options).attribute(x, all_targets());
  EXPECT_TRUE(all_close(a.values, linear_shapley(w, x, background), 1e-10));
  EXPECT_EQ(a.method, "occlusion");
}

// ---------------------------------------------------------------------------
// A model with interactions on 8 players.

TEST_F(ExactShapleyTest, EqualsBruteForceFormulaWithInteractions) {
  Model model = interaction_model();
  torch::Tensor x = torch::randn({2, 8}, kDouble);
  torch::Tensor background = torch::randn({3, 8}, kDouble);

  ExactShapleyOptions options;
  options.background = background;
  options.max_batch = 100;  // chunks cut through coalitions
  Attribution a = ExactShapley(model, options).attribute(x, all_targets());
  for (int64_t row = 0; row < 2; ++row) {
    for (int64_t t = 0; t < 2; ++t) {
      std::vector<double> phi = brute_shapley(model, x[row], background, t);
      EXPECT_TRUE(
          all_close(a.values[row][t], torch::tensor(phi, kDouble), 1e-5))
          << "row " << row << ", target " << t;
    }
  }
  EXPECT_LE(max_abs(a.completeness_gap), 1e-10);
}

TEST_F(KernelShapTest, FullBudgetEqualsExactShapley) {
  Model model = interaction_model();
  torch::Tensor x = torch::randn({3, 8}, kDouble);
  torch::Tensor background = torch::randn({4, 8}, kDouble);

  ExactShapleyOptions exact;
  exact.background = background;
  Attribution e = ExactShapley(model, exact).attribute(x, all_targets());

  KernelShapOptions options;
  options.background = background;
  options.budget = 254;  // 2^8 - 2: every proper coalition
  Attribution k = KernelShap(model, options).attribute(x, all_targets());
  EXPECT_TRUE(all_close(k.values, e.values, 1e-5));
  EXPECT_LE(max_abs(k.completeness_gap), 1e-10);
}

TEST_F(KernelShapTest, SmallBudgetStaysCompleteAndClose) {
  Model model = interaction_model();
  torch::Tensor x = torch::randn({3, 8}, kDouble);
  torch::Tensor background = torch::randn({4, 8}, kDouble);

  ExactShapleyOptions exact;
  exact.background = background;
  Attribution e = ExactShapley(model, exact).attribute(x, all_targets());

  KernelShapOptions options;
  options.background = background;
  options.budget = 100;
  Attribution k = KernelShap(model, options).attribute(x, all_targets());
  EXPECT_LE(max_abs(k.completeness_gap), 1e-10);
  double scale = max_abs(e.values);
  EXPECT_LE(max_abs(k.values - e.values), 0.2 * scale);
}

TEST_F(PermutationShapleyTest, ConvergesToExactShapleyAsSamplesGrow) {
  Model model = interaction_model();
  torch::Tensor x = torch::randn({2, 8}, kDouble);
  torch::Tensor background = torch::randn({3, 8}, kDouble);

  ExactShapleyOptions exact;
  exact.background = background;
  Attribution e = ExactShapley(model, exact).attribute(x, all_targets());

  // Mean absolute error: the standard error shrinks fourfold per step.
  std::vector<double> errors;
  for (int64_t samples : {4, 64, 1024}) {
    PermutationShapleyOptions options;
    options.background = background;
    options.samples = samples;
    PlayerAttribution r =
        PermutationShapley(model, options).explain(x, all_targets());
    torch::Tensor error = (r.attribution.values - e.values).abs();
    errors.push_back(error.mean().item<double>());
    EXPECT_LE(max_abs(r.attribution.completeness_gap), 1e-10);
    if (samples == 1024) {
      EXPECT_TRUE((error <= 4 * r.standard_errors + 1e-10).all().item<bool>())
          << "largest error " << errors.back();
    }
  }
  EXPECT_LT(errors[1], errors[0]);
  EXPECT_LT(errors[2], errors[1]);
}

// ---------------------------------------------------------------------------
// Captum's three-layer ReLU model, input (20, 50, 30), zero baseline.

TEST_F(ExactShapleyTest, ReluModelMatchesCaptumValues) {
  Model model = relu_model();
  ExactShapleyOptions options;
  options.background = torch::zeros({1, 3}, kDouble);
  Attribution a = ExactShapley(model, options)
                      .attribute(torch::tensor({{20.0, 50.0, 30.0}}, kDouble),
                                 Target::parse("0"));
  torch::Tensor expected =
      torch::tensor({230.0 / 3, 590.0 / 3, 350.0 / 3}, kDouble).view({1, 1, 3});
  EXPECT_TRUE(all_close(a.values, expected, 1e-9));
  EXPECT_NEAR(a.outputs.item<double>(), 392.0, 1e-12);
  EXPECT_NEAR(a.base_values.item<double>(), 2.0, 1e-12);
}

TEST_F(FeatureAblationTest, ReluModelMatchesCaptumValues) {
  Model model = relu_model();
  Attribution a = FeatureAblation(model).attribute(
      torch::tensor({{20.0, 50.0, 30.0}}, kDouble), Target::parse("0"));
  torch::Tensor expected =
      torch::tensor({80.0, 200.0, 120.0}, kDouble).view({1, 1, 3});
  EXPECT_TRUE(all_close(a.values, expected, 1e-9));
  // 400 attributed against 390 explained: ablation is not complete.
  EXPECT_NEAR(a.completeness_gap.item<double>(), 10.0, 1e-9);
}

TEST_F(ExactShapleyTest, GroupedPlayerGetsGroupValueSharedByItsMembers) {
  Model model = relu_model();
  ExactShapleyOptions options;
  options.background = torch::zeros({1, 3}, kDouble);
  options.players = Players(torch::tensor({0, 0, 1}));
  PlayerAttribution r =
      ExactShapley(model, options)
          .explain(torch::tensor({{20.0, 50.0, 30.0}}, kDouble),
                   Target::parse("0"));
  EXPECT_TRUE(all_close(r.player_values,
                        torch::tensor({275.0, 115.0}, kDouble).view({1, 1, 2}),
                        1e-9));
  EXPECT_TRUE(all_close(
      r.attribution.values,
      torch::tensor({137.5, 137.5, 115.0}, kDouble).view({1, 1, 3}), 1e-9));
  EXPECT_LE(max_abs(r.attribution.completeness_gap), 1e-10);
  EXPECT_EQ(r.player_names, (std::vector<std::string>{"player 0", "player 1"}));
}

TEST_F(PermutationShapleyTest, ReluModelGroupedMatchesExact) {
  // Two players: a permutation and its reverse cover both orders, so every
  // pair gives the exact value.
  Model model = relu_model();
  PermutationShapleyOptions options;
  options.background = torch::zeros({1, 3}, kDouble);
  options.players = Players(torch::tensor({0, 0, 1}));
  PlayerAttribution r =
      PermutationShapley(model, options)
          .explain(torch::tensor({{20.0, 50.0, 30.0}}, kDouble),
                   Target::parse("0"));
  EXPECT_TRUE(all_close(r.player_values,
                        torch::tensor({275.0, 115.0}, kDouble).view({1, 1, 2}),
                        1e-9));
  EXPECT_LE(max_abs(r.standard_errors), 1e-10);
}

// ---------------------------------------------------------------------------

TEST_F(ExactShapleyTest, PlayerEqualToEveryBackgroundRowIsLeftOut) {
  torch::Tensor w;
  Model model = linear_model(5, 1, &w);
  torch::Tensor background = torch::randn({2, 5}, kDouble);
  background.select(1, 2).fill_(0.5);
  torch::Tensor x = torch::randn({1, 5}, kDouble);
  x[0][2] = 0.5;

  ExactShapleyOptions options;
  options.background = background;
  Attribution a = ExactShapley(model, options).attribute(x, all_targets());
  EXPECT_EQ(a.values[0][0][2].item<double>(), 0.0);
  EXPECT_TRUE(all_close(a.values, linear_shapley(w, x, background), 1e-10));
  EXPECT_EQ(a.model_evaluations, 1 + 2 + 14 * 2);
}

TEST_F(ExactShapleyTest, ResultDoesNotDependOnMaxBatch) {
  Model model = interaction_model();
  torch::Tensor x = torch::randn({2, 8}, kDouble);
  ExactShapleyOptions options;
  options.background = torch::randn({3, 8}, kDouble);
  Attribution one = ExactShapley(model, options).attribute(x, all_targets());
  options.max_batch = 7;
  Attribution chunked =
      ExactShapley(model, options).attribute(x, all_targets());
  EXPECT_TRUE(all_close(chunked.values, one.values, 1e-12));
  EXPECT_GT(chunked.forward_passes, one.forward_passes);
}

TEST_F(PermutationShapleyTest, SameSeedSameResultOtherSeedOther) {
  Model model = interaction_model();
  torch::Tensor x = torch::randn({2, 8}, kDouble);
  PermutationShapleyOptions options;
  options.background = torch::randn({3, 8}, kDouble);
  options.samples = 5;
  Attribution a =
      PermutationShapley(model, options).attribute(x, all_targets());
  Attribution b =
      PermutationShapley(model, options).attribute(x, all_targets());
  options.seed = 1;
  Attribution c =
      PermutationShapley(model, options).attribute(x, all_targets());
  EXPECT_TRUE(all_close(a.values, b.values, 0.0));
  EXPECT_GT(max_abs(a.values - c.values), 1e-6);
}

TEST_F(FeatureAblationTest, SharesPassesBetweenRows) {
  torch::Tensor w;
  Model model = linear_model(4, 2, &w);
  torch::Tensor x = torch::randn({6, 4}, kDouble);
  FeatureAblationOptions options;
  options.max_batch = 100;
  Attribution a = FeatureAblation(model, options).attribute(x, all_targets());
  // One pass for f(x), one for the zero baseline, one for 6 x 4 coalitions.
  EXPECT_EQ(a.forward_passes, 3);
  EXPECT_TRUE(all_close(
      a.values, linear_shapley(w, x, torch::zeros({1, 4}, kDouble)), 1e-10));
}

TEST_F(OcclusionTest, NonOverlappingWindowsMatchAblationOverPatches) {
  const char* source = R"(
def forward(self, x):
    h = torch.relu(torch.matmul(x.flatten(1), self.w))
    return torch.matmul(h, self.v)
)";
  Model model =
      model_from_source(source, {{"w", torch::randn({2 * 6 * 6, 5}, kDouble)},
                                 {"v", torch::randn({5, 3}, kDouble)}});
  torch::Tensor x = torch::randn({2, 2, 6, 6}, kDouble);
  torch::Tensor background = torch::randn({3, 2, 6, 6}, kDouble);

  OcclusionOptions occlusion;
  occlusion.window = {3, 2};
  occlusion.background = background;
  Attribution o = Occlusion(model, occlusion).attribute(x, all_targets());

  FeatureAblationOptions ablation;
  ablation.background = background;
  ablation.players = Players::grid(6, 6, 3, 2);
  Attribution f = FeatureAblation(model, ablation).attribute(x, all_targets());
  EXPECT_TRUE(all_close(o.values, f.values, 1e-10));
  EXPECT_TRUE(all_close(o.completeness_gap, f.completeness_gap, 1e-10));
}

TEST_F(OcclusionTest, OverlappingWindowsAverageTheirShares) {
  // f = sum of x: removing a window of 4 ones drops f by 4, a share of 1 per
  // covered element whatever the overlap.
  const char* source = R"(
def forward(self, x):
    return x.flatten(1).sum(1, keepdim=True) * self.s
)";
  Model model = model_from_source(source, {{"s", torch::ones({}, kDouble)}});
  OcclusionOptions options;
  options.window = {2, 2};
  options.stride = {1, 1};
  Attribution a =
      Occlusion(model, options)
          .attribute(torch::ones({1, 1, 5, 5}, kDouble), all_targets());
  EXPECT_TRUE(
      all_close(a.values, torch::ones({1, 1, 1, 5, 5}, kDouble), 1e-12));
  // 4 x 4 window positions plus f(x) and the baseline.
  EXPECT_EQ(a.model_evaluations, 16 + 2);
}

TEST_F(OcclusionTest, LastWindowEndsAtTheBoundary) {
  const char* source = R"(
def forward(self, x):
    return x.flatten(1).sum(1, keepdim=True) * self.s
)";
  Model model = model_from_source(source, {{"s", torch::ones({}, kDouble)}});
  OcclusionOptions options;
  options.window = {3};
  options.stride = {3};
  Attribution a = Occlusion(model, options)
                      .attribute(torch::ones({1, 7}, kDouble), all_targets());
  // Windows start at 0, 3 and 4: every element is covered.
  EXPECT_TRUE(all_close(a.values, torch::ones({1, 1, 7}, kDouble), 1e-12));
  EXPECT_EQ(a.model_evaluations, 3 + 2);
}

// ---------------------------------------------------------------------------

TEST_F(PlayersTest, GridNumbersPatchesRowMajorWithSmallerEdgePatches) {
  Players p = Players::grid(3, 5, 2, 2);
  torch::Tensor expected =
      torch::tensor({{0, 0, 1, 1, 2}, {0, 0, 1, 1, 2}, {3, 3, 4, 4, 5}});
  EXPECT_TRUE(torch::equal(p.mask(), expected));
  EXPECT_EQ(p.count({1, 3, 5}), 6);
  EXPECT_EQ(p.name(4), "patch 1,1");
  // Shared over the channels of [2, 3, 5] rows.
  torch::Tensor ids = p.element_players({2, 3, 5});
  EXPECT_TRUE(torch::equal(ids.view({2, 15})[1], expected.flatten()));
}

TEST_F(PlayersTest, GroupsComeFirstThenUngroupedColumns) {
  Players p = Players::groups(5, {{"size", {1, 3}}, {"shape", {4}}},
                              {"a", "b", "c", "d", "e"});
  EXPECT_TRUE(torch::equal(p.mask(), torch::tensor({2, 0, 3, 0, 1})));
  EXPECT_EQ(p.name(0), "size");
  EXPECT_EQ(p.name(1), "shape");
  EXPECT_EQ(p.name(2), "a");
  EXPECT_EQ(p.name(3), "c");
  EXPECT_EQ(Players().name(7), "x[7]");
  EXPECT_EQ(Players().count({2, 3}), 6);
}

TEST_F(PlayersTest, RejectsBadMasksAndGroups) {
  EXPECT_EQ(error_message([] {
              Players(torch::tensor({0, 2, 2}));
            }),
            "invalid players: mask id 1 has no element (ids must be 0 to 2, "
            "each used at least once)");
  EXPECT_EQ(error_message([] {
              Players(torch::tensor({0, -1}));
            }),
            "invalid players: mask id -1 (ids must be >= 0)");
  EXPECT_EQ(error_message([] {
              Players(torch::tensor({0.0, 1.0}));
            }),
            "invalid players: mask dtype Float (must be an integer type)");
  EXPECT_EQ(error_message([] {
              Players(torch::tensor({0, 1}), {"a"});
            }),
            "invalid players: 1 names for 2 players");
  EXPECT_EQ(error_message([] {
              Players::groups(3, {{"a", {0, 1}}, {"b", {1}}});
            }),
            "invalid players: column 1 is in groups 'a' and 'b'");
  EXPECT_EQ(error_message([] {
              Players::groups(3, {{"a", {3}}});
            }),
            "invalid players: column 3 of group 'a' (must be 0 to 2)");
}

// ---------------------------------------------------------------------------
// Bad input.

TEST_F(ShapleyOptionsTest, RejectsMaskOfWrongShape) {
  torch::Tensor w;
  Model model = linear_model(3, 1, &w);
  ExactShapleyOptions options;
  options.background = torch::zeros({1, 3}, kDouble);
  options.players = Players(torch::tensor({{0, 1}, {1, 0}}));
  EXPECT_EQ(error_message([&] { ExactShapley(model, options); }),
            "invalid players: mask shape [2, 2] (must be the input row shape "
            "[3] or its trailing dimensions)");

  // Without a background the shape is checked against the input.
  FeatureAblationOptions ablation;
  ablation.players = Players(torch::tensor({0, 1}));
  FeatureAblation explainer(model, ablation);
  EXPECT_EQ(error_message([&] {
              explainer.attribute(torch::ones({1, 3}, kDouble), all_targets());
            }),
            "invalid players: mask shape [2] (must be the input row shape [3] "
            "or its trailing dimensions)");
}

TEST_F(ShapleyOptionsTest, ExactShapleyRefusesTooManyPlayers) {
  torch::Tensor w;
  Model model = linear_model(30, 1, &w);
  ExactShapleyOptions options;
  options.background = torch::zeros({1, 30}, kDouble);
  EXPECT_EQ(error_message([&] { ExactShapley(model, options); }),
            "cannot run exact Shapley on 30 players: more than max_players 20 "
            "(2^30 coalitions per row); use kernelshap or permutation, or "
            "group features into at most 20 players");
  options.max_players = 31;
  EXPECT_EQ(error_message([&] { ExactShapley(model, options); }),
            "invalid max_players: 31 (must be in [1, 30])");
}

TEST_F(ShapleyOptionsTest, RejectsEmptyOrMissingBackground) {
  torch::Tensor w;
  Model model = linear_model(3, 1, &w);
  ExactShapleyOptions exact;
  exact.background = torch::zeros({0, 3}, kDouble);
  EXPECT_EQ(error_message([&] { ExactShapley(model, exact); }),
            "invalid background: shape [0, 3] (must be [k, ...input row "
            "shape] with k >= 1)");
  KernelShapOptions kernel;
  EXPECT_EQ(error_message([&] { KernelShap(model, kernel); }),
            "invalid background: none (give reference rows [k, ...]; one row "
            "of zeros is a zero baseline)");
  FeatureAblationOptions ablation;
  ablation.background = torch::zeros({0, 3}, kDouble);
  EXPECT_EQ(error_message([&] { FeatureAblation(model, ablation); }),
            "invalid background: shape [0, 3] (must be [k, ...input row "
            "shape] with k >= 1)");

  PermutationShapleyOptions permutation;
  permutation.background = torch::zeros({2, 4}, kDouble);
  PermutationShapley explainer(model, permutation);
  EXPECT_EQ(error_message([&] {
              explainer.attribute(torch::ones({1, 3}, kDouble), all_targets());
            }),
            "invalid background: row shape [4] (must match the input row "
            "shape [3])");
}

TEST_F(ShapleyOptionsTest, RejectsBadCountsAndWindows) {
  torch::Tensor w;
  Model model = linear_model(3, 1, &w);
  torch::Tensor background = torch::zeros({1, 3}, kDouble);
  PermutationShapleyOptions permutation;
  permutation.background = background;
  permutation.samples = 1;
  EXPECT_EQ(error_message([&] { PermutationShapley(model, permutation); }),
            "invalid samples: 1 (must be >= 2 to estimate a standard error)");
  KernelShapOptions kernel;
  kernel.background = background;
  kernel.budget = -1;
  EXPECT_EQ(error_message([&] { KernelShap(model, kernel); }),
            "invalid budget: -1 (must be >= 0; 0 means 2 * players + 2048)");
  kernel.budget = 0;
  kernel.max_batch = 0;
  EXPECT_EQ(error_message([&] { KernelShap(model, kernel); }),
            "invalid max_batch: 0 (must be >= 1)");

  OcclusionOptions occlusion;
  occlusion.window = {2, 0};
  EXPECT_EQ(error_message([&] { Occlusion(model, occlusion); }),
            "invalid window: [2, 0] (every size must be >= 1)");
  occlusion.window = {2, 2};
  occlusion.stride = {1};
  EXPECT_EQ(error_message([&] { Occlusion(model, occlusion); }),
            "invalid stride: [1] (must have one step per window dimension, "
            "2)");
  occlusion.stride = {};
  Occlusion explainer(model, occlusion);
  EXPECT_EQ(error_message([&] {
              explainer.attribute(torch::ones({1, 3}, kDouble), all_targets());
            }),
            "invalid window: [2, 2] (must fit the input row's trailing "
            "dimensions of [3])");
}

TEST_F(ShapleyOptionsTest, ExplainersPrintTheirOptions) {
  torch::Tensor w;
  Model model = linear_model(4, 1, &w);
  torch::Tensor background = torch::zeros({10, 4}, kDouble);
  ExactShapleyOptions exact;
  exact.background = background;
  EXPECT_EQ(ExactShapley(model, exact).str(),
            "ExactShapley(background=10, players=4, max_players=20, "
            "max_batch=4096)");
  PermutationShapleyOptions permutation;
  permutation.background = background;
  permutation.players = Players(torch::tensor({0, 0, 1, 1}));
  EXPECT_EQ(PermutationShapley(model, permutation).str(),
            "PermutationShapley(background=10, players=2, samples=25, seed=0, "
            "max_batch=4096)");
  KernelShapOptions kernel;
  kernel.background = background;
  EXPECT_EQ(KernelShap(model, kernel).str(),
            "KernelShap(background=10, players=4, budget=auto, seed=0, "
            "max_batch=4096)");
  EXPECT_EQ(FeatureAblation(model).str(),
            "FeatureAblation(background=zeros, players=each element, "
            "max_batch=4096)");
  EXPECT_EQ(Occlusion(model).str(),
            "Occlusion(window=[4, 4], stride=[4, 4], background=zeros, "
            "max_batch=4096)");
}

// ---------------------------------------------------------------------------
// The bundled models: completeness on real data.

TEST_F(ShapleyBundledTest, BreastCancerExactAndKernelShapAreComplete) {
  Model model = Model::load(source_path("models/breast_cancer_mlp.pt"));
  LoadOptions load;
  load.label_column = "target";
  Dataset data = load_data(source_path("models/data/breast_cancer.csv"), load);
  torch::Tensor x = data.x.slice(0, 0, 2);
  torch::Tensor background = data.x.slice(0, 100, 105);

  // One player per measurement: its mean, standard error and worst value.
  std::vector<FeatureGroup> groups;
  for (int64_t j = 0; j < 10; ++j) {
    std::string name = data.feature_names[j].substr(5);  // "mean radius"
    ASSERT_EQ(data.feature_names[j + 10], name + " error");
    groups.push_back({name, {j, j + 10, j + 20}});
  }
  ExactShapleyOptions exact;
  exact.background = background;
  exact.players = Players::groups(30, groups, data.feature_names);
  PlayerAttribution e =
      ExactShapley(model, exact).explain(x, Target::parse("all"));
  EXPECT_LE(max_relative_gap(e.attribution), 1e-5);
  EXPECT_EQ(e.player_names[0], "radius");
  EXPECT_GT((e.attribution.outputs - e.attribution.base_values)
                .abs()
                .min()
                .item<float>(),
            1.0f);

  KernelShapOptions kernel;
  kernel.background = background;
  Attribution k = KernelShap(model, kernel).attribute(x, Target::parse("all"));
  EXPECT_LE(max_relative_gap(k), 1e-5);
  // Grouped exact values and per-feature KernelSHAP values explain the same
  // change.
  EXPECT_TRUE(all_close(k.values.flatten(2).sum(2),
                        e.attribution.values.flatten(2).sum(2), 1e-3, 1e-5));
}

TEST_F(ShapleyBundledTest, MnistPatchesExactAndKernelShapAreComplete) {
  Model model = Model::load(source_path("models/mnist_cnn.pt"));
  torch::Tensor digits =
      load_npy(source_path("models/data/mnist_test_images.npy"));
  torch::Tensor x = digits.slice(0, 0, 1);
  torch::Tensor background = digits.slice(0, 900, 901);

  // 16 patches of 7 x 7 pixels: 2^16 coalitions.
  ExactShapleyOptions exact;
  exact.background = background;
  exact.players = Players::grid(28, 28, 7, 7);
  PlayerAttribution e =
      ExactShapley(model, exact).explain(x, Target::parse("pred"));
  EXPECT_LE(max_relative_gap(e.attribution), 1e-4);
  EXPECT_EQ(e.player_values.sizes(), (std::vector<int64_t>{1, 1, 16}));

  // 49 patches of 4 x 4 pixels, the default budget of 2 * 49 + 2048.
  KernelShapOptions kernel;
  kernel.background = digits.slice(0, 900, 902);
  kernel.players = Players::grid(28, 28, 4, 4);
  Attribution k = KernelShap(model, kernel).attribute(x, Target::parse("pred"));
  EXPECT_LE(max_relative_gap(k), 1e-4);
  EXPECT_EQ(k.values.sizes(), (std::vector<int64_t>{1, 1, 1, 28, 28}));
}

// ---------------------------------------------------------------------------

TEST_F(ShapleyCudaTest, CudaMatchesCpu) {
  if (!torch::cuda::is_available()) {
#ifdef XAI_REQUIRE_CUDA
    FAIL() << "CUDA is required (XAI_WITH_CUDA_TESTS) but not available";
#else
    GTEST_SKIP() << "CUDA is not available";
#endif
  }
  Model cpu = interaction_model();
  Model cuda(cpu.module().clone(), torch::Device(torch::kCUDA, 0));
  torch::Tensor x = torch::randn({2, 8}, kDouble);
  torch::Tensor background = torch::randn({3, 8}, kDouble);

  auto check = [&](const Explainer& on_cpu, const Explainer& on_cuda) {
    Attribution a = on_cpu.attribute(x, all_targets());
    Attribution b = on_cuda.attribute(x.to(torch::kCUDA), all_targets());
    EXPECT_TRUE(b.values.device().is_cpu()) << on_cuda.str();
    EXPECT_TRUE(all_close(b.values, a.values, 1e-9)) << on_cuda.str();
    EXPECT_TRUE(all_close(b.completeness_gap, a.completeness_gap, 1e-9));
  };
  ExactShapleyOptions exact;
  exact.background = background;
  exact.max_batch = 50;
  check(ExactShapley(cpu, exact), ExactShapley(cuda, exact));
  PermutationShapleyOptions permutation;
  permutation.background = background;
  permutation.samples = 4;
  check(PermutationShapley(cpu, permutation),
        PermutationShapley(cuda, permutation));
  KernelShapOptions kernel;
  kernel.background = background;
  kernel.budget = 60;
  check(KernelShap(cpu, kernel), KernelShap(cuda, kernel));
  FeatureAblationOptions ablation;
  ablation.background = background;
  check(FeatureAblation(cpu, ablation), FeatureAblation(cuda, ablation));
  OcclusionOptions occlusion;
  occlusion.window = {3};
  occlusion.stride = {2};
  occlusion.background = background;
  check(Occlusion(cpu, occlusion), Occlusion(cuda, occlusion));
}

}  // namespace
}  // namespace xai
