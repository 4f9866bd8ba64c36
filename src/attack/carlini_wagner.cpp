#include "xai/attack/carlini_wagner.h"

#include <cmath>
#include <limits>
#include <sstream>

#include "attack/problem.h"
#include "text.h"
#include "xai/error.h"

namespace xai {
namespace {

// The attack as a non-targeted threat model sees it: always L2.
ThreatModel l2(ThreatModel threat) {
  threat.norm = Norm::kL2;
  return threat;
}

}  // namespace

CarliniWagner::CarliniWagner(Model model, ThreatModel threat,
                             CarliniWagnerOptions options)
    : Attack(std::move(model), l2(std::move(threat))), options_(options) {
  const auto& o = options_;
  if (o.steps < 1 || o.search_steps < 1) {
    throw InvalidArgument("invalid steps: " + std::to_string(o.steps) +
                          " and " + std::to_string(o.search_steps) +
                          " search steps (both must be >= 1)");
  }
  if (!(o.initial_const > 0) || !(o.learning_rate > 0) ||
      !(o.confidence >= 0)) {
    throw InvalidArgument("invalid options: initial_const " +
                          detail::number_str(o.initial_const) +
                          ", learning_rate " +
                          detail::number_str(o.learning_rate) +
                          ", confidence " + detail::number_str(o.confidence) +
                          " (the first two must be > 0, the confidence >= 0)");
  }
}

std::string CarliniWagner::str() const {
  return "CarliniWagner(" + threat_str() +
         ", steps=" + std::to_string(options_.steps) +
         ", search_steps=" + std::to_string(options_.search_steps) +
         ", initial_const=" + detail::number_str(options_.initial_const) +
         ", confidence=" + detail::number_str(options_.confidence) +
         ", learning_rate=" + detail::number_str(options_.learning_rate) + ")";
}

torch::Tensor CarliniWagner::attack_chunk(detail::Problem& p,
                                          const torch::Tensor& x,
                                          const torch::Tensor& y,
                                          const torch::Tensor& t) const {
  const int64_t n = x.size(0);
  auto f64 = x.options().dtype(torch::kFloat64);
  torch::Tensor lo = p.lo(), span = p.hi() - p.lo();

  // x' = lo + span * (tanh(w) + 1) / 2 covers the box; w0 maps onto x.
  torch::Tensor unit = ((x - lo) / span.clamp_min(1e-12)) * 2 - 1;
  torch::Tensor w0 = torch::atanh(unit.clamp(-1 + 1e-6, 1 - 1e-6));

  torch::Tensor c = torch::full({n}, options_.initial_const, f64);
  torch::Tensor lower = torch::zeros({n}, f64);
  torch::Tensor upper = torch::full({n}, 1e10, f64);
  torch::Tensor best = x.clone();
  torch::Tensor best_l2 =
      torch::full({n}, std::numeric_limits<double>::infinity(), f64);
  torch::Tensor found = torch::zeros({n}, f64.dtype(torch::kBool));
  torch::Tensor last = x;
  torch::Tensor targeted = t.ge(0);
  torch::Tensor aim = torch::where(targeted, t, y);
  const double limit = p.eps() * (1 + 1e-9);

  for (int64_t search = 0; search < options_.search_steps; ++search) {
    torch::Tensor w = w0.clone().requires_grad_(true);
    torch::optim::Adam adam({w},
                            torch::optim::AdamOptions(options_.learning_rate));
    torch::Tensor done = torch::zeros_like(found);
    torch::Tensor weight = c.to(x.dtype());
    for (int64_t step = 0; step < options_.steps; ++step) {
      torch::Tensor adv = lo + span * (torch::tanh(w) + 1) / 2;
      torch::Tensor z = p.logits(adv);
      torch::Tensor za = z.gather(1, aim.unsqueeze(1)).squeeze(1);
      torch::Tensor other = detail::max_other(z, aim);
      torch::Tensor margin = torch::where(targeted, other - za, za - other);
      torch::Tensor d2 = (adv - x).flatten(1).pow(2).sum(1);
      torch::Tensor loss =
          (d2 + weight * margin.clamp_min(-options_.confidence)).sum();
      adam.zero_grad();
      loss.backward();
      adam.step();
      p.backward_passes += 1;

      torch::NoGradGuard no_grad;
      torch::Tensor success = detail::is_success(z.argmax(1), y, t);
      torch::Tensor dist = d2.detach().to(torch::kFloat64).sqrt();
      torch::Tensor better =
          success.logical_and(dist.lt(best_l2)).logical_and(dist.le(limit));
      best =
          torch::where(detail::rows_mask(better, x.dim()), adv.detach(), best);
      best_l2 = torch::where(better, dist, best_l2);
      found = found.logical_or(better);
      done = done.logical_or(success);
      last = adv.detach();
    }
    // Binary search: a success bounds c from above, a failure from below.
    upper = torch::where(done, torch::min(upper, c), upper);
    lower = torch::where(done, lower, torch::max(lower, c));
    c = torch::where(upper.lt(1e9), (lower + upper) / 2, c * 10);
  }
  return torch::where(detail::rows_mask(found, x.dim()), best,
                      p.project(last, x));
}

}  // namespace xai
