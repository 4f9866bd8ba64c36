#include "xai/visualize/layers.h"

#include "test_util.h"
#include "xai/error.h"

namespace xai {
namespace {

using test::all_close;
using torch::Tensor;

torch::jit::Module linear_module(int64_t in, int64_t out) {
  torch::jit::Module m("Linear");
  m.register_parameter("weight", torch::randn({out, in}), false);
  m.register_parameter("bias", torch::randn({out}), false);
  m.define(R"(
def forward(self, x):
    return torch.matmul(x, self.weight.t()) + self.bias
)");
  return m;
}

torch::jit::Module relu_module() {
  torch::jit::Module m("Relu");
  m.define(R"(
def forward(self, x):
    return torch.relu(x)
)");
  return m;
}

Tensor call(const torch::jit::Module& m, const Tensor& x) {
  return const_cast<torch::jit::Module&>(m).forward({x}).toTensor();
}

// fc1 -> act -> block(fc, act) -> fc2, with a nested block.
Model sequential() {
  torch::jit::Module block("Block");
  block.register_module("fc", linear_module(5, 5));
  block.register_module("act", relu_module());
  block.define(R"(
def forward(self, x):
    return self.act.forward(self.fc.forward(x))
)");
  torch::jit::Module m("Seq");
  m.register_module("fc1", linear_module(4, 5));
  m.register_module("act", relu_module());
  m.register_module("block", block);
  m.register_module("fc2", linear_module(5, 3));
  m.define(R"(
def forward(self, x):
    return self.fc2.forward(self.block.forward(
        self.act.forward(self.fc1.forward(x))))
)");
  return Model(m, torch::kCPU);
}

// relu(fc2(relu(fc1(x))) + x): one ReLU module called twice.
Model residual() {
  torch::jit::Module m("Res");
  m.register_module("fc1", linear_module(4, 4));
  m.register_module("relu", relu_module());
  m.register_module("fc2", linear_module(4, 4));
  m.define(R"(
def forward(self, x):
    h = self.relu.forward(self.fc1.forward(x))
    return self.relu.forward(self.fc2.forward(h) + x)
)");
  return Model(m, torch::kCPU);
}

class VisualizeLayers : public test::Seeded {};

TEST_F(VisualizeLayers, NamesFollowNamedModulesAndCallSites) {
  torch::manual_seed(0);
  EXPECT_EQ(layer_names(sequential()),
            (std::vector<std::string>{"fc1", "act", "block", "block.fc",
                                      "block.act", "fc2", "output"}));
  EXPECT_EQ(layer_names(residual()),
            (std::vector<std::string>{"fc1", "relu@0", "fc2", "relu@1",
                                      "output"}));
}

TEST_F(VisualizeLayers, SequentialLayerEqualsSubmoduleOnPrecedingValue) {
  Model model = sequential();
  const auto& m = model.module();
  LayerReader reader(model,
                     {"fc1", "act", "block.fc", "block.act", "block", "fc2"});
  Tensor x = torch::randn({3, 4});
  auto v = reader.forward(x);
  ASSERT_EQ(v.size(), 7u);
  EXPECT_TRUE(all_close(v[1], call(m.attr("fc1").toModule(), x), 1e-6));
  EXPECT_TRUE(all_close(v[2], call(m.attr("act").toModule(), v[1]), 1e-6));
  auto block = m.attr("block").toModule();
  EXPECT_TRUE(all_close(v[3], call(block.attr("fc").toModule(), v[2]), 1e-6));
  EXPECT_TRUE(all_close(v[4], call(block.attr("act").toModule(), v[3]), 1e-6));
  EXPECT_TRUE(all_close(v[5], v[4], 0.0));
  EXPECT_TRUE(all_close(v[6], call(m.attr("fc2").toModule(), v[5]), 1e-6));
  EXPECT_TRUE(all_close(v[0], call(m, x), 1e-6));
  EXPECT_GT((v[1] < 0).sum().item<int64_t>(), 0);  // the ReLU did something
}

TEST_F(VisualizeLayers, ResidualLayerEqualsSubmoduleOnPrecedingValue) {
  Model model = residual();
  const auto& m = model.module();
  LayerReader reader(model, {"fc1", "relu@0", "fc2", "relu@1", "output"});
  Tensor x = torch::randn({5, 4});
  auto v = reader.forward(x);
  auto relu = m.attr("relu").toModule();
  EXPECT_TRUE(all_close(v[1], call(m.attr("fc1").toModule(), x), 1e-6));
  EXPECT_TRUE(all_close(v[2], call(relu, v[1]), 1e-6));
  EXPECT_TRUE(all_close(v[3], call(m.attr("fc2").toModule(), v[2]), 1e-6));
  EXPECT_TRUE(all_close(v[4], call(relu, v[3] + x), 1e-6));
  EXPECT_TRUE(all_close(v[5], call(m, x), 1e-6));
}

TEST_F(VisualizeLayers, MnistCnnLayersHaveTheirShapes) {
  Model model = Model::load(test::source_path("models/mnist_cnn.pt"));
  auto info = describe_layers(model, {2, 1, 28, 28});
  std::vector<std::string> names;
  for (const auto& l : info) names.push_back(l.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "conv1", "relu1", "pool@0", "conv2", "relu2",
                       "pool@1", "flatten", "fc1", "relu3", "fc2",
                       "output"}));
  EXPECT_EQ(info[3].shape, (std::vector<int64_t>{2, 32, 14, 14}));
  EXPECT_EQ(info[5].shape, (std::vector<int64_t>{2, 32, 7, 7}));
  EXPECT_EQ(info.back().shape, (std::vector<int64_t>{2, 10}));

