#include "xai/attack/report.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "test_util.h"
#include "xai/attack/gradient_attacks.h"
#include "xai/io/file.h"
#include "xai/io/npy.h"

namespace xai {
namespace {

using test::source_path;
namespace fs = std::filesystem;

class ReportTest : public test::Seeded {
 protected:
  void SetUp() override {
    test::Seeded::SetUp();
    dir_ = test::temp_dir("xai_report_test");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string dir_;
};

TEST_F(ReportTest, AccuracyInReportEqualsAccuracyOfTheWrittenExamples) {
  Model model = Model::load(source_path("models/mnist_cnn.pt"));
  torch::Tensor x = load_npy(source_path("models/data/mnist_test_images.npy"))
                        .slice(0, 0, 30);
  torch::Tensor y = load_npy(source_path("models/data/mnist_test_labels.npy"))
                        .slice(0, 0, 30);
  AttackReportMeta meta;
  meta.attack = "pgd";
  std::vector<AttackRun> runs;
  for (double eps : {0.05, 0.1}) {
    ThreatModel threat;
    threat.eps = eps;
    PgdOptions options;
    options.steps = 10;
    runs.push_back({eps, Pgd(model, threat, options).run(x, y), {}, ""});
  }
  write_attack_report(dir_, meta, x, runs);

  auto report = nlohmann::json::parse(read_file(dir_ + "/report.json"));
  ASSERT_EQ(report["runs"].size(), 2u);
  for (const auto& run : report["runs"]) {
    torch::Tensor adv =
        load_npy(dir_ + "/" + run["adversarial_file"].get<std::string>());
    EXPECT_EQ(adv.sizes(), x.sizes());
    EXPECT_EQ(adv.scalar_type(), x.scalar_type());
    torch::NoGradGuard no_grad;
    torch::Tensor pred = model.forward(adv).argmax(1);
    double accuracy = pred.eq(y).to(torch::kFloat64).mean().item<double>();
    EXPECT_DOUBLE_EQ(run["robust_accuracy"].get<double>(), accuracy);
    // Each record's prediction is the prediction on the written example.
    for (int64_t i = 0; i < 30; ++i) {
      EXPECT_EQ(run["samples"][i]["adversarial_prediction"].get<int64_t>(),
                pred[i].item<int64_t>());
      double linf = (adv[i] - x[i]).abs().max().item<double>();
      EXPECT_NEAR(run["samples"][i]["linf"].get<double>(), linf, 1e-7);
    }
    EXPECT_LE(
        run["perturbations_of_successful_rows"]["linf"]["max"].get<double>(),
        run["eps"].get<double>() + 1e-6);
  }
  EXPECT_DOUBLE_EQ(report["worst_case_accuracy"].get<double>(),
                   runs[1].result.robust_accuracy());
  EXPECT_TRUE(fs::exists(dir_ + "/accuracy_vs_eps.png"));
  EXPECT_TRUE(fs::exists(dir_ + "/sample_0_eps0.1.png"));
}

TEST_F(ReportTest, NormsAndSuccessRateOfAKnownResult) {
  AttackResult r;
  torch::Tensor x = torch::zeros({4, 3}, torch::kFloat64);
  r.adversarial = torch::tensor(
      {{0.0, 0.0, 0.0}, {0.3, -0.4, 0.0}, {0.1, 0.0, 0.0}, {0.0, 0.0, 0.2}},
      torch::kFloat64);
  r.labels = torch::tensor({0, 1, 1, 0});
  r.targets = torch::full({4}, -1, torch::kLong);
  r.clean_predictions = torch::tensor({0, 1, 1, 1});
  r.predictions = torch::tensor({0, 0, 0, 1});
  r.success = torch::tensor({false, true, true, false});
  RobustnessNumbers n = robustness_numbers(x, r);
  EXPECT_DOUBLE_EQ(n.clean_accuracy, 0.75);
  EXPECT_DOUBLE_EQ(n.robust_accuracy, 0.25);
  EXPECT_DOUBLE_EQ(n.success_rate, 2.0 / 3.0);
  EXPECT_EQ(n.successful.rows, 2);
  EXPECT_DOUBLE_EQ(n.successful.l0.max, 2.0);
  EXPECT_DOUBLE_EQ(n.successful.l0.median, 1.5);
  EXPECT_NEAR(n.successful.l2.mean, (0.5 + 0.1) / 2, 1e-15);
  EXPECT_NEAR(n.successful.linf.max, 0.4, 1e-15);

  AttackResult weak = r;
  weak.success = torch::tensor({false, true, true, true});
  EXPECT_EQ(weaker_attack_note(r, weak, "pgd", "fgsm"),
            "fgsm succeeded on 1 rows where pgd failed (first: row 3): the "
            "stronger attack is not converging; try more steps, restarts or "
            "another loss");
  EXPECT_EQ(weaker_attack_note(weak, r, "pgd", "fgsm"), "");
}

}  // namespace
}  // namespace xai
