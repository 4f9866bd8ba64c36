#include "xai/model.h"

#include <gtest/gtest.h>

#include <fstream>

#include "test_util.h"
#include "xai/attribution/attribution.h"
#include "xai/error.h"

namespace xai {
namespace {

using test::error_message;
using test::source_path;

std::string write_bytes(const std::string& name, const std::string& bytes) {
  std::string path = test::temp_dir("model") + "/" + name;
  std::ofstream(path, std::ios::binary) << bytes;
  return path;
}

TEST(Model, LoadsBundledScriptedModelInEvalModeWithoutGradients) {
  Model m = Model::load(source_path("models/breast_cancer_mlp.pt"));
  EXPECT_FALSE(m.module().is_training());
  for (const auto& p : m.module().parameters()) {
    EXPECT_FALSE(p.requires_grad());
  }
  EXPECT_EQ(m.sha256().size(), 64u);
  EXPECT_EQ(m.dtype(), torch::kFloat32);
  EXPECT_EQ(m.input_row_shape(), (std::vector<int64_t>{30}));
  EXPECT_NE(m.signature().find("forward("), std::string::npos);
  auto names = m.submodule_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "fc1"), names.end());
}

TEST(Model, LoadsTracedModel) {
  auto m = test::model_from_source(
      "def forward(self, x):\n    return torch.relu(x) * self.w\n",
      {{"w", torch::ones({3})}});
  std::string path = test::temp_dir("traced") + "/m.pt";
  m.module().save(path);
  Model loaded = Model::load(path);
  auto x = torch::tensor({{-1.0f, 2.0f, 3.0f}});
  EXPECT_TRUE(
      test::all_close(loaded.forward(x), torch::tensor({{0.0f, 2.0f, 3.0f}})));
}

TEST(Model, MissingFileIsNamed) {
  EXPECT_EQ(error_message([] { Model::load("/nonexistent/m.pt"); }),
            "cannot load model /nonexistent/m.pt: no such file");
}

TEST(Model, EmptyFileIsNamed) {
  std::string path = write_bytes("empty.pt", "");
  EXPECT_EQ(error_message([&] { Model::load(path); }),
            "cannot load model " + path + ": the file is empty");
}

TEST(Model, StateDictIsRefusedWithExportAdvice) {
  std::string path = source_path("tests/data/state_dict.pt");
  EXPECT_EQ(error_message([&] { Model::load(path); }),
            "cannot load model " + path +
                ": it is not a TorchScript archive: it looks like a file "
                "written by torch.save (a pickled nn.Module or a state "
                "dict). Export the model with "
                "torch.jit.script(model).save(PATH) or "
                "torch.jit.trace(model, example).save(PATH)");
}

TEST(Model, GarbageFileIsRefused) {
  std::string path = write_bytes("junk.pt", "this is not a model");
  std::string msg = error_message([&] { Model::load(path); });
  EXPECT_EQ(msg, "cannot load model " + path +
                     ": it is not a TorchScript archive. Export the model "
                     "with torch.jit.script(model).save(PATH) or "
                     "torch.jit.trace(model, example).save(PATH)");
  try {
    Model::load(path);
  } catch (const Error& e) {
    EXPECT_EQ(exit_code(e.kind()), 5);
  }
}

TEST(Model, WrongShapeNamesExpectedAndGiven) {
  Model m = Model::load(source_path("models/breast_cancer_mlp.pt"));
  std::string msg = error_message([&] {
    m.check_input(torch::zeros({2, 29}));
  });
  EXPECT_EQ(msg.rfind("cannot run model on input of shape [2, 29]: expected "
                      "[rows, 30] (",
                      0),
            0u)
      << msg;
}

TEST(Model, WrongRankNamesExpectedAndGiven) {
  Model m = Model::load(source_path("models/mnist_cnn.pt"));
  std::string msg = error_message([&] {
    m.check_input(torch::zeros({2, 784}));
  });
  EXPECT_EQ(msg.rfind("cannot run model on input of shape [2, 784]: expected "
                      "[rows, 1, *, *] (",
                      0),
            0u)
      << msg;
}

TEST(Model, WrongDtypeNamesExpectedAndGiven) {
  Model m = Model::load(source_path("models/breast_cancer_mlp.pt"));
  EXPECT_EQ(error_message([&] {
              m.check_input(torch::zeros({2, 30}, torch::kInt64));
            }),
            "cannot use input: expected dtype Float, got Long");
  EXPECT_EQ(
      error_message([&] {
        detail::prepare_input(m, torch::zeros({2, 30}, torch::kBool), "input");
      }),
      "cannot use input: expected dtype Float, got Bool");
}

TEST(Model, NanInputIsRefusedWithItsRow) {
  Model m = Model::load(source_path("models/breast_cancer_mlp.pt"));
  auto x = torch::zeros({3, 30});
  x[2][5] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(error_message([&] { detail::prepare_input(m, x, "input"); }),
            "cannot use input: it contains NaN or infinity (first in row 2)");
}

TEST(Model, TargetsAreSelected) {
  Model m = Model::load(source_path("models/breast_cancer_mlp.pt"));
  auto out = torch::tensor({{1.0f, 2.0f}, {3.0f, -1.0f}});
  EXPECT_TRUE(test::all_close(m.select_targets(out, Target::parse("pred")),
                              torch::tensor({{1}, {0}})));
  EXPECT_TRUE(test::all_close(m.select_targets(out, Target::parse("all")),
                              torch::tensor({{0, 1}, {0, 1}})));
  EXPECT_EQ(error_message([] { Target::parse("-1"); }),
            "invalid target: '-1' (use pred, all or an output index)");
  auto one = torch::tensor({{0.5f}, {0.7f}});
  EXPECT_TRUE(test::all_close(m.select_targets(one, Target::parse("pred")),
                              torch::tensor({{0}, {0}})));
}

TEST(Model, DeviceSpecsAreParsed) {
  EXPECT_EQ(parse_device("cpu"), torch::Device(torch::kCPU));
  EXPECT_EQ(error_message([] { parse_device("tpu"); }),
            "invalid device: 'tpu' (use cpu, cuda, cuda:N or auto)");
  if (!torch::cuda::is_available()) {
    EXPECT_EQ(parse_device("auto"), torch::Device(torch::kCPU));
    EXPECT_EQ(error_message([] { parse_device("cuda:0"); }),
              "cannot use device 'cuda:0': CUDA is not available in this "
              "build or on this machine (use --device cpu or auto)");
  }
}

}  // namespace
}  // namespace xai
