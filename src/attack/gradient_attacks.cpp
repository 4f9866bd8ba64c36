#include "xai/attack/gradient_attacks.h"

#include <sstream>

#include "attack/problem.h"
#include "text.h"
#include "xai/error.h"

namespace xai {
namespace {

using detail::Problem;

void check_steps(int64_t steps, double step_size) {
  if (steps < 1) {
    throw InvalidArgument("invalid steps: " + std::to_string(steps) +
                          " (must be >= 1)");
  }
  if (!(step_size >= 0)) {
    throw InvalidArgument(
        "invalid step_size: " + detail::number_str(step_size) +
        " (must be >= 0; 0 picks the default)");
  }
}

torch::Tensor scalar(double v, const torch::Tensor& like) {
  return torch::full({}, v, like.options());
}

// The cross-entropy objective of attack.h, for Problem::gradient().
struct CeObjective {
  const torch::Tensor& y;
  const torch::Tensor& t;
  torch::Tensor operator()(const torch::Tensor& z) const {
    return detail::ce_objective(z, y, t);
  }
};

// Offers the final iterate, which no gradient step evaluated, to `best`.
void offer_final(Problem& p, detail::BestIterate& best,
                 const torch::Tensor& adv, const torch::Tensor& y,
                 const torch::Tensor& t) {
  torch::Tensor z = p.predict(adv);
  best.offer(adv, detail::ce_objective(z, y, t),
             detail::is_success(z.argmax(1), y, t));
}

}  // namespace

Fgsm::Fgsm(Model model, ThreatModel threat)
    : Attack(std::move(model), std::move(threat)) {}

std::string Fgsm::str() const { return "Fgsm(" + threat_str() + ")"; }

torch::Tensor Fgsm::attack_chunk(Problem& p, const torch::Tensor& x,
                                 const torch::Tensor& y,
                                 const torch::Tensor& t) const {
  torch::Tensor grad = p.gradient(x, CeObjective{y, t}, nullptr);
  return x + p.step(grad, scalar(p.eps(), x));
}

Pgd::Pgd(Model model, ThreatModel threat, PgdOptions options)
    : Attack(std::move(model), std::move(threat)), options_(options) {
  check_steps(options_.steps, options_.step_size);
  if (options_.restarts < 1) {
    throw InvalidArgument(
        "invalid restarts: " + std::to_string(options_.restarts) +
        " (must be >= 1)");
  }
}

std::string Pgd::name() const {
  return threat_.norm == Norm::kL2 ? "pgd-l2" : "pgd";
}

std::string Pgd::str() const {
  double step = options_.step_size > 0
                    ? options_.step_size
                    : 2.5 * threat_.eps / static_cast<double>(options_.steps);
  std::string head = name() == "bim" ? "Bim(" : "Pgd(";
  return head + threat_str() + ", steps=" + std::to_string(options_.steps) +
         ", step_size=" + detail::number_str(step) +
         ", restarts=" + std::to_string(options_.restarts) +
         ", random_start=" + (options_.random_start ? "true" : "false") + ")";
}

torch::Tensor Pgd::attack_chunk(Problem& p, const torch::Tensor& x,
                                const torch::Tensor& y,
                                const torch::Tensor& t) const {
  double alpha = options_.step_size > 0
                     ? options_.step_size
                     : 2.5 * p.eps() / static_cast<double>(options_.steps);
  torch::Tensor size = scalar(alpha, x);
  detail::BestIterate best(x);
  for (int64_t r = 0; r < options_.restarts; ++r) {
    torch::Tensor adv = options_.random_start ? p.random_start(x) : x;
    for (int64_t s = 0; s < options_.steps; ++s) {
      torch::Tensor loss, z;
      torch::Tensor grad = p.gradient(adv, CeObjective{y, t}, &loss, &z);
      best.offer(adv, loss, detail::is_success(z.argmax(1), y, t));
      adv = p.project(adv + p.step(grad, size), x);
    }
    offer_final(p, best, adv, y, t);
  }
  return best.x();
}

PgdOptions Bim::Defaults() {
  PgdOptions o;
  o.steps = 10;
  o.random_start = false;
  return o;
}

Bim::Bim(Model model, ThreatModel threat, PgdOptions options)
    : Pgd(std::move(model), std::move(threat), [&] {
        options.random_start = false;
        return options;
      }()) {}

MiFgsm::MiFgsm(Model model, ThreatModel threat, MiFgsmOptions options)
    : Attack(std::move(model), std::move(threat)), options_(options) {
  check_steps(options_.steps, options_.step_size);
  if (!(options_.decay >= 0)) {
    throw InvalidArgument(
        "invalid decay: " + detail::number_str(options_.decay) +
        " (must be >= 0)");
  }
}

std::string MiFgsm::str() const {
  double step = options_.step_size > 0
                    ? options_.step_size
                    : threat_.eps / static_cast<double>(options_.steps);
  return "MiFgsm(" + threat_str() +
         ", steps=" + std::to_string(options_.steps) +
         ", step_size=" + detail::number_str(step) +
         ", decay=" + detail::number_str(options_.decay) + ")";
}

torch::Tensor MiFgsm::attack_chunk(Problem& p, const torch::Tensor& x,
                                   const torch::Tensor& y,
                                   const torch::Tensor& t) const {
  double alpha = options_.step_size > 0
                     ? options_.step_size
                     : p.eps() / static_cast<double>(options_.steps);
  torch::Tensor size = scalar(alpha, x);
  detail::BestIterate best(x);
  torch::Tensor momentum = torch::zeros_like(x);
  torch::Tensor adv = x;
  for (int64_t s = 0; s < options_.steps; ++s) {
    torch::Tensor loss, z;
    torch::Tensor grad = p.gradient(adv, CeObjective{y, t}, &loss, &z);
    best.offer(adv, loss, detail::is_success(z.argmax(1), y, t));
    torch::Tensor l1 = grad.flatten(1).abs().mean(1) + 1e-12;
    momentum =
        options_.decay * momentum + grad / detail::rows_mask(l1, x.dim());
    adv = p.project(adv + p.step(momentum, size), x);
  }
  offer_final(p, best, adv, y, t);
  return best.x();
}

}  // namespace xai
