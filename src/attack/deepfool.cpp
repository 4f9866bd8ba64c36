#include "xai/attack/deepfool.h"

#include <limits>
#include <sstream>

#include "attack/problem.h"
#include "xai/error.h"

namespace xai {

DeepFool::DeepFool(Model model, ThreatModel threat, DeepFoolOptions options)
    : Attack(std::move(model), std::move(threat)), options_(options) {
  if (threat_.targeting.targeted()) {
    throw InvalidArgument(
        "invalid targeting: " + threat_.targeting.str() +
        " (deepfool is untargeted; use pgd, apgd-ce or cw for a target)");
  }
  if (options_.steps < 1) {
    throw InvalidArgument("invalid steps: " + std::to_string(options_.steps) +
                          " (must be >= 1)");
  }
  if (!(options_.overshoot >= 0)) {
    throw InvalidArgument("invalid overshoot: must be >= 0");
  }
}

std::string DeepFool::str() const {
  std::ostringstream overshoot;
  overshoot << options_.overshoot;
  return "DeepFool(" + threat_str() +
         ", steps=" + std::to_string(options_.steps) +
         ", overshoot=" + overshoot.str() + ")";
}

torch::Tensor DeepFool::attack_chunk(detail::Problem& p, const torch::Tensor& x,
                                     const torch::Tensor& y,
                                     const torch::Tensor& t) const {
  const int64_t n = x.size(0);
  const int64_t rank = x.dim();
  const bool l2 = p.norm() == Norm::kL2;
  torch::Tensor total = torch::zeros_like(x);
  torch::Tensor adv = x;
  torch::Tensor active = torch::ones({n}, y.options().dtype(torch::kBool));

  for (int64_t step = 0; step < options_.steps; ++step) {
    torch::Tensor xg = adv.detach().requires_grad_(true);
    torch::Tensor z = p.logits(xg);
    active = active.logical_and(z.argmax(1).eq(y));
    if (!active.any().item<bool>()) break;

    // The gradient of every logit: one backward pass per class.
    const int64_t classes = z.size(1);
    std::vector<torch::Tensor> grads;
    for (int64_t k = 0; k < classes; ++k) {
      grads.push_back(
          torch::autograd::grad({z.select(1, k).sum()}, {xg}, {},
                                /*retain_graph=*/k + 1 < classes)[0]);
      p.backward_passes += 1;
    }
    torch::Tensor g = torch::stack(grads, 1).flatten(2);  // [n, C, d]
    torch::Tensor zd = z.detach();

    // Distance to each linearized boundary z_k - z_y = 0.
    torch::Tensor gy = g.gather(1, y.view({n, 1, 1}).expand({n, 1, g.size(2)}));
    torch::Tensor w = g - gy;                               // [n, C, d]
    torch::Tensor f = zd - zd.gather(1, y.unsqueeze(1));    // [n, C]
    torch::Tensor wn = l2 ? w.norm(2, 2) : w.abs().sum(2);  // [n, C]
    torch::Tensor dist = f.abs() / (wn + 1e-12);
    dist.scatter_(1, y.unsqueeze(1), std::numeric_limits<double>::infinity());
    torch::Tensor k = dist.argmin(1, /*keepdim=*/true);  // [n, 1]

    torch::Tensor fk = f.gather(1, k).squeeze(1).abs() + 1e-4;
    torch::Tensor wk =
        w.gather(1, k.unsqueeze(2).expand({n, 1, w.size(2)})).squeeze(1);
    torch::Tensor nk = wn.gather(1, k).squeeze(1) + 1e-12;
    torch::Tensor r = l2 ? wk * (fk / (nk * nk)).unsqueeze(1)
                         : wk.sign() * (fk / nk).unsqueeze(1);
    torch::Tensor keep = detail::rows_mask(active, rank).to(x.dtype());
    total = total + r.view_as(x) * keep;
    adv = torch::max(torch::min(x + (1 + options_.overshoot) * total, p.hi()),
                     p.lo());
  }
  return adv.detach();
}

}  // namespace xai
