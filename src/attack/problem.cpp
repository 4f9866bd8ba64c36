#include "attack/problem.h"

#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace xai::detail {
namespace {

// `bound` (undefined: `fallback`) as [1, ...row] in the model's dtype.
torch::Tensor broadcast_bound(const torch::Tensor& bound, double fallback,
                              c10::IntArrayRef row,
                              const torch::TensorOptions& options) {
  torch::Tensor b = bound.defined() ? bound.detach().to(options)
                                    : torch::full({}, fallback, options);
  return b.expand(row).unsqueeze(0).contiguous();
}

}  // namespace

Problem::Problem(const Model& model, const ThreatModel& threat,
                 c10::IntArrayRef row)
    : model_(model),
      threat_(threat),
      generator_(at::detail::createCPUGenerator(threat.seed)) {
  auto options =
      torch::TensorOptions().dtype(model.dtype()).device(model.device());
  lo_ = broadcast_bound(threat.lo, 0.0, row, options);
  hi_ = broadcast_bound(threat.hi, 1.0, row, options);
  if (!threat.mean.empty()) {
    std::vector<int64_t> shape(row.size() + 1, 1);
    shape[1] = static_cast<int64_t>(threat.mean.size());
    mean_ = torch::tensor(threat.mean, torch::kFloat64).view(shape).to(options);
    std_ = torch::tensor(threat.std, torch::kFloat64).view(shape).to(options);
  }
}

torch::Tensor Problem::logits(const torch::Tensor& x) {
  forward_passes += 1;
  model_evaluations += x.size(0);
  return model_.forward(mean_.defined() ? (x - mean_) / std_ : x);
}

torch::Tensor Problem::predict(const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return logits(x);
}

torch::Tensor Problem::project(const torch::Tensor& adv,
                               const torch::Tensor& x) const {
  const double eps = threat_.eps;
  torch::Tensor inside;
  if (threat_.norm == Norm::kLinf) {
    inside = torch::min(torch::max(adv, x - eps), x + eps);
  } else {
    torch::Tensor d = adv - x;
    torch::Tensor n = d.flatten(1).norm(2, 1);
    torch::Tensor factor = (eps / n.clamp_min(1e-30)).clamp_max(1.0);
    inside = x + d * rows_mask(factor, d.dim());
  }
  // x lies in the box, so clipping to it only moves coordinates towards x
  // and keeps the point inside the ball.
  return torch::max(torch::min(inside, hi_), lo_);
}

torch::Tensor Problem::step(const torch::Tensor& grad,
                            const torch::Tensor& size) const {
  torch::Tensor s = size.dim() == 0 ? size : rows_mask(size, grad.dim());
  if (threat_.norm == Norm::kLinf) return s * grad.sign();
  torch::Tensor n = grad.flatten(1).norm(2, 1).clamp_min(1e-30);
  return s * grad / rows_mask(n, grad.dim());
}

torch::Tensor Problem::random_start(const torch::Tensor& x) {
  auto cpu = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor d;
  if (threat_.norm == Norm::kLinf) {
    d = (torch::rand(x.sizes(), generator_, cpu) * 2 - 1) * threat_.eps;
  } else {
    // A direction uniform on the sphere, at a radius distributed like the
    // distance from the centre of a uniform point of the ball.
    torch::Tensor g = torch::randn(x.sizes(), generator_, cpu);
    torch::Tensor n = g.flatten(1).norm(2, 1) + 1e-12;
    double dims = static_cast<double>(x[0].numel());
    torch::Tensor r =
        torch::rand({x.size(0)}, generator_, cpu).pow(1.0 / dims) * threat_.eps;
    d = g * rows_mask(r / n, g.dim());
  }
  return project(x + d.to(x.options()), x);
}

void Problem::warn(const std::string& message) {
  if (std::find(warnings_.begin(), warnings_.end(), message) !=
      warnings_.end()) {
    return;
  }
  spdlog::warn("{}", message);
  warnings_.push_back(message);
}

