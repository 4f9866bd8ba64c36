#include "xai/attack/apgd.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "attack/problem.h"
#include "xai/error.h"

namespace xai {
namespace {

using detail::Problem;
using detail::rows_mask;

// The APGD loss for Problem::gradient().
struct Objective {
  ApgdLoss loss;
  const torch::Tensor& y;
  const torch::Tensor& t;
  torch::Tensor operator()(const torch::Tensor& z) const {
    return loss == ApgdLoss::kDlr ? detail::dlr_objective(z, y, t)
                                  : detail::ce_objective(z, y, t);
  }
};

// Rows of `into` at `rows` (int64 indices) replaced by `from`'s rows where
// `take` holds.
void merge_rows(torch::Tensor& into, const torch::Tensor& rows,
                const torch::Tensor& from, const torch::Tensor& take) {
  torch::Tensor picked = rows.index({take.to(rows.device())});
  torch::Tensor values = from.index({take.to(from.device())});
  into.index_copy_(0, picked.to(into.device()), values.to(into.device()));
}

}  // namespace

Apgd::Apgd(Model model, ThreatModel threat, ApgdOptions options)
    : Attack(std::move(model), std::move(threat)), options_(options) {
  if (options_.steps < 1 || options_.restarts < 1) {
    throw InvalidArgument("invalid steps: " + std::to_string(options_.steps) +
                          " with " + std::to_string(options_.restarts) +
                          " restarts (both must be >= 1)");
  }
}

std::string Apgd::name() const {
  return options_.loss == ApgdLoss::kDlr ? "apgd-dlr" : "apgd-ce";
}

std::string Apgd::str() const {
  return "Apgd(" + threat_str() +
         ", loss=" + (options_.loss == ApgdLoss::kDlr ? "dlr" : "ce") +
         ", steps=" + std::to_string(options_.steps) +
         ", restarts=" + std::to_string(options_.restarts) + ")";
}

torch::Tensor Apgd::attack_chunk(Problem& p, const torch::Tensor& x,
                                 const torch::Tensor& y,
                                 const torch::Tensor& t) const {
  const int64_t n = x.size(0);
  const int64_t steps = options_.steps;
  const Objective objective{options_.loss, y, t};
  if (options_.loss == ApgdLoss::kDlr) {
    int64_t classes = p.predict(x.slice(0, 0, 1)).size(1);
    int64_t need = t.ge(0).any().item<bool>() ? 4 : 3;
    if (classes < need) {
      throw InvalidArgument("cannot run apgd-dlr: the model has " +
                            std::to_string(classes) +
                            " outputs (the DLR loss needs " +
                            std::to_string(need) + " or more; use apgd-ce)");
    }
  }
  detail::BestIterate total(x);

  // Checkpoints: after 22% of the steps, then at intervals shrinking by 3%
  // of the steps, never below 6%.
  const int64_t first = std::max<int64_t>(steps * 22 / 100, 1);
  const int64_t shortest = std::max<int64_t>(steps * 6 / 100, 1);
  const int64_t shrink = std::max<int64_t>(steps * 3 / 100, 1);

  for (int64_t restart = 0; restart < options_.restarts; ++restart) {
    torch::Tensor adv = p.random_start(x);
    torch::Tensor loss, z;
    torch::Tensor grad = p.gradient(adv, objective, &loss, &z);
    total.offer(adv, loss, detail::is_success(z.argmax(1), y, t));

    torch::Tensor size = torch::full({n}, 2 * p.eps(), x.options());
    torch::Tensor x_best = adv, grad_best = grad, loss_best = loss;
    torch::Tensor loss_prev = loss, x_prev = adv;
    torch::Tensor rises = torch::zeros({n}, loss.options());
    torch::Tensor best_at_check = loss_best;
    torch::Tensor reduced_at_check =
        torch::ones({n}, loss.options().dtype(torch::kBool));
    int64_t interval = first, since = 0;

    for (int64_t i = 0; i < steps; ++i) {
      // A gradient step, then momentum towards it (none on the first step).
      const double a = i == 0 ? 1.0 : 0.75;
      torch::Tensor target = p.project(adv + p.step(grad, size), x);
      torch::Tensor next =
          p.project(adv + a * (target - adv) + (1 - a) * (adv - x_prev), x);
      x_prev = adv;
      adv = next;
      grad = p.gradient(adv, objective, &loss, &z);
      total.offer(adv, loss, detail::is_success(z.argmax(1), y, t));

      rises = rises + loss.gt(loss_prev).to(rises.dtype());
      loss_prev = loss;
      torch::Tensor improved = loss.gt(loss_best);
      torch::Tensor rows = rows_mask(improved, x.dim());
      x_best = torch::where(rows, adv, x_best);
      grad_best = torch::where(rows, grad, grad_best);
      loss_best = torch::where(improved, loss, loss_best);

      if (++since < interval) continue;
      // Checkpoint: halve the step where the loss rose too rarely, or where
      // neither the step nor the best loss changed since the last one.
      torch::Tensor rare = rises.le(0.75 * static_cast<double>(interval));
      torch::Tensor stuck = reduced_at_check.logical_not().logical_and(
          best_at_check.ge(loss_best));
      torch::Tensor reduce = rare.logical_or(stuck);
      reduced_at_check = reduce;
      best_at_check = loss_best;
      size = torch::where(reduce, size / 2, size);
      torch::Tensor back = rows_mask(reduce, x.dim());
      adv = torch::where(back, x_best, adv);
      grad = torch::where(back, grad_best, grad);
      rises.zero_();
      since = 0;
      interval = std::max(interval - shrink, shortest);
    }
  }
  return total.x();
}

AutoAttack::AutoAttack(Model model, ThreatModel threat,
                       AutoAttackOptions options)
    : Attack(std::move(model), std::move(threat)), options_(options) {
  if (options_.steps < 1 || options_.target_classes < 0) {
    throw InvalidArgument("invalid options: steps " +
                          std::to_string(options_.steps) + ", target_classes " +
                          std::to_string(options_.target_classes) +
                          " (steps must be >= 1, target_classes >= 0)");
  }
}

std::string AutoAttack::str() const {
  return "AutoAttack(" + threat_str() +
         ", steps=" + std::to_string(options_.steps) +
         ", target_classes=" + std::to_string(options_.target_classes) + ")";
}

torch::Tensor AutoAttack::attack_chunk(Problem&, const torch::Tensor& x,
                                       const torch::Tensor&,
                                       const torch::Tensor&) const {
  return x;  // run() drives the stages itself.
}

AttackResult AutoAttack::run(const torch::Tensor& x,
                             const torch::Tensor& labels) const {
  const auto start = std::chrono::steady_clock::now();
  const bool targeted = threat_.targeting.targeted();
  ApgdOptions ce;
  ce.steps = options_.steps;
  AttackResult r = Apgd(model_, threat_, ce).run(x, labels);
  r.stages = {{"apgd-ce", r.robust_accuracy()}};
  int64_t classes = 0;
  {
    torch::NoGradGuard no_grad;
    ThreatModel probe = threat_;
    detail::Problem p(model_, probe, x.sizes().slice(1));
    classes =
        p.predict(x.slice(0, 0, 1).to(model_.device(), model_.dtype())).size(1);
  }

  // Each later stage attacks only the rows every earlier one failed on.
  auto stage = [&](const std::string& name, const ThreatModel& threat) {
    torch::Tensor left = r.success.logical_not().logical_and(
        targeted ? torch::ones_like(r.success)
                 : r.clean_predictions.eq(r.labels));
    torch::Tensor rows = left.nonzero().flatten();
    if (rows.numel() > 0) {
      ApgdOptions dlr;
      dlr.loss = ApgdLoss::kDlr;
      dlr.steps = options_.steps;
      torch::Tensor sub_x = x.index_select(0, rows.to(x.device()));
      AttackResult s =
          Apgd(model_, threat, dlr).run(sub_x, r.labels.index_select(0, rows));
      merge_rows(r.adversarial, rows, s.adversarial, s.success);
      merge_rows(r.predictions, rows, s.predictions, s.success);
      merge_rows(r.success, rows, s.success, s.success);
      for (const auto& w : s.warnings) {
        if (std::find(r.warnings.begin(), r.warnings.end(), w) ==
            r.warnings.end()) {
          r.warnings.push_back(w);
        }
      }
      r.forward_passes += s.forward_passes;
      r.backward_passes += s.backward_passes;
      r.model_evaluations += s.model_evaluations;
    }
    r.stages.push_back({name, r.robust_accuracy()});
  };

  // DLR needs three classes (four when targeted); smaller models stop
  // after APGD-CE.
  if (classes >= (targeted ? 4 : 3)) stage("apgd-dlr", threat_);
  if (!targeted && classes >= 4) {
    int64_t ranks = std::min(options_.target_classes, classes - 1);
    for (int64_t k = 1; k <= ranks; ++k) {
      ThreatModel aimed = threat_;
      aimed.targeting.kind = Targeting::Kind::kRanked;
      aimed.targeting.label = k;
      // A targeted stage succeeds when it reaches its target; for the
      // cascade any wrong prediction counts, which reaching it implies.
      stage("apgd-t rank " + std::to_string(k), aimed);
    }
  }
  r.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  spdlog::info("auto: robust accuracy {:.4f} after {} stages, {:.3f} s",
               r.robust_accuracy(), r.stages.size(), r.seconds);
  return r;
}

}  // namespace xai
