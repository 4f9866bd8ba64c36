// The Carlini-Wagner L2 attack (Carlini and Wagner 2017).
//
// Minimizes ||x' - x||^2 + c * max(margin, -kappa) over x' = lo + (hi - lo)
// * (tanh(w) + 1) / 2, so x' stays within the bounds; the margin is the
// true label's logit minus the largest other one (untargeted), or the
// largest other logit minus the target's (targeted). A binary search per row
// adjusts c: down after a success, up (times 10 until a success bounds it)
// after a failure. A row keeps its smallest adversarial x' with
// ||x' - x||_2 <= eps; a row without one returns its last iterate projected
// onto the eps ball, which is judged like every other result. The threat
// norm is always L2.
#pragma once

#include <cstdint>
#include <string>

#include "xai/attack/attack.h"

namespace xai {

struct CarliniWagnerOptions {
  // Adam steps per binary-search step. Must be >= 1. Default 100.
  int64_t steps = 100;
  // Binary-search steps over c. Must be >= 1. Default 5.
  int64_t search_steps = 5;
  // Initial c. Must be > 0. Default 1.
  double initial_const = 1.0;
  // Confidence kappa: the margin that counts as done. Must be >= 0.
  // Default 0.
  double confidence = 0.0;
  // Adam learning rate, in tanh space. Adam moves w by about this much per
  // step whatever the gradient's scale, and pixels at a bound sit where
  // tanh is flat (w near +-7), so small rates (0.01, as in the paper) need
  // thousands of steps. Must be > 0. Default 0.1.
  double learning_rate = 0.1;
};

class CarliniWagner : public Attack {
 public:
  CarliniWagner(Model model, ThreatModel threat = {},
                CarliniWagnerOptions options = {});
  std::string name() const override { return "cw"; }
  // "CarliniWagner(eps=2, norm=l2, targeting=none, steps=100,
  // search_steps=5, initial_const=1, confidence=0, learning_rate=0.1)".
  std::string str() const override;

 protected:
  torch::Tensor attack_chunk(detail::Problem& problem, const torch::Tensor& x,
                             const torch::Tensor& labels,
                             const torch::Tensor& targets) const override;

 private:
  CarliniWagnerOptions options_;
};

}  // namespace xai
