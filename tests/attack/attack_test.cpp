#include "xai/attack/attack.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "test_util.h"
#include "xai/attack/apgd.h"
#include "xai/attack/gradient_attacks.h"
#include "xai/io/data.h"
#include "xai/io/npy.h"

namespace xai {
namespace {

using test::all_close;
using test::error_message;
using test::model_from_source;
using test::source_path;

// Two classes: logit 0 is 0, logit 1 is x w. Label 0's cross-entropy grows
// along w, so FGSM moves by eps * sign(w).
const char* kLinearSource = R"(
def forward(self, x):
    return torch.stack([torch.zeros_like(x[:, 0]), torch.matmul(x, self.w)], 1)
)";

Model linear_model(torch::ScalarType dtype = torch::kFloat64) {
  torch::Tensor w = torch::tensor({0.5, -2.0, 1.0, -0.25, 3.0}, dtype);
  return model_from_source(kLinearSource, {{"w", w}});
}

Model mnist(const std::string& file = "models/mnist_cnn.pt") {
  return Model::load(source_path(file));
}

torch::Tensor digits(int64_t n) {
  return load_npy(source_path("models/data/mnist_test_images.npy"))
      .slice(0, 0, n);
}

torch::Tensor digit_labels(int64_t n) {
  return load_npy(source_path("models/data/mnist_test_labels.npy"))
      .slice(0, 0, n);
}

double accuracy(const AttackResult& r) { return r.robust_accuracy(); }

class AttackTest : public test::Seeded {};

TEST_F(AttackTest, FgsmOnLinearModelMovesEveryCoordinateByEpsSignW) {
  Model model = linear_model();
  torch::Tensor x =
      torch::tensor({{0.2, 0.5, 0.4, 0.6, 0.3}, {0.95, 0.02, 0.5, 0.5, 0.99}},
                    torch::kFloat64);
  ThreatModel threat;
  threat.eps = 0.1;
  AttackResult r = Fgsm(model, threat).run(x, torch::zeros({2}, torch::kLong));

  torch::Tensor sign =
      torch::tensor({1.0, -1.0, 1.0, -1.0, 1.0}, torch::kFloat64);
  torch::Tensor want = (x + 0.1 * sign).clamp(0, 1);
  EXPECT_TRUE(all_close(r.adversarial, want, 1e-15));
  // The second row is clipped at both bounds.
  EXPECT_EQ(r.adversarial[1][0].item<double>(), 1.0);
  EXPECT_EQ(r.adversarial[1][1].item<double>(), 0.0);
  EXPECT_EQ(r.forward_passes, 4);  // clean, output check, attack, judging
  EXPECT_EQ(r.backward_passes, 1);
}

TEST_F(AttackTest, L2StepHasNormExactlyTheStepSize) {
  Model model = linear_model();
  torch::Tensor x = torch::full({3, 5}, 0.5, torch::kFloat64);
  ThreatModel threat;
  threat.eps = 1.0;
  threat.norm = Norm::kL2;
  PgdOptions one_step;
  one_step.steps = 1;
  one_step.step_size = 0.05;
  one_step.random_start = false;
  AttackResult r =
      Pgd(model, threat, one_step).run(x, torch::zeros({3}, torch::kLong));
  torch::Tensor norms = (r.adversarial - x).flatten(1).norm(2, 1);
  EXPECT_TRUE(all_close(norms, torch::full({3}, 0.05, torch::kFloat64), 1e-12));
  // Along w / ||w||.
  torch::Tensor w =
      torch::tensor({0.5, -2.0, 1.0, -0.25, 3.0}, torch::kFloat64);
  EXPECT_TRUE(all_close(r.adversarial[0] - x[0], 0.05 * w / w.norm(), 1e-12));

  // FGSM under L2 steps by eps.
  threat.eps = 0.2;
  AttackResult f = Fgsm(model, threat).run(x, torch::zeros({3}, torch::kLong));
  EXPECT_TRUE(all_close((f.adversarial - x).flatten(1).norm(2, 1),
                        torch::full({3}, 0.2, torch::kFloat64), 1e-12));
}

// The invariants every attack keeps, on one data set.
void check_invariants(const Model& model, const torch::Tensor& x,
                      const torch::Tensor& labels, ThreatModel threat,
                      const std::string& what) {
  for (const std::string& name : attack_names()) {
    SCOPED_TRACE(what + ", " + name);
    AttackConfig config;
    config.threat = threat;
    config.steps = 4;
    int64_t classes =
        model.forward(x.slice(0, 0, 1).to(torch::kFloat32).to(model.dtype()))
            .size(1);
    if (name == "apgd-dlr" && classes < 3) {
      EXPECT_EQ(error_message(
                    [&] { make_attack(name, model, config)->run(x, labels); }),
                "cannot run apgd-dlr: the model has 2 outputs (the DLR loss "
                "needs 3 or more; use apgd-ce)");
      continue;
    }
    torch::Tensor before = x.clone();
    auto attack = make_attack(name, model, config);
    AttackResult r = attack->run(x, labels);
    const ThreatModel& used = attack->threat();

    EXPECT_TRUE(torch::equal(x, before)) << "the input was modified";
    EXPECT_EQ(r.adversarial.sizes(), x.sizes());
    EXPECT_EQ(r.adversarial.scalar_type(), x.scalar_type());
    EXPECT_EQ(r.adversarial.device(), x.device());

    torch::Tensor d = (r.adversarial - x).to(torch::kFloat64).flatten(1);
    torch::Tensor dist =
        used.norm == Norm::kLinf ? d.abs().amax(1) : d.norm(2, 1);
    EXPECT_LE(dist.max().item<double>(), used.eps + 1e-6);
    torch::Tensor lo = used.lo.defined() ? used.lo.to(torch::kFloat64)
                                         : torch::zeros({}, torch::kFloat64);
    torch::Tensor hi = used.hi.defined() ? used.hi.to(torch::kFloat64)
                                         : torch::ones({}, torch::kFloat64);
    torch::Tensor adv = r.adversarial.to(torch::kFloat64);
    EXPECT_TRUE(adv.ge(lo - 1e-6).all().item<bool>());
    EXPECT_TRUE(adv.le(hi + 1e-6).all().item<bool>());

    // Success is judged on exactly the returned tensor.
    torch::NoGradGuard no_grad;
    torch::Tensor pred =
        model.forward(r.adversarial.to(model.dtype())).argmax(1);
    EXPECT_TRUE(torch::equal(pred, r.predictions));
    torch::Tensor fooled =
        pred.ne(r.labels).logical_and(r.clean_predictions.eq(r.labels));
    EXPECT_TRUE(torch::equal(fooled, r.success));
    EXPECT_FALSE(r.stages.empty());
    EXPECT_DOUBLE_EQ(r.stages.back().second, r.robust_accuracy());

    // eps = 0 returns the input itself.
    config.threat.eps = 0;
    AttackResult same = make_attack(name, model, config)->run(x, labels);
    EXPECT_TRUE(torch::equal(same.adversarial, x));
  }
}

TEST_F(AttackTest, EveryAttackKeepsItsInvariantsOnImagesInBothDtypes) {
  Model model = mnist();
  ThreatModel threat;
  threat.eps = 0.2;
  torch::Tensor x = digits(6);
  torch::Tensor y = digit_labels(6);
  check_invariants(model, x, y, threat, "float32 digits");
  check_invariants(model, x.to(torch::kFloat64), y, threat, "float64 digits");
}

TEST_F(AttackTest, EveryAttackKeepsItsInvariantsOnTabularRows) {
  Model model = Model::load(source_path("models/breast_cancer_mlp.pt"));
  LoadOptions load;
  load.label_column = "target";
  Dataset data = load_data(source_path("models/data/breast_cancer.csv"), load);
  ThreatModel threat;
  // Per-feature bounds from the data, eps a tenth of the largest range.
  threat.lo = std::get<0>(data.x.min(0));
  threat.hi = std::get<0>(data.x.max(0));
  threat.eps = 0.1 * (threat.hi - threat.lo).max().item<double>();
  torch::Tensor x = data.x.slice(0, 0, 6);
  torch::Tensor y = data.labels.slice(0, 0, 6);
  check_invariants(model, x, y, threat, "float32 rows");
  check_invariants(model, x.to(torch::kFloat64), y, threat, "float64 rows");
}

TEST_F(AttackTest, PgdIsStrongerThanFgsmOnTheMnistCnn) {
  Model model = mnist();
  torch::Tensor x = digits(100), y = digit_labels(100);
  ThreatModel threat;
  threat.eps = 0.1;
  AttackResult fgsm = Fgsm(model, threat).run(x, y);
  AttackResult pgd = Pgd(model, threat).run(x, y);
  EXPECT_LE(accuracy(pgd), accuracy(fgsm));
  EXPECT_LT(accuracy(fgsm), fgsm.clean_accuracy());
  EXPECT_GT(fgsm.clean_accuracy(), 0.95);
  // PGD fools everything FGSM fools here, and more.
  EXPECT_LT(accuracy(pgd), accuracy(fgsm) - 0.05);
}

TEST_F(AttackTest, TargetedPgdReachesItsTargetOnMostDigits) {
  Model model = mnist();
  torch::Tensor x = digits(40), y = digit_labels(40);
  ThreatModel threat;
  threat.eps = 0.3;
  threat.targeting = Targeting::parse("random");
  AttackResult r = Pgd(model, threat).run(x, y);
  EXPECT_TRUE(r.targets.ne(r.labels).all().item<bool>());
  EXPECT_TRUE(torch::equal(r.success, r.predictions.eq(r.targets)));
  EXPECT_GE(r.success.to(torch::kFloat64).mean().item<double>(), 0.9);

  threat.targeting = Targeting::parse("least-likely");
  AttackResult least = Pgd(model, threat).run(x, y);
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(least.targets, model.forward(x).argmin(1)));
  EXPECT_GE(least.success.to(torch::kFloat64).mean().item<double>(), 0.8);
}

