// Sign-gradient attacks: FGSM, BIM, PGD and MI-FGSM.
//
// Each maximizes a loss of the model's logits: the cross-entropy of the true
// label when untargeted, minus the cross-entropy of the target label when
// targeted. A step moves along the sign of the gradient under the
// L-infinity norm and along the gradient scaled to unit L2 norm under L2;
// each iterate is projected onto the eps ball and the bounds (see
// attack.h). The iterative attacks keep the best iterate of each row: the
// adversarial one with the highest loss, else the one with the highest
// loss.
#pragma once

#include <cstdint>
#include <string>

#include "xai/attack/attack.h"

namespace xai {

// Fast gradient sign method (Goodfellow et al. 2015): one step of size eps.
class Fgsm : public Attack {
 public:
  explicit Fgsm(Model model, ThreatModel threat = {});
  std::string name() const override { return "fgsm"; }
  // "Fgsm(eps=0.3, norm=linf, targeting=none)".
  std::string str() const override;

 protected:
  torch::Tensor attack_chunk(detail::Problem& problem, const torch::Tensor& x,
                             const torch::Tensor& labels,
                             const torch::Tensor& targets) const override;
};

struct PgdOptions {
  // Gradient steps. Must be >= 1. Default 40.
  int64_t steps = 40;
  // Step size in input units; 0 means 2.5 * eps / steps (Madry et al.).
  // Must be >= 0. Default 0.
  double step_size = 0.0;
  // Independent runs from fresh random starts; a row keeps the best of
  // them. Must be >= 1. Default 1.
  int64_t restarts = 1;
  // Start from a uniform point of the eps ball (true), or from the input.
  // Default true.
  bool random_start = true;
};

// Projected gradient descent (Madry et al. 2018), under L-infinity or L2.
class Pgd : public Attack {
 public:
  Pgd(Model model, ThreatModel threat = {}, PgdOptions options = {});
  std::string name() const override;
  // "Pgd(eps=0.3, norm=linf, targeting=none, steps=40, step_size=0.01875,
  // restarts=1, random_start=true)".
  std::string str() const override;
  const PgdOptions& options() const { return options_; }

 protected:
  torch::Tensor attack_chunk(detail::Problem& problem, const torch::Tensor& x,
                             const torch::Tensor& labels,
                             const torch::Tensor& targets) const override;

 private:
  PgdOptions options_;
};

// The basic iterative method (Kurakin et al. 2017): PGD from the input
// itself, 10 steps by default.
class Bim : public Pgd {
 public:
  // options.random_start is ignored (always false); options.steps 0 means
  // 10.
  Bim(Model model, ThreatModel threat = {}, PgdOptions options = Defaults());
  std::string name() const override { return "bim"; }
  static PgdOptions Defaults();
};

struct MiFgsmOptions {
  // Steps. Must be >= 1. Default 10.
  int64_t steps = 10;
  // Step size; 0 means eps / steps. Must be >= 0. Default 0.
  double step_size = 0.0;
  // Decay of the accumulated gradient. Must be >= 0. Default 1.0.
  double decay = 1.0;
};

// Momentum iterative FGSM (Dong et al. 2018): the step follows the sign of
// an accumulated gradient g = decay * g + grad / mean(|grad|).
class MiFgsm : public Attack {
 public:
  MiFgsm(Model model, ThreatModel threat = {}, MiFgsmOptions options = {});
  std::string name() const override { return "mifgsm"; }
  // "MiFgsm(eps=0.3, norm=linf, targeting=none, steps=10, step_size=0.03,
  // decay=1)".
  std::string str() const override;

 protected:
  torch::Tensor attack_chunk(detail::Problem& problem, const torch::Tensor& x,
                             const torch::Tensor& labels,
                             const torch::Tensor& targets) const override;

 private:
  MiFgsmOptions options_;
};

}  // namespace xai
