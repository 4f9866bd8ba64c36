#include "xai/attribution/deeplift.h"

#include <gtest/gtest.h>

#include "test_util.h"
#include "xai/error.h"

namespace xai {
namespace {

using test::all_close;
using test::model_from_source;

class DeepLiftTest : public test::Seeded {};

// Largest |Σφ - (f(x) - base)| relative to max(1, |f(x)|).
double relative_gap(const Attribution& a) { return max_relative_gap(a); }

// Checks that the rewritten graph computes the same outputs as the model and
// that DeepSHAP's values add up to f(x) - mean f(background).
void expect_complete(const Model& model, const torch::Tensor& x,
                     const torch::Tensor& background, double tol,
                     const Target& target = Target::parse("all")) {
  DeepShap shap(model, background);
  for (const auto& t : shap.treatments()) {
    EXPECT_NE(t.treatment, "unsupported") << t.op << " at " << t.location;
  }
  Attribution a = shap.attribute(x, target);
  EXPECT_LE(relative_gap(a), tol) << shap.str();
  auto sums = a.values.flatten(2).sum(2);
  EXPECT_TRUE(all_close(sums, a.outputs - a.base_values, tol, tol));
}

TEST_F(DeepLiftTest, TwoReluExampleGivesKnownValues) {
  Model model = model_from_source(R"(
def forward(self, x):
    return 2.0 * torch.relu(x[:, 0:1]) + 2.0 * torch.relu(x[:, 1:2] - 1.5)
)");
  DeepLift dl(model, torch::zeros({1, 2}));
  Attribution a = dl.attribute(torch::tensor({{1.0f, 2.0f}}), Target{});
  EXPECT_TRUE(all_close(a.values.view({2}), torch::tensor({2.0f, 1.0f})));
  EXPECT_NEAR(a.completeness_gap.item<float>(), 0.0f, 1e-6);
}

TEST_F(DeepLiftTest, LinearModelDeepShapIsWeightTimesDistanceToMean) {
  auto w = torch::randn({3, 5});
  auto b = torch::randn({3});
  Model model = model_from_source(R"(
def forward(self, x):
    return torch.linear(x, self.w, self.b)
)", {{"w", w}, {"b", b}});
  auto x = torch::randn({4, 5});
  auto bg = torch::randn({7, 5});
  Attribution a = DeepShap(model, bg).attribute(x, Target::parse("all"));
  auto expected = w.unsqueeze(0) * (x - bg.mean(0)).unsqueeze(1);
  EXPECT_TRUE(all_close(a.values, expected, 1e-5));
  EXPECT_TRUE(all_close(a.base_values,
                        model.forward(bg).mean(0).expand({4, 3}), 1e-5));
}

TEST_F(DeepLiftTest, ReluCalledTwiceIsComplete) {
  Model model = model_from_source(R"(
def forward(self, x):
    h = torch.relu(torch.linear(x, self.w1))
    return torch.relu(torch.linear(h, self.w2))
)", {{"w1", torch::randn({8, 4})}, {"w2", torch::randn({3, 8})}});
  expect_complete(model, torch::randn({5, 4}), torch::randn({6, 4}), 1e-4);
}

TEST_F(DeepLiftTest, ReusedActivationModuleIsComplete) {
  torch::jit::Module act("Act");
  act.define("def forward(self, x):\n    return torch.relu(x)\n");
  torch::jit::Module m("Net");
  m.register_parameter("w1", torch::randn({6, 4}), false);
  m.register_parameter("w2", torch::randn({2, 6}), false);
  m.register_module("act", act);
  m.define(R"(
def forward(self, x):
    h = self.act.forward(torch.linear(x, self.w1))
    return self.act.forward(torch.linear(h, self.w2)) - 0.5
)");
  Model model(m, torch::kCPU);
  DeepShap shap(model, torch::randn({5, 4}));
  int rules = 0;
  for (const auto& t : shap.treatments()) rules += t.op == "aten::relu";
  EXPECT_EQ(rules, 2);
  expect_complete(model, torch::randn({4, 4}), torch::randn({5, 4}), 1e-4);
}

TEST_F(DeepLiftTest, InplaceReluInResidualBlockIsComplete) {
  Model model = model_from_source(R"(
def forward(self, x):
    identity = x
    out = torch.linear(x, self.w1)
    out = out.relu_()
    out = torch.linear(out, self.w2)
    out += identity
    out.relu_()
    return torch.linear(out, self.w3)
)", {{"w1", torch::randn({4, 4})}, {"w2", torch::randn({4, 4})},
     {"w3", torch::randn({2, 4})}});
  expect_complete(model, torch::randn({5, 4}), torch::randn({6, 4}), 1e-4);
}