TEST_F(AttackTest, CascadeIsNeverWeakerThanItsFirstStage) {
  Model model = mnist();
  torch::Tensor x = digits(40), y = digit_labels(40);
  ThreatModel threat;
  threat.eps = 0.08;
  AutoAttackOptions options;
  options.steps = 10;
  options.target_classes = 2;
  AttackResult r = AutoAttack(model, threat, options).run(x, y);
  ASSERT_EQ(r.stages.size(), 4u);
  EXPECT_EQ(r.stages[0].first, "apgd-ce");
  EXPECT_EQ(r.stages[1].first, "apgd-dlr");
  EXPECT_EQ(r.stages[3].first, "apgd-t rank 2");
  for (size_t i = 1; i < r.stages.size(); ++i) {
    EXPECT_LE(r.stages[i].second, r.stages[i - 1].second);
  }
  ApgdOptions ce;
  ce.steps = 10;
  AttackResult first = Apgd(model, threat, ce).run(x, y);
  EXPECT_DOUBLE_EQ(r.stages[0].second, accuracy(first));
  EXPECT_LE(accuracy(r), accuracy(first));
}

TEST_F(AttackTest, RobustModelKeepsHigherAccuracyUnderPgd) {
  torch::Tensor x = digits(100), y = digit_labels(100);
  ThreatModel threat;
  threat.eps = 0.1;
  AttackResult standard = Pgd(mnist(), threat).run(x, y);
  AttackResult robust =
      Pgd(mnist("models/mnist_cnn_robust.pt"), threat).run(x, y);
  EXPECT_GT(robust.clean_accuracy(), 0.95);
  EXPECT_GT(accuracy(robust), accuracy(standard) + 0.15)
      << "robust " << accuracy(robust) << ", standard " << accuracy(standard);
}