void Problem::note_gradient(const torch::Tensor& grad) {
  torch::Tensor zero = grad.flatten(1).abs().amax(1).eq(0);
  zero_gradient_rows_ += zero.sum().item<int64_t>();
  gradient_rows_ += grad.size(0);
  if (!warned_zero_gradients_ && gradient_rows_ >= 10 &&
      zero_gradient_rows_ * 10 > gradient_rows_) {
    warned_zero_gradients_ = true;
    warn("gradients are exactly zero for " +
         std::to_string(zero_gradient_rows_) + " of " +
         std::to_string(gradient_rows_) +
         " rows: the model may mask its gradients (non-differentiable ops, "
         "saturated outputs), so gradient attacks can overstate robustness");
  }
}

torch::Tensor cross_entropy(const torch::Tensor& z, const torch::Tensor& y) {
  return -torch::log_softmax(z, 1).gather(1, y.unsqueeze(1)).squeeze(1);
}

torch::Tensor ce_objective(const torch::Tensor& z, const torch::Tensor& y,
                           const torch::Tensor& t) {
  torch::Tensor targeted = t.ge(0);
  torch::Tensor aim = torch::where(targeted, t, y);
  torch::Tensor ce = cross_entropy(z, aim);
  return torch::where(targeted, -ce, ce);
}

torch::Tensor max_other(const torch::Tensor& z, const torch::Tensor& y) {
  double low = -std::numeric_limits<double>::infinity();
  return std::get<0>(z.scatter(1, y.unsqueeze(1), low).max(1));
}

torch::Tensor dlr_objective(const torch::Tensor& z, const torch::Tensor& y,
                            const torch::Tensor& t) {
  torch::Tensor sorted = std::get<0>(z.sort(1, /*descending=*/true));
  torch::Tensor zy = z.gather(1, y.unsqueeze(1)).squeeze(1);
  torch::Tensor targeted = t.ge(0);
  torch::Tensor untargeted_loss =
      -(zy - max_other(z, y)) /
      (sorted.select(1, 0) - sorted.select(1, 2) + 1e-12);
  if (!targeted.any().item<bool>()) return untargeted_loss;
  torch::Tensor zt =
      z.gather(1, torch::where(targeted, t, y).unsqueeze(1)).squeeze(1);
  torch::Tensor spread =
      sorted.select(1, 0) - (sorted.select(1, 2) + sorted.select(1, 3)) / 2;
  torch::Tensor targeted_loss = -(zy - zt) / (spread + 1e-12);
  return torch::where(targeted, targeted_loss, untargeted_loss);
}

torch::Tensor is_success(const torch::Tensor& pred, const torch::Tensor& y,
                         const torch::Tensor& t) {
  torch::Tensor targeted = t.ge(0);
  return torch::where(targeted, pred.eq(t).logical_and(t.ne(y)), pred.ne(y));
}

torch::Tensor linf_norm(const torch::Tensor& d) {
  return d.detach().flatten(1).to(torch::kFloat64).abs().amax(1);
}

torch::Tensor l2_norm(const torch::Tensor& d) {
  return d.detach().flatten(1).to(torch::kFloat64).norm(2, 1);
}

torch::Tensor rows_mask(const torch::Tensor& mask, int64_t rank) {
  std::vector<int64_t> shape(rank, 1);
  shape[0] = mask.size(0);
  return mask.view(shape);
}

BestIterate::BestIterate(const torch::Tensor& start)
    : x_(start.detach().clone()),
      loss_(torch::full({start.size(0)},
                        -std::numeric_limits<double>::infinity(),
                        start.options().dtype(torch::kFloat64))),
      success_(
          torch::zeros({start.size(0)}, start.options().dtype(torch::kBool))) {}

void BestIterate::offer(const torch::Tensor& x, const torch::Tensor& loss,
                        const torch::Tensor& success) {
  torch::Tensor l = loss.detach().to(torch::kFloat64);
  torch::Tensor better =
      success.logical_and(success_.logical_not())
          .logical_or(success.eq(success_).logical_and(l.gt(loss_)));
  x_ = torch::where(rows_mask(better, x.dim()), x.detach(), x_);
  loss_ = torch::where(better, l, loss_);
  success_ = success_.logical_or(success);
}

}  // namespace xai::detail