TEST_F(DeepLiftTest, SigmoidTanhSoftmaxLogSoftmaxOutputsAreComplete) {
  for (const char* head : {"torch.sigmoid(z)", "torch.tanh(z)",
                           "torch.softmax(z, 1)", "torch.log_softmax(z, -1)",
                           "torch.softmax(z, 1) * 3.0"}) {
    Model model = model_from_source(std::string(R"(
def forward(self, x):
    z = torch.linear(torch.relu(
        torch.linear(x, self.w1)), self.w2)
    return )") + head + "\n",
        {{"w1", torch::randn({6, 4})}, {"w2", torch::randn({3, 6}) * 2}});
    SCOPED_TRACE(head);
    expect_complete(model, torch::randn({5, 4}), torch::randn({6, 4}), 1e-4);
  }
}

TEST_F(DeepLiftTest, SoftmaxInsideTheModelIsComplete) {
  Model model = model_from_source(R"(
def forward(self, x):
    gate = torch.softmax(torch.linear(x, self.w1), dim=1)
    return torch.linear(gate * x, self.w2)
)", {{"w1", torch::randn({4, 4})}, {"w2", torch::randn({2, 4})}});
  expect_complete(model, torch::randn({5, 4}), torch::randn({6, 4}), 1e-4);
}

TEST_F(DeepLiftTest, ProductOfTwoBranchesIsComplete) {
  Model model = model_from_source(R"(
def forward(self, x):
    a = torch.tanh(torch.linear(x, self.w1))
    b = torch.relu(torch.linear(x, self.w2))
    return torch.linear(a * b / (1.0 + b * b), self.w3)
)", {{"w1", torch::randn({5, 4})}, {"w2", torch::randn({5, 4})},
     {"w3", torch::randn({2, 5})}});
  expect_complete(model, torch::randn({5, 4}), torch::randn({6, 4}), 1e-4);
}

TEST_F(DeepLiftTest, MatmulOfTwoBranchesIsComplete) {
  Model model = model_from_source(R"(
def forward(self, x):
    a = torch.linear(x, self.w1).view(-1, 2, 3)
    b = torch.sigmoid(torch.linear(x, self.w2)).view(-1, 3, 2)
    return torch.matmul(a, b).flatten(1)
)", {{"w1", torch::randn({6, 4})}, {"w2", torch::randn({6, 4})}});
  expect_complete(model, torch::randn({5, 4}), torch::randn({6, 4}), 1e-4);
}

TEST_F(DeepLiftTest, MaxPoolFollowedByReluIsComplete) {
  Model model = model_from_source(R"(
def forward(self, x):
    h = torch.conv2d(x, self.k, padding=1)
    h = torch.relu(torch.max_pool2d(h, [2, 2]))
    h = torch.max_pool2d(h, [3, 3], [2, 2], [1, 1], [1, 1], True)
    g = torch.adaptive_max_pool2d(h, [1, 1])[0]
    u = torch.adaptive_max_pool2d(h, [2, 3])[0]
    return torch.cat([h.flatten(1), g.flatten(1), u.flatten(1)], 1)
)", {{"k", torch::randn({3, 2, 3, 3})}});
  auto x = torch::randn({3, 2, 8, 8});
  expect_complete(model, x, torch::randn({4, 2, 8, 8}), 1e-4);
}

TEST_F(DeepLiftTest, TrunkCalledTwiceOnTwoInputsIsComplete) {
  torch::jit::Module trunk("Trunk");
  trunk.register_parameter("w", torch::randn({4, 3}), false);
  trunk.define(R"(
def forward(self, x):
    return torch.relu(torch.linear(x, self.w))
)");
  torch::jit::Module m("Siamese");
  m.register_module("trunk", trunk);
  m.define(R"(
def forward(self, x):
    a = self.trunk.forward(x[:, 0:3])
    b = self.trunk.forward(x[:, 3:6])
    return torch.sum(a * b, dim=1, keepdim=True) - torch.sum(a - b, 1, True)
)");
  expect_complete(Model(m, torch::kCPU), torch::randn({5, 6}),
                  torch::randn({6, 6}), 1e-4);
}

