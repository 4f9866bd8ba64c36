#include "xai/visualize/visualize.h"

#include <cmath>

#include "test_util.h"
#include "xai/io/npy.h"

namespace xai {
namespace {

using test::all_close;
using torch::Tensor;

class Visualize : public test::Seeded {};

Model mnist() { return Model::load(test::source_path("models/mnist_cnn.pt")); }

TEST_F(Visualize, LinearUnitUnderL2ReachesNormalizedWeights) {
  Tensor w = torch::tensor({3.0, -1.0, 2.0, 0.5}).to(torch::kFloat32);
  Model model = test::model_from_source(R"(
def forward(self, x):
    return torch.matmul(x, self.w.unsqueeze(1))
)",
                                        {{"w", w}});
  VisualizeOptions o;
  o.row_shape = {4};
  o.squash = Squash::kNone;
  o.l2 = w.norm().item<double>() / 2;  // optimum w / (2 * l2) = w / |w|
  o.steps = 400;
  auto r = Visualizer(model, {Objective::logit(0)}, o).run();
  EXPECT_TRUE(all_close(r.inputs.reshape({4}), w / w.norm(), 1e-3));
}

TEST_F(Visualize, ObjectivesRiseOverTheRun) {
  Model model = mnist();
  std::vector<Objective> objectives = {
      Objective::neuron("conv2", 3), Objective::channel("conv2", 3),
      Objective::layer("relu2"), Objective::logit(2)};
  VisualizeOptions o;
  o.row_shape = {1, 28, 28};
  o.steps = 24;
  o.snapshots = {1};
  auto r = Visualizer(model, objectives, o).run();
  ASSERT_EQ(r.snapshots.size(), 2u);
  Tensor first = r.snapshots[0].values, last = r.snapshots[1].values;
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_GT(last[i][0].item<double>(), first[i][0].item<double>() + 0.1)
        << objectives[i].str();
  }
}

TEST_F(Visualize, SameSeedIsBitForBitAndOtherSeedsDiffer) {
  Model model = mnist();
  VisualizeOptions o;
  o.row_shape = {1, 28, 28};
  o.steps = 6;
  o.batch = 2;
  auto run = [&](uint64_t seed) {
    o.seed = seed;
    return Visualizer(model, {Objective::parse("conv2:5+0.5*conv2:7")}, o)
        .run()
        .inputs;
  };
  Tensor a = run(3), b = run(3), c = run(4);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
  EXPECT_GT((a - c).abs().max().item<double>(), 1e-3);
}

TEST_F(Visualize, LastConvChannelsBeatTheTestDigits) {
  Model model = mnist();
  std::vector<Objective> objectives;
  for (int64_t c = 0; c < 32; ++c) {
    objectives.push_back(Objective::channel("conv2", c));
  }
  VisualizeOptions o;  // few steps: pixels, no transforms, a high rate
  o.row_shape = {1, 28, 28};
  o.param = ParamKind::kPixel;
  o.transforms.enabled = false;
  o.lr = 0.5;
  o.steps = 20;
  Visualizer vis(model, objectives, o);
  auto r = vis.run();
  Tensor digits =
      load_npy(test::source_path("models/data/mnist_test_images.npy"));
  Tensor best = std::get<0>(vis.evaluate(digits).max(1));
  for (int64_t c = 0; c < 32; ++c) {
    EXPECT_GE(r.values[c][0].item<double>(), best[c].item<double>())
        << "channel " << c;
  }
}

TEST_F(Visualize, ClassLogitVisualizationsAreClassifiedAsTheirClass) {
  Model model = mnist();
  std::vector<Objective> objectives;
  for (int64_t k = 0; k < 10; ++k) objectives.push_back(Objective::logit(k));
  VisualizeOptions o;  // few steps: pixels, no transforms, a high rate
  o.row_shape = {1, 28, 28};
  o.param = ParamKind::kPixel;
  o.transforms.enabled = false;
  o.lr = 0.2;
  o.steps = 12;
  auto r = Visualizer(model, objectives, o).run();
  torch::NoGradGuard no_grad;
  Tensor pred = model.forward(r.inputs.reshape({10, 1, 28, 28})).argmax(1);
  EXPECT_TRUE(torch::equal(pred, torch::arange(10)));
}