// Batch norm and dropout that obey self.training.
const char* kTrainingSource = R"(
def forward(self, x):
    h = torch.batch_norm(x, self.gamma, self.beta, self.mean, self.var,
                         self.training, 0.1, 1e-5, False)
    h = torch.dropout(torch.relu(h), 0.5, self.training)
    return torch.matmul(h, self.w)
)";

Model training_model(bool train) {
  torch::manual_seed(3);
  torch::jit::Module module("TrainingModel");
  module.register_attribute("training", c10::BoolType::get(), false);
  module.register_parameter("gamma", torch::rand({4}) + 0.5, false);
  module.register_parameter("beta", torch::randn({4}), false);
  module.register_buffer("mean", torch::rand({4}));
  module.register_buffer("var", torch::rand({4}) + 0.5);
  module.register_parameter("w", torch::randn({4, 3}), false);
  module.define(kTrainingSource);
  if (train) module.train();
  return Model(module, torch::kCPU);
}

TEST_F(AttackTest, ModelInTrainingModeGivesTheEvalModeResults) {
  torch::Tensor x = torch::rand({16, 4});
  torch::Tensor y = torch::randint(3, {16}, torch::kLong);
  ThreatModel threat;
  threat.eps = 0.2;
  AttackResult trained = Pgd(training_model(true), threat).run(x, y);
  AttackResult eval = Pgd(training_model(false), threat).run(x, y);
  EXPECT_TRUE(torch::equal(trained.adversarial, eval.adversarial));
  EXPECT_TRUE(torch::equal(trained.predictions, eval.predictions));
  EXPECT_TRUE(trained.warnings.empty());
}