TEST_F(DeepLiftTest, LayerNormAndSelfAttentionAreComplete) {
  int64_t d = 8;
  Model model = model_from_source(R"(
def forward(self, x):
    h = x.view(-1, 4, 8)
    n = torch.layer_norm(h, [8], self.g, self.beta, 1e-5)
    q = torch.linear(n, self.wq)
    k = torch.linear(n, self.wk)
    v = torch.linear(n, self.wv)
    att = torch.softmax(torch.matmul(q, k.transpose(1, 2)) / 2.8284, dim=-1)
    h = h + torch.matmul(att, v)
    h = h + torch.linear(torch.gelu(torch.linear(
        torch.layer_norm(h, [8]), self.w1)), self.w2)
    return torch.linear(h.mean(1), self.wo)
)", {{"g", torch::rand({d}) + 0.5}, {"beta", torch::randn({d})},
     {"wq", torch::randn({d, d}) / 3}, {"wk", torch::randn({d, d}) / 3},
     {"wv", torch::randn({d, d}) / 3}, {"w1", torch::randn({16, d}) / 3},
     {"w2", torch::randn({d, 16}) / 3}, {"wo", torch::randn({3, d})}});
  expect_complete(model, torch::randn({4, 32}), torch::randn({5, 32}), 1e-4);
}

TEST_F(DeepLiftTest, GroupNormIsComplete) {
  Model model = model_from_source(R"(
def forward(self, x):
    h = torch.conv2d(x, self.k, padding=1)
    h = torch.relu(torch.group_norm(h, 2, self.g, self.b, 1e-5))
    h = torch.instance_norm(h, None, None, None, None, True, 0.1, 1e-5,
                            False)
    return h.mean([2, 3])
)", {{"k", torch::randn({4, 2, 3, 3})}, {"g", torch::rand({4}) + 0.5},
     {"b", torch::randn({4})}});
  expect_complete(model, torch::randn({3, 2, 5, 5}), torch::randn({4, 2, 5, 5}),
                  1e-4);
}

TEST_F(DeepLiftTest, ChunkedEqualsUnchunked) {
  Model model = model_from_source(R"(
def forward(self, x):
    h = torch.relu(torch.linear(x, self.w1))
    return torch.log_softmax(torch.linear(h, self.w2), 1)
)", {{"w1", torch::randn({8, 4})}, {"w2", torch::randn({3, 8})}});
  auto x = torch::randn({5, 4});
  auto bg = torch::randn({9, 4});
  DeepLiftOptions small;
  small.max_batch = 2;
  auto whole = DeepShap(model, bg).attribute(x, Target::parse("all"));
  auto chunked = DeepShap(model, bg, small).attribute(x, Target::parse("all"));
  EXPECT_TRUE(all_close(chunked.values, whole.values, 1e-6));
  EXPECT_GT(chunked.forward_passes, whole.forward_passes);
}

TEST_F(DeepLiftTest, TargetsSelectPredictedIndexAndAll) {
  Model model = model_from_source(R"(
def forward(self, x):
    return torch.linear(x, self.w)
)", {{"w", torch::randn({3, 4})}});
  auto x = torch::randn({6, 4});
  auto bg = torch::randn({2, 4});
  DeepShap shap(model, bg);
  auto all = shap.attribute(x, Target::parse("all"));
  auto pred = shap.attribute(x, Target::parse("pred"));
  auto one = shap.attribute(x, Target::parse("2"));
  ASSERT_EQ(all.values.sizes(), (std::vector<int64_t>{6, 3, 4}));
  ASSERT_EQ(pred.values.sizes(), (std::vector<int64_t>{6, 1, 4}));
  EXPECT_TRUE(all_close(pred.targets.squeeze(1), model.forward(x).argmax(1)));
  EXPECT_TRUE(all_close(one.values.squeeze(1), all.values.select(1, 2)));
  EXPECT_EQ(test::error_message([&] { shap.attribute(x, Target::parse("3")); }),
            "invalid target: 3 (the model has 3 outputs, 0 to 2)");
}