TEST_F(Visualize, VectorsStayInsideTheFeatureRange) {
  Model model = test::model_from_source(R"(
def forward(self, x):
    return torch.stack([x[:, 0] - x[:, 1], x[:, 2]], 1)
)");
  VisualizeOptions o;
  o.row_shape = {3};
  o.feature_lo = torch::tensor({-1.0f, 2.0f, 0.0f});
  o.feature_hi = torch::tensor({1.0f, 5.0f, 0.0f});
  o.steps = 300;
  o.lr = 0.2;
  auto r = Visualizer(model, {Objective::logit(0)}, o).run();
  Tensor x = r.inputs.reshape({3});
  EXPECT_NEAR(x[0].item<double>(), 1.0, 0.05);  // pushed to its top
  EXPECT_NEAR(x[1].item<double>(), 2.0, 0.05);  // pushed to its bottom
  EXPECT_EQ(x[2].item<double>(), 0.0);          // a constant feature
}

TEST_F(Visualize, FixedShapeSequencesAreOptimized) {
  Model model = test::model_from_source(R"(
def forward(self, x):
    return x[:, 0, 2:5].sum(1, keepdim=True) - x[:, 1].mean(1, True)
)");
  VisualizeOptions o;
  o.row_shape = {2, 8};
  o.steps = 100;
  auto r = Visualizer(model, {Objective::logit(0)}, o).run();
  EXPECT_GT(r.values[0][0].item<double>(), 2.5);
  EXPECT_GE(r.inputs.min().item<double>(), 0.0);
  EXPECT_LE(r.inputs.max().item<double>(), 1.0);
}

TEST_F(Visualize, NormalizationIsAppliedBeforeTheModel) {
  Model model = test::model_from_source(R"(
def forward(self, x):
    return x.flatten(1)[:, :1]
)");
  VisualizeOptions o;
  o.row_shape = {1, 2, 2};
  o.mean = {0.5};
  o.std = {0.25};
  Visualizer vis(model, {Objective::logit(0)}, o);
  Tensor x = torch::full({1, 1, 2, 2}, 1.0);
  EXPECT_NEAR(vis.evaluate(x)[0][0].item<double>(), 2.0, 1e-6);
}

TEST_F(Visualize, BadInputIsRefusedWithClearMessages) {
  Model model = mnist();
  auto make = [&](const std::string& spec,
                  std::vector<int64_t> shape = {1, 28, 28}) {
    VisualizeOptions o;
    o.row_shape = shape;
    Visualizer(model, {Objective::parse(spec)}, o);
  };
  EXPECT_EQ(test::error_message([&] { make("conv3:1"); }),
            "unknown layer: conv3 (nearest: conv1, conv2, relu3; xai-inspect "
            "--input-shape lists them all)");
  EXPECT_EQ(test::error_message([&] { make("conv2:32"); }),
            "invalid objective: conv2:32 (channel 32 out of range: conv2 "
            "has 32 channels)");
  EXPECT_EQ(test::error_message([&] { make("logit:10"); }),
            "invalid objective: logit:10 (logit 10 out of range: the model "
            "has 10 outputs)");
  EXPECT_EQ(test::error_message([&] { make("conv2:x"); }),
            "invalid objective: conv2:x (expected <layer>:<channel>, "
            "neuron:<layer>:<channel>[@i,j], layer:<layer>, logit:<k>, "
            "diversity:<layer> or direction:<layer>:<v0>,<v1>,..., joined "
            "by + and -, each with an optional <weight>* in front)");
  std::string shape = test::error_message([&] {
    make("conv2:1", {1, 20, 20});
  });
  EXPECT_EQ(shape.rfind("invalid input shape: 1,20,20 (the model rejects "
                        "it: ",
                        0),
            0u)
      << shape;
  VisualizeOptions o;
  o.row_shape = {1, 28, 28};
  o.steps = 0;
  EXPECT_EQ(
      test::error_message([&] { Visualizer(model, {Objective::logit(1)}, o); }),
      "invalid steps: 0 (at least 1)");
}

}  // namespace
}  // namespace xai
