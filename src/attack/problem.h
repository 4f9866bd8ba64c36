// The pieces every attack is built from: the model behind its
// normalization, losses of logits, steps and projections onto the threat
// model, random starts and the best-iterate bookkeeping. Internal to
// libxai.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "xai/attack/attack.h"

namespace xai::detail {

// One run() of an attack: its threat model resolved for a batch of rows,
// and the pass counters. Tensors are in the model's dtype on its device.
class Problem {
 public:
  // `row` is the shape of one input row.
  Problem(const Model& model, const ThreatModel& threat, c10::IntArrayRef row);

  const ThreatModel& threat() const { return threat_; }
  double eps() const { return threat_.eps; }
  Norm norm() const { return threat_.norm; }
  // Bounds broadcast to [1, ...row].
  const torch::Tensor& lo() const { return lo_; }
  const torch::Tensor& hi() const { return hi_; }
  at::Generator& generator() { return generator_; }

  // Logits [n, C] of `x` [n, ...] behind the normalization, counted as one
  // forward pass; differentiable when grad mode is on.
  torch::Tensor logits(const torch::Tensor& x);
  // Logits without gradients.
  torch::Tensor predict(const torch::Tensor& x);

  // The per-row loss of `loss_fn(logits)` at `x` and its gradient with
  // respect to x: one forward and one backward pass. `logits_out`, when
  // given, receives the logits (detached).
  template <typename LossFn>
  torch::Tensor gradient(const torch::Tensor& x, LossFn&& loss_fn,
                         torch::Tensor* loss_out,
                         torch::Tensor* logits_out = nullptr) {
    torch::Tensor xg = x.detach().requires_grad_(true);
    torch::Tensor z = logits(xg);
    torch::Tensor loss = loss_fn(z);
    torch::Tensor grad = torch::autograd::grad({loss.sum()}, {xg})[0];
    backward_passes += 1;
    note_gradient(grad);
    if (loss_out) *loss_out = loss.detach();
    if (logits_out) *logits_out = z.detach();
    return grad;
  }

  // x' projected onto the eps ball around `x` and then the bounds.
  torch::Tensor project(const torch::Tensor& adv, const torch::Tensor& x) const;
  // A step of `size` (a scalar, or [n] per row) along `grad`: its sign
  // under L-infinity, grad / ||grad||_2 under L2.
  torch::Tensor step(const torch::Tensor& grad,
                     const torch::Tensor& size) const;
  // A uniform random point of the eps ball around `x`, within the bounds.
  torch::Tensor random_start(const torch::Tensor& x);

  // Warnings gathered while attacking (probability outputs, zero gradients,
  // random model); each is logged once.
  void warn(const std::string& message);
  const std::vector<std::string>& warnings() const { return warnings_; }

  int64_t forward_passes = 0;
  int64_t backward_passes = 0;
  int64_t model_evaluations = 0;

 private:
  void note_gradient(const torch::Tensor& grad);

  const Model& model_;
  ThreatModel threat_;
  torch::Tensor lo_, hi_;
  torch::Tensor mean_, std_;  // [1, C, 1, ...], undefined without them
  at::Generator generator_;
  std::vector<std::string> warnings_;
  int64_t zero_gradient_rows_ = 0;
  int64_t gradient_rows_ = 0;
  bool warned_zero_gradients_ = false;
};

// Per-row losses of logits z [n, C] and labels [n] (int64). Larger means
// closer to success.
// Cross-entropy of `labels`.
torch::Tensor cross_entropy(const torch::Tensor& z, const torch::Tensor& y);
// The attack's objective with the cross-entropy: CE(y) when untargeted
// (targets < 0), -CE(t) when targeted.
torch::Tensor ce_objective(const torch::Tensor& z, const torch::Tensor& y,
                           const torch::Tensor& t);
// max over i != y of z_i, per row.
torch::Tensor max_other(const torch::Tensor& z, const torch::Tensor& y);
// The DLR objectives (see apgd.h).
torch::Tensor dlr_objective(const torch::Tensor& z, const torch::Tensor& y,
                            const torch::Tensor& t);

// bool [n]: whether predictions `pred` count as success for labels `y` and
// targets `t` (-1: untargeted).
torch::Tensor is_success(const torch::Tensor& pred, const torch::Tensor& y,
                         const torch::Tensor& t);

// Per-row norms of `d` [n, ...] in float64: L-infinity, L2, L1, and the
// count of nonzero elements.
torch::Tensor linf_norm(const torch::Tensor& d);
torch::Tensor l2_norm(const torch::Tensor& d);

// A [n] mask as [n, 1, ...] for a tensor of rank `rank`.
torch::Tensor rows_mask(const torch::Tensor& mask, int64_t rank);

// The best iterate of each row: adversarial iterates beat the others, then
// higher losses win.
class BestIterate {
 public:
  explicit BestIterate(const torch::Tensor& start);
  // Offers `x` [n, ...] with losses [n] and success flags [n].
  void offer(const torch::Tensor& x, const torch::Tensor& loss,
             const torch::Tensor& success);
  const torch::Tensor& x() const { return x_; }
  const torch::Tensor& success() const { return success_; }

 private:
  torch::Tensor x_, loss_, success_;
};

}  // namespace xai::detail