TEST_F(AttackTest, DiagnosticsWarnAboutProbabilitiesMaskingAndRandomness) {
  torch::Tensor x = torch::rand({20, 5}, torch::kFloat64);
  torch::Tensor y = torch::zeros({20}, torch::kLong);
  torch::Tensor w =
      torch::tensor({0.5, -2.0, 1.0, -0.25, 3.0}, torch::kFloat64);
  ThreatModel threat;
  threat.eps = 0.1;
  auto warned = [](const AttackResult& r, const std::string& text) {
    for (const auto& m : r.warnings) {
      if (m.find(text) != std::string::npos) return true;
    }
    return false;
  };

  Model softmax = model_from_source(R"(
def forward(self, x):
    z = torch.stack([torch.zeros_like(x[:, 0]), torch.matmul(x, self.w)], 1)
    return torch.softmax(z, 1)
)",
                                    {{"w", w}});
  EXPECT_TRUE(
      warned(Fgsm(softmax, threat).run(x, y), "look like probabilities"));

  Model rounded = model_from_source(R"(
def forward(self, x):
    q = torch.round(x * 4.0) / 4.0
    return torch.stack([torch.zeros_like(q[:, 0]), torch.matmul(q, self.w)], 1)
)",
                                    {{"w", w}});
  EXPECT_TRUE(warned(Pgd(rounded, threat).run(x, y), "exactly zero"));

  Model noisy = model_from_source(R"(
def forward(self, x):
    x = torch.dropout(x, 0.5, True)
    return torch.stack([torch.zeros_like(x[:, 0]), torch.matmul(x, self.w)], 1)
)",
                                  {{"w", w}});
  EXPECT_TRUE(
      warned(Fgsm(noisy, threat).run(x, y), "differ between two passes"));

  EXPECT_TRUE(Fgsm(linear_model(), threat).run(x, y).warnings.empty());
}

