// DeepFool (Moosavi-Dezfooli et al. 2016), under L2 or L-infinity.
//
// Linearizes the model at the current point and steps to the nearest
// linearized decision boundary among all other classes, accumulating the
// steps, until the prediction changes. The total step is scaled by
// 1 + overshoot and clipped to the bounds. DeepFool looks for the smallest
// perturbation, not one within eps: the returned example is its result
// projected onto the eps ball, so a row whose minimal perturbation is
// larger than eps keeps its true label. Untargeted only.
#pragma once

#include <cstdint>
#include <string>

#include "xai/attack/attack.h"

namespace xai {

struct DeepFoolOptions {
  // Most linearization steps. Must be >= 1. Default 50.
  int64_t steps = 50;
  // Relative overshoot of the accumulated step. Must be >= 0. Default 0.02.
  double overshoot = 0.02;
};

class DeepFool : public Attack {
 public:
  // Throws InvalidArgument for a targeted threat model.
  DeepFool(Model model, ThreatModel threat = {}, DeepFoolOptions options = {});
  std::string name() const override { return "deepfool"; }
  // "DeepFool(eps=0.3, norm=linf, targeting=none, steps=50,
  // overshoot=0.02)".
  std::string str() const override;

 protected:
  torch::Tensor attack_chunk(detail::Problem& problem, const torch::Tensor& x,
                             const torch::Tensor& labels,
                             const torch::Tensor& targets) const override;

 private:
  DeepFoolOptions options_;
};

}  // namespace xai