TEST_F(DeepLiftTest, UnsupportedOpWarnsAndStrictModeRefuses) {
  Model model = model_from_source(R"(
def forward(self, x):
    return torch.floor(torch.linear(x, self.w))
)", {{"w", torch::randn({2, 4})}});
  DeepShap lenient(model, torch::randn({3, 4}));
  bool found = false;
  for (const auto& t : lenient.treatments()) {
    found |= t.op == "aten::floor" && t.treatment == "unsupported";
  }
  EXPECT_TRUE(found);
  DeepLiftOptions strict;
  strict.strict = true;
  std::string msg = test::error_message(
      [&] { DeepShap(model, torch::randn({3, 4}), strict); });
  EXPECT_EQ(msg.rfind("cannot explain with DeepLIFT in strict mode: "
                      "aten::floor at ", 0), 0u) << msg;
  EXPECT_NE(msg.find("is nonlinear without a DeepLIFT rule"),
            std::string::npos) << msg;
}

TEST_F(DeepLiftTest, EmptyBackgroundIsRefused) {
  Model model = model_from_source(
      "def forward(self, x):\n    return torch.relu(x)\n");
  EXPECT_EQ(test::error_message(
                [&] { DeepShap(model, torch::zeros({0, 4})); }),
            "cannot use background: it has no rows (DeepSHAP needs at least "
            "one reference row)");
}

}  // namespace
}  // namespace xai

namespace xai {
namespace {

// The CPU float32 kernels (rescale multipliers, max-pool chain) against the
// tensor-op path that float64 and CUDA take.
TEST(DeepLiftKernels, Float32KernelsMatchTensorPath) {
  torch::manual_seed(1);
  auto k = torch::randn({3, 2, 3, 3}, torch::kFloat64);
  auto w = torch::randn({2, 3 * 4 * 4}, torch::kFloat64);
  const char* source = R"(
def forward(self, x):
    h = torch.relu(torch.conv2d(x, self.k, padding=1))
    h = torch.max_pool2d(h, [2, 2])
    return torch.linear(torch.tanh(h.flatten(1)), self.w)
)";
  Model m64 = test::model_from_source(source, {{"k", k}, {"w", w}});
  Model m32 = test::model_from_source(
      source, {{"k", k.to(torch::kFloat32)}, {"w", w.to(torch::kFloat32)}});
  auto x = torch::randn({4, 2, 8, 8}, torch::kFloat64);
  auto bg = torch::randn({3, 2, 8, 8}, torch::kFloat64);
  auto a64 = DeepShap(m64, bg).attribute(x, Target::parse("all"));
  auto a32 = DeepShap(m32, bg.to(torch::kFloat32))
                 .attribute(x.to(torch::kFloat32), Target::parse("all"));
  EXPECT_TRUE(test::all_close(a32.values, a64.values, 1e-4, 1e-3));
  EXPECT_LE(max_relative_gap(a64), 1e-10);
}

}  // namespace
}  // namespace xai

namespace xai {
namespace {

TEST(DeepLiftCuda, CudaMatchesCpuOnBundledCnn) {
  if (!torch::cuda::is_available()) {
#ifdef XAI_REQUIRE_CUDA
    FAIL() << "CUDA is required (XAI_WITH_CUDA_TESTS) but not available";
#else
    GTEST_SKIP() << "CUDA is not available";
#endif
  }
  auto digits = torch::rand({4, 1, 28, 28});
  auto background = torch::rand({3, 1, 28, 28});
  std::string path = test::source_path("models/mnist_cnn.pt");
  Model cpu = Model::load(path, "cpu");
  Model gpu = Model::load(path, "cuda");
  auto a = DeepShap(cpu, background).attribute(digits, Target::parse("all"));
  auto b = DeepShap(gpu, background).attribute(digits, Target::parse("all"));
  EXPECT_TRUE(test::all_close(b.values, a.values, 1e-4, 1e-3));
  EXPECT_LE(max_relative_gap(b), 1e-3);
}

}  // namespace
}  // namespace xai