  // relu2 is what the model's own features() method returns.
  LayerReader reader(model, {"relu2"});
  Tensor x = torch::rand({2, 1, 28, 28});
  Tensor features = const_cast<torch::jit::Module&>(model.module())
                        .get_method("features")({x})
                        .toTensor();
  EXPECT_TRUE(all_close(reader.forward(x)[1], features, 1e-6));
}

// Regression: the TorchScript interpreter reports a rejected input with a
// plain std::exception, which used to escape as an internal error.
TEST_F(VisualizeLayers, RejectedInputShapeIsAnInvalidArgument) {
  Model model = Model::load(test::source_path("models/mnist_cnn.pt"));
  try {
    describe_layers(model, {1, 3, 28, 28});
    FAIL() << "no exception";
  } catch (const InvalidArgument& e) {
    // LibTorch's own wording of the reason varies between versions.
    std::string message = e.what();
    EXPECT_EQ(message.rfind(
                  "invalid input shape: 1,3,28,28 (the model rejects it: ", 0),
              0u)
        << message;
    EXPECT_NE(message.find("channels"), std::string::npos) << message;
    EXPECT_EQ(message.find("Traceback"), std::string::npos) << message;
  }
}

TEST_F(VisualizeLayers, RedirectedReluPassesGradientsThatRaiseDeadUnits) {
  Model model = test::model_from_source(R"(
def forward(self, x):
    return torch.relu(x - 10.0)
)");
  LayerReader reader(model, {});
  for (bool redirect : {false, true}) {
    Tensor x = torch::full({2, 3}, 0.5).requires_grad_(true);
    Tensor y = reader.forward(x, redirect)[0];
    EXPECT_TRUE(all_close(y, torch::zeros({2, 3}), 0.0));
    (-y.sum()).backward();
    // The loss -y falls as x rises: redirected, x gets gradient -1.
    Tensor expected = torch::full({2, 3}, redirect ? -1.0 : 0.0);
    EXPECT_TRUE(all_close(x.grad(), expected, 0.0)) << redirect;
  }
}

TEST_F(VisualizeLayers, BadLayersAreRefusedWithNearestNames) {
  Model model = residual();
  EXPECT_EQ(test::error_message([&] { LayerReader(model, {"fc3"}); }),
            "unknown layer: fc3 (nearest: fc1, fc2, relu@0; xai-inspect "
            "--input-shape lists them all)");
  EXPECT_EQ(test::error_message([&] { LayerReader(model, {"relu"}); }),
            "ambiguous layer: relu (relu is called 2 times; name one call "
            "site: relu@0, relu@1)");
  EXPECT_EQ(test::error_message([&] { LayerReader(model, {"relu@2"}); }),
            "unknown layer: relu@2 (nearest: relu@0, relu@1, fc2; "
            "xai-inspect --input-shape lists them all)");
}

}  // namespace
}  // namespace xai
