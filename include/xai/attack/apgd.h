// Auto-PGD (Croce and Hein 2020) and a cascade in the spirit of AutoAttack.
//
// APGD needs no step size: it starts at 2 * eps, moves with momentum 0.75,
// and at checkpoints (after 22% of the steps, then at intervals shrinking by
// 3% of the steps, at least 6%) halves the step of every row whose loss
// rose in fewer than 75% of the steps since the last checkpoint, or whose
// best loss and step did not change; such rows restart from their best
// point. The loss is the cross-entropy, or the difference-of-logits ratio
// (DLR), which does not depend on the scale of the logits:
//   untargeted  -(z_y - max_{i != y} z_i) / (z_(1) - z_(3))
//   targeted    -(z_y - z_t) / (z_(1) - (z_(3) + z_(4)) / 2)
// with z_(k) the k-th largest logit (targeted DLR needs 4 classes or more,
// untargeted 3). A row returns its first adversarial point, else its
// point of highest loss.
#pragma once

#include <cstdint>
#include <string>

#include "xai/attack/attack.h"

namespace xai {

enum class ApgdLoss { kCrossEntropy, kDlr };

struct ApgdOptions {
  // Loss to maximize. Default cross-entropy.
  ApgdLoss loss = ApgdLoss::kCrossEntropy;
  // Steps per restart. Must be >= 1. Default 100.
  int64_t steps = 100;
  // Runs from fresh random starts on the rows not yet fooled. Must be >= 1.
  // Default 1.
  int64_t restarts = 1;
};

class Apgd : public Attack {
 public:
  Apgd(Model model, ThreatModel threat = {}, ApgdOptions options = {});
  // "apgd-ce" or "apgd-dlr".
  std::string name() const override;
  // "Apgd(eps=0.3, norm=linf, targeting=none, loss=ce, steps=100,
  // restarts=1)".
  std::string str() const override;

 protected:
  torch::Tensor attack_chunk(detail::Problem& problem, const torch::Tensor& x,
                             const torch::Tensor& labels,
                             const torch::Tensor& targets) const override;

 private:
  ApgdOptions options_;
};

struct AutoAttackOptions {
  // Steps of each APGD stage. Must be >= 1. Default 100.
  int64_t steps = 100;
  // Untargeted runs only: how many of the most likely other classes the
  // targeted APGD-DLR stage aims at, one after the other (AutoAttack uses
  // 9). 0 leaves the stage out. Must be >= 0. Default 3.
  int64_t target_classes = 3;
};

// Runs APGD-CE, then APGD-DLR, then (untargeted threat models) targeted
// APGD-DLR towards the most likely other classes, each stage only on the
// rows that every earlier stage failed on. `stages` in the result gives the
// accuracy after each stage, so the cascade is never weaker than its first
// stage.
class AutoAttack : public Attack {
 public:
  AutoAttack(Model model, ThreatModel threat = {},
             AutoAttackOptions options = {});
  std::string name() const override { return "auto"; }
  // "AutoAttack(eps=0.3, norm=linf, targeting=none, steps=100,
  // target_classes=3)".
  std::string str() const override;
  AttackResult run(const torch::Tensor& x,
                   const torch::Tensor& labels) const override;

 protected:
  torch::Tensor attack_chunk(detail::Problem& problem, const torch::Tensor& x,
                             const torch::Tensor& labels,
                             const torch::Tensor& targets) const override;

 private:
  AutoAttackOptions options_;
};

}  // namespace xai
