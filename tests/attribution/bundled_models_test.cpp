// DeepSHAP on the bundled real models: completeness on real data.
#include <gtest/gtest.h>

#include "test_util.h"
#include "xai/attribution/deeplift.h"
#include "xai/io/data.h"
#include "xai/io/npy.h"

namespace xai {
namespace {

using test::source_path;

// |Σφ - (f(x) - mean f(background))| / max(1, |f(x)|), over rows/targets.
double worst_gap(const Attribution& a) { return max_relative_gap(a); }

TEST(BundledModels, BreastCancerDeepShapIsCompleteOnEveryRow) {
  Model model = Model::load(source_path("models/breast_cancer_mlp.pt"));
  LoadOptions opts;
  opts.label_column = "target";
  Dataset data = load_data(source_path("models/data/breast_cancer.csv"), opts);
  ASSERT_EQ(data.x.sizes(), (std::vector<int64_t>{569, 30}));
  auto gen = at::detail::createCPUGenerator(0);
  auto pick = torch::randperm(569, gen).slice(0, 0, 100);
  DeepShap shap(model, data.x.index_select(0, pick));
  Attribution a = shap.attribute(data.x, Target::parse("all"));
  EXPECT_LE(worst_gap(a), 1e-4);
  // The values explain the prediction, not noise: the explained change is
  // far from zero for most rows.
  EXPECT_GT((a.outputs - a.base_values).abs().mean().item<float>(), 1.0f);
}

TEST(BundledModels, MnistCnnDeepShapIsCompleteOnHundredDigits) {
  Model model = Model::load(source_path("models/mnist_cnn.pt"));
  auto digits = load_npy(source_path("models/data/mnist_test_images.npy"));
  auto x = digits.slice(0, 0, 100);
  auto background = digits.slice(0, 900, 910);
  DeepShap shap(model, background);
  for (const auto& t : shap.treatments()) {
    EXPECT_NE(t.treatment, "unsupported") << t.op;
  }
  Attribution a = shap.attribute(x, Target::parse("pred"));
  EXPECT_LE(worst_gap(a), 1e-3);
}

}  // namespace
}  // namespace xai
