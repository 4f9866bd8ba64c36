#include "xai/io/explanation.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "test_util.h"
#include "xai/error.h"
#include "xai/io/file.h"
#include "xai/io/npy.h"

namespace xai {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using test::error_message;

// An attribution of `rows` rows of shape `row_shape` for `targets` targets
// per row, with recognisable values.
Attribution make_attribution(int64_t rows, int64_t targets,
                             std::vector<int64_t> row_shape) {
  std::vector<int64_t> shape = {rows, targets};
  shape.insert(shape.end(), row_shape.begin(), row_shape.end());
  Attribution a;
  a.method = "ig";
  a.options = {{"steps", "64"},      {"noise", "0.25"},
               {"rule", "riemann"},  {"strict", "true"},
               {"seeded", "false"},  {"scale", "-1.5e-3"},
               {"version", "1.2.3"}, {"huge", "99999999999999999999"}};
  a.values = torch::randn(shape, torch::kFloat64);
  a.targets = torch::arange(targets, torch::kInt64).repeat({rows, 1});
  a.outputs = torch::randn({rows, targets});
  a.base_values = torch::randn({rows, targets});
  a.completeness_gap = torch::randn({rows, targets}) * 1e-4;
  a.model_evaluations = 640;
  a.forward_passes = 10;
  a.backward_passes = 5;
  a.seconds = 0.5;
  return a;
}

ExplanationMeta make_meta(const torch::Tensor& data, int64_t outputs) {
  ExplanationMeta meta;
  meta.model_path = "models/m.pt";
  meta.model_sha256 = "ab12";
  meta.input_path = "data.csv";
  meta.device = "cpu";
  meta.num_outputs = outputs;
  meta.data = data;
  meta.total_seconds = 1.25;
  return meta;
}

// A json array of numbers as a tensor of `shape` (float64).
torch::Tensor from_json(const json& j, const std::vector<int64_t>& shape) {
  std::vector<double> flat;
  std::function<void(const json&)> walk = [&](const json& node) {
    if (node.is_array()) {
      for (const auto& child : node) walk(child);
    } else {
      flat.push_back(node.get<double>());
    }
  };
  walk(j);
  return torch::tensor(flat, torch::kFloat64).reshape(shape);
}

class ExplanationTest : public test::Seeded {
 protected:
  void SetUp() override {
    test::Seeded::SetUp();
    dir_ = test::temp_dir("xai-explanation");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<std::string> files(const std::string& dir) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
      names.push_back(entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir_;
};

TEST_F(ExplanationTest, OneTargetDropsTheTargetAxis) {
  Attribution a = make_attribution(2, 1, {3});
  a.targets = torch::tensor({{1}, {0}}).to(torch::kInt64);
  torch::Tensor data = torch::randn({2, 3});
  ExplanationMeta meta = make_meta(data, 2);
  meta.feature_names = {"a", "b", "c"};

  json j = json::parse(explanation_json(a, meta));
  EXPECT_EQ(j["shape"], json({2, 3}));
  EXPECT_TRUE(test::all_close(from_json(j["values"], {2, 3}),
                              a.values.select(1, 0), 0.0));
  EXPECT_TRUE(test::all_close(from_json(j["base_values"], {2}),
                              a.base_values.select(1, 0), 0.0));
  EXPECT_TRUE(test::all_close(from_json(j["outputs"], {2}),
                              a.outputs.select(1, 0), 0.0));
  EXPECT_TRUE(test::all_close(from_json(j["completeness_gap"], {2}),
                              a.completeness_gap.select(1, 0), 0.0));
  EXPECT_EQ(j["targets"], json({1, 0}));
  EXPECT_TRUE(test::all_close(from_json(j["data"], {2, 3}), data, 0.0));
  EXPECT_EQ(j["feature_names"], json({"a", "b", "c"}));
  EXPECT_EQ(j["output_names"], json({"output 0", "output 1"}));
  EXPECT_DOUBLE_EQ(j["max_abs_completeness_gap"].get<double>(),
                   a.completeness_gap.abs().max().item<double>());
}

TEST_F(ExplanationTest, AllTargetsMovesTheTargetAxisLast) {
  Attribution a = make_attribution(2, 3, {4});
  ExplanationMeta meta = make_meta(torch::randn({2, 4}), 3);
  meta.all_targets = true;
  meta.output_names = {"cat", "dog", "eel"};

  json j = json::parse(explanation_json(a, meta));
  EXPECT_EQ(j["shape"], json({2, 4, 3}));
  torch::Tensor values = from_json(j["values"], {2, 4, 3});
  // values[r][f][t] is a.values[r][t][f].
  EXPECT_EQ(j["values"][1][2][0].get<double>(),
            a.values[1][0][2].item<double>());
  EXPECT_TRUE(test::all_close(values, a.values.permute({0, 2, 1}), 0.0));
  EXPECT_TRUE(
      test::all_close(from_json(j["base_values"], {2, 3}), a.base_values, 0.0));
  EXPECT_TRUE(test::all_close(from_json(j["outputs"], {2, 3}), a.outputs, 0.0));
  EXPECT_EQ(j["targets"], json({{0, 1, 2}, {0, 1, 2}}));
  EXPECT_EQ(j["completeness_gap"].size(), 2u);
  EXPECT_EQ(j["completeness_gap"][0].size(), 3u);
  EXPECT_EQ(j["output_names"], json({"cat", "dog", "eel"}));
}

TEST_F(ExplanationTest, AllTargetsForImagesPutsTargetsAfterThePixels) {
  Attribution a = make_attribution(2, 2, {1, 3, 3});
  ExplanationMeta meta = make_meta(torch::rand({2, 1, 3, 3}), 2);
  meta.all_targets = true;
  json j = json::parse(explanation_json(a, meta));
  EXPECT_EQ(j["shape"], json({2, 1, 3, 3, 2}));
  EXPECT_TRUE(test::all_close(from_json(j["values"], {2, 1, 3, 3, 2}),
                              a.values.permute({0, 2, 3, 4, 1}), 0.0));
  EXPECT_EQ(j["data"][1][0][2].size(), 3u);
}

TEST_F(ExplanationTest, RecordsMetadataOptionsAndTimings) {
  Attribution a = make_attribution(1, 1, {2});
  json j = json::parse(explanation_json(a, make_meta(torch::zeros({1, 2}), 1)));
  EXPECT_EQ(j["method"], "ig");
  EXPECT_EQ(j["options"], json({{"steps", 64},
                                {"noise", 0.25},
                                {"rule", "riemann"},
                                {"strict", true},
                                {"seeded", false},
                                {"scale", -1.5e-3},
                                {"version", "1.2.3"},
                                {"huge", 1e20}}));
  EXPECT_TRUE(j["options"]["steps"].is_number_integer());
  EXPECT_EQ(j["model"], json({{"path", "models/m.pt"}, {"sha256", "ab12"}}));
  EXPECT_EQ(j["input"], "data.csv");
  EXPECT_EQ(j["device"], "cpu");
  EXPECT_EQ(j["timings"], json({{"attribution_seconds", 0.5},
                                {"total_seconds", 1.25},
                                {"model_evaluations", 640},
                                {"forward_passes", 10},
                                {"backward_passes", 5}}));
  EXPECT_TRUE(j["libxai_version"].is_string());
  EXPECT_FALSE(j["libxai_version"].get<std::string>().empty());
}

TEST_F(ExplanationTest, DoublesRoundTripExactly) {
  Attribution a = make_attribution(1, 1, {3});
  a.values = torch::tensor({0.1, 1.0 / 3.0, -2.5e-300}, torch::kFloat64)
                 .reshape({1, 1, 3});
  json j = json::parse(explanation_json(a, make_meta({}, 1)));
  EXPECT_EQ(j["values"][0][0].get<double>(), 0.1);
  EXPECT_EQ(j["values"][0][1].get<double>(), 1.0 / 3.0);
  EXPECT_EQ(j["values"][0][2].get<double>(), -2.5e-300);
  EXPECT_TRUE(j["data"].is_null());
}

TEST_F(ExplanationTest, MissingCompletenessGapIsNull) {
  Attribution a = make_attribution(2, 1, {3});
  a.completeness_gap = torch::Tensor();
  json j = json::parse(explanation_json(a, make_meta({}, 1)));
  EXPECT_TRUE(j["completeness_gap"].is_null());
  EXPECT_TRUE(j["max_abs_completeness_gap"].is_null());
}

TEST_F(ExplanationTest, MissingBaseValuesAreNullForMethodsWithoutReference) {
  Attribution a = make_attribution(2, 1, {3});
  a.method = "saliency";
  a.base_values = torch::Tensor();
  a.completeness_gap = torch::Tensor();
  json j = json::parse(explanation_json(a, make_meta({}, 1)));
  EXPECT_TRUE(j["base_values"].is_null());
  EXPECT_TRUE(j["completeness_gap"].is_null());
  EXPECT_EQ(j["outputs"].size(), 2u);
}

TEST_F(ExplanationTest, OutputNamesDefaultToTheLargestTargetPlusOne) {
  Attribution a = make_attribution(1, 1, {2});
  a.targets = torch::tensor({{2}}).to(torch::kInt64);
  json j = json::parse(explanation_json(a, make_meta({}, 0)));
  EXPECT_EQ(j["output_names"], json({"output 0", "output 1", "output 2"}));
}

TEST_F(ExplanationTest, WritesJsonAndValuesNpyAndNoTemporaryFiles) {
  Attribution a = make_attribution(3, 2, {4});
  a.values = a.values.to(torch::kFloat32);
  ExplanationMeta meta = make_meta(torch::randn({3, 4}), 2);
  meta.all_targets = true;
  std::string out = dir_ + "/nested/out";

  write_explanation(out, a, meta);
  EXPECT_EQ(files(out),
            (std::vector<std::string>{"explanation.json", "values.npy"}));
  torch::Tensor values = load_npy(out + "/values.npy");
  EXPECT_EQ(values.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(values, a.values.permute({0, 2, 1})));
  EXPECT_EQ(read_file(out + "/explanation.json"), explanation_json(a, meta));

  // Writing again replaces both files in place.
  write_explanation(out, a, meta);
  EXPECT_EQ(files(out),
            (std::vector<std::string>{"explanation.json", "values.npy"}));
}

TEST_F(ExplanationTest, NanValuesAreRefusedAndNothingIsWritten) {
  Attribution a = make_attribution(2, 1, {3});
  a.values[1][0][2] = std::nan("");
  std::string out = dir_ + "/out";
  EXPECT_EQ(error_message([&] {
              write_explanation(out, a, make_meta(torch::zeros({2, 3}), 1));
            }),
            "cannot write explanation: NaN or infinity in values at row "
            "index 1");
  EXPECT_THROW(write_explanation(out, a, make_meta({}, 1)), InvalidArgument);
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(ExplanationTest, SeveralTargetsNeedAllTargets) {
  Attribution a = make_attribution(2, 3, {4});
  EXPECT_EQ(error_message([&] { explanation_json(a, make_meta({}, 3)); }),
            "cannot write explanation: values hold 3 targets per row; one "
            "target per row is needed unless all_targets is set");
}

TEST_F(ExplanationTest, TargetOutOfRangeIsRefused) {
  Attribution a = make_attribution(1, 1, {2});
  a.targets = torch::tensor({{5}}).to(torch::kInt64);
  EXPECT_EQ(error_message([&] { explanation_json(a, make_meta({}, 2)); }),
            "cannot write explanation: target 5 is out of range for a model "
            "with 2 outputs");
}

TEST_F(ExplanationTest, MismatchedShapesAreRefused) {
  Attribution a = make_attribution(2, 1, {3});
  a.base_values = torch::zeros({3, 1});
  EXPECT_EQ(error_message([&] { explanation_json(a, make_meta({}, 1)); }),
            "cannot write explanation: base_values has shape [3, 1], "
            "expected [2, 1]");

  Attribution b = make_attribution(2, 1, {3});
  ExplanationMeta meta = make_meta(torch::zeros({5, 3}), 1);
  EXPECT_EQ(error_message([&] { explanation_json(b, meta); }),
            "cannot write explanation: data has shape [5, 3] for 2 rows of "
            "values");

  meta = make_meta({}, 1);
  meta.feature_names = {"a", "b"};
  EXPECT_EQ(error_message([&] { explanation_json(b, meta); }),
            "cannot write explanation: 2 feature names for 3 features");
}

TEST_F(ExplanationTest, OutDirThatIsAFileIsAnIoError) {
  std::string out = dir_ + "/file";
  write_file_atomic(out, "x");
  Attribution a = make_attribution(1, 1, {2});
  EXPECT_EQ(error_message([&] { write_explanation(out, a, make_meta({}, 1)); }),
            "cannot create directory " + out + ": a file of that name exists");
  EXPECT_THROW(write_explanation(out, a, make_meta({}, 1)), IoError);
}

}  // namespace
}  // namespace xai