TEST_F(AttackTest, BadInputsAreRefusedWithTheirValues) {
  Model model = linear_model();
  torch::Tensor x = torch::full({4, 5}, 0.5, torch::kFloat64);
  torch::Tensor y = torch::zeros({4}, torch::kLong);
  ThreatModel threat;

  threat.eps = -0.1;
  EXPECT_EQ(error_message([&] { Fgsm(model, threat); }),
            "invalid eps: -0.1 (must be >= 0 and finite)");
  threat.eps = 0.1;

  ThreatModel bounds = threat;
  bounds.lo = torch::tensor(1.0);
  bounds.hi = torch::tensor(0.0);
  EXPECT_EQ(error_message([&] { Pgd(model, bounds); }),
            "invalid bounds: lo 1 > hi 0");

  EXPECT_EQ(error_message([&] {
              Fgsm(model, threat).run(x, torch::tensor({0, 1, 2, 0}));
            }),
            "invalid label 2 in row 2 (the model has 2 outputs: labels 0..1)");
  EXPECT_EQ(error_message([&] {
              Fgsm(model, threat).run(x, torch::zeros({3}, torch::kLong));
            }),
            "cannot attack input: 3 labels for 4 rows");

  torch::Tensor outside = x.clone();
  outside[1][3] = 1.5;
  EXPECT_EQ(error_message([&] { Fgsm(model, threat).run(outside, y); }),
            "cannot attack input: row 1 lies outside the bounds: element 3 "
            "is 1.5, bounds [0, 1] (give other bounds, or rescale the input)");

  EXPECT_EQ(error_message([] { Targeting::parse("likely"); }),
            "invalid targeting: 'likely' (use none, random, least-likely, "
            "rank:K with K >= 1, or a label >= 0)");
  ThreatModel aimed = threat;
  aimed.targeting = Targeting::parse("7");
  EXPECT_EQ(error_message([&] { Fgsm(model, aimed).run(x, y); }),
            "invalid target label: 7 (the model has 2 outputs: 0..1)");
  EXPECT_EQ(error_message([&] { make_attack("deepfool", model, {aimed}); }),
            "invalid targeting: 7 (deepfool is untargeted; use pgd, apgd-ce "
            "or cw for a target)");
  EXPECT_EQ(error_message([&] { make_attack("square", model, {threat}); }),
            "invalid attack: 'square' (use one of fgsm, bim, pgd, pgd-l2, "
            "mifgsm, cw, deepfool, apgd-ce, apgd-dlr, auto)");
}

TEST_F(AttackTest, NormalizationInFrontOfTheModelKeepsEpsInInputUnits) {
  // The model sees (x - 0.5) / 0.25; FGSM still moves by eps in x.
  Model model = linear_model();
  torch::Tensor x = torch::full({2, 5}, 0.5, torch::kFloat64);
  ThreatModel threat;
  threat.eps = 0.05;
  threat.mean = {0.5, 0.5, 0.5, 0.5, 0.5};
  threat.std = {0.25, 0.25, 0.25, 0.25, 0.25};
  AttackResult r = Fgsm(model, threat).run(x, torch::zeros({2}, torch::kLong));
  EXPECT_TRUE(all_close((r.adversarial - x).abs(),
                        torch::full({2, 5}, 0.05, torch::kFloat64), 1e-15));
}

TEST_F(AttackTest, DeepFoolAndCwFindSmallPerturbationsOnTheMnistCnn) {
  Model model = mnist();
  torch::Tensor x = digits(20), y = digit_labels(20);
  ThreatModel threat;
  threat.eps = 3.0;
  threat.norm = Norm::kL2;
  AttackConfig config{threat};
  AttackResult deepfool = make_attack("deepfool", model, config)->run(x, y);
  config.steps = 50;
  AttackResult cw = make_attack("cw", model, config)->run(x, y);
  // Standard MNIST CNNs fall to L2 perturbations well under 3.
  EXPECT_LE(accuracy(deepfool), 0.1);
  EXPECT_LE(accuracy(cw), 0.2);
}

}  // namespace
}  // namespace xai
