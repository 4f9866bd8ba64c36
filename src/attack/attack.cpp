#include "xai/attack/attack.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <sstream>

#include "attack/problem.h"
#include "text.h"
#include "xai/attack/apgd.h"
#include "xai/attack/carlini_wagner.h"
#include "xai/attack/deepfool.h"
#include "xai/attack/gradient_attacks.h"
#include "xai/error.h"

namespace xai {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void refuse_input(const std::string& why) {
  throw InvalidArgument("cannot attack input: " + why);
}

void check_bound(const torch::Tensor& bound, const char* name) {
  if (!bound.defined()) return;
  if (!torch::isfinite(bound.to(torch::kFloat64)).all().item<bool>()) {
    throw InvalidArgument(std::string("invalid bounds: ") + name +
                          " must be finite");
  }
}

// Labels as int64 [rows] on `device`, checked against the row count.
torch::Tensor prepare_labels(const torch::Tensor& labels, int64_t rows,
                             torch::Device device) {
  if (!labels.defined() || labels.dim() != 1) {
    refuse_input("labels must be one integer per row, got " +
                 (labels.defined() ? "shape " + c10::str(labels.sizes())
                                   : std::string("none")));
  }
  if (labels.size(0) != rows) {
    refuse_input(std::to_string(labels.size(0)) + " labels for " +
                 std::to_string(rows) + " rows");
  }
  torch::Tensor l = labels;
  if (l.is_floating_point()) {
    if (!torch::equal(l, l.round())) refuse_input("labels must be integers");
  } else if (l.scalar_type() == torch::kBool || l.is_complex()) {
    refuse_input("labels must be integers");
  }
  return l.to(device, torch::kInt64);
}

// Refuses rows of `x` outside [lo, hi] (1e-6 of slack for rounding).
void check_inside(const torch::Tensor& x, const torch::Tensor& lo,
                  const torch::Tensor& hi) {
  torch::Tensor x64 = x.to(torch::kFloat64);
  torch::Tensor l = lo.to(torch::kFloat64), h = hi.to(torch::kFloat64);
  torch::Tensor out = x64.lt(l - 1e-6).logical_or(x64.gt(h + 1e-6));
  torch::Tensor rows = out.flatten(1).any(1).nonzero();
  if (rows.size(0) == 0) return;
  int64_t row = rows[0][0].item<int64_t>();
  int64_t at = out[row].flatten().nonzero()[0][0].item<int64_t>();
  double value = x64[row].flatten()[at].item<double>();
  double low = l.expand_as(x64)[row].flatten()[at].item<double>();
  double high = h.expand_as(x64)[row].flatten()[at].item<double>();
  refuse_input("row " + std::to_string(row) +
               " lies outside the bounds: " + "element " + std::to_string(at) +
               " is " + detail::number_str(value) + ", bounds [" +
               detail::number_str(low) + ", " + detail::number_str(high) +
               "] (give other bounds, or rescale the input)");
}

// Warns when the outputs look like probabilities or change between passes.
void check_outputs(detail::Problem& p, const torch::Tensor& x,
                   const torch::Tensor& z) {
  torch::Tensor z64 = z.to(torch::kFloat64);
  torch::Tensor bad = torch::isfinite(z64).logical_not().any(1);
  if (bad.any().item<bool>()) {
    throw InvalidArgument(
        "cannot attack input: the model's outputs contain NaN or infinity "
        "(first in row " +
        std::to_string(bad.nonzero()[0][0].item<int64_t>()) +
        "); check the input and the normalization");
  }
  bool probabilities = z.size(1) > 1 && z64.ge(0).all().item<bool>() &&
                       z64.le(1).all().item<bool>() &&
                       (z64.sum(1) - 1).abs().max().item<double>() < 1e-3;
  if (probabilities) {
    p.warn(
        "the model's outputs look like probabilities (each row sums to "
        "1): losses of probabilities are flat where the model is "
        "confident, so attacks are weak; export the model without its "
        "final softmax");
  }
  int64_t n = std::min<int64_t>(x.size(0), 16);
  torch::Tensor again = p.predict(x.slice(0, 0, n)).to(torch::kFloat64);
  double diff = (again - z64.slice(0, 0, n)).abs().max().item<double>();
  double scale = std::max(1.0, z64.abs().max().item<double>());
  if (diff > 1e-5 * scale) {
    p.warn(
        "the model's outputs differ between two passes on the same input "
        "(by up to " +
        detail::number_str(diff) +
        "): it is random, so an attack and "
        "its evaluation may disagree");
  }
}

// The targets of each row: -1 when untargeted.
torch::Tensor choose_targets(const Targeting& t, const torch::Tensor& y,
                             const torch::Tensor& clean, int64_t classes,
                             at::Generator& generator) {
  switch (t.kind) {
    case Targeting::Kind::kUntargeted:
      return torch::full_like(y, -1);
    case Targeting::Kind::kLabel:
      if (t.label >= classes) {
        throw InvalidArgument(
            "invalid target label: " + std::to_string(t.label) +
            " (the model has " + std::to_string(classes) + " outputs: 0.." +
            std::to_string(classes - 1) + ")");
      }
      return torch::full_like(y, t.label);
    case Targeting::Kind::kRandom: {
      if (classes < 2) {
        throw InvalidArgument("invalid targeting: random needs 2 classes");
      }
      torch::Tensor r =
          torch::randint(classes - 1, {y.size(0)}, generator, torch::kInt64)
              .to(y.device());
      return r + r.ge(y).to(torch::kInt64);
    }
    case Targeting::Kind::kLeastLikely:
      return clean.argmin(1);
    case Targeting::Kind::kRanked: {
      if (t.label < 1 || t.label >= classes) {
        throw InvalidArgument("invalid targeting: rank " +
                              std::to_string(t.label) + " (must be 1.." +
                              std::to_string(classes - 1) + ")");
      }
      double low = -std::numeric_limits<double>::infinity();
      torch::Tensor others = clean.scatter(1, y.unsqueeze(1), low);
      return std::get<1>(others.topk(t.label, 1)).select(1, t.label - 1);
    }
  }
  return torch::full_like(y, -1);
}

// Projects `out` (the input's dtype and device) onto the threat model
// around `x` in that dtype, so the guarantee holds for what is returned.
torch::Tensor final_projection(const detail::Problem& p,
                               const torch::Tensor& out,
                               const torch::Tensor& x) {
  torch::Tensor lo = p.lo().to(x.options()), hi = p.hi().to(x.options());
  const double eps = p.eps();
  torch::Tensor inside;
  if (p.norm() == Norm::kLinf) {
    inside = torch::min(torch::max(out, x - eps), x + eps);
  } else {
    torch::Tensor d = (out - x).to(torch::kFloat64);
    torch::Tensor n = d.flatten(1).norm(2, 1);
    torch::Tensor factor = (eps / (n + 1e-300)).clamp_max(1.0);
    inside = x + (d * detail::rows_mask(factor, d.dim())).to(x.dtype());
  }
  return torch::max(torch::min(inside, hi), lo);
}

}  // namespace

Norm parse_norm(const std::string& name) {
  if (name == "linf") return Norm::kLinf;
  if (name == "l2") return Norm::kL2;
  throw InvalidArgument("invalid norm: '" + name + "' (use linf or l2)");
}

std::string to_string(Norm norm) { return norm == Norm::kLinf ? "linf" : "l2"; }

Targeting Targeting::parse(const std::string& spec) {
  Targeting t;
  if (spec.empty() || spec == "none") return t;
  if (spec == "random") {
    t.kind = Kind::kRandom;
    return t;
  }
  if (spec == "least-likely") {
    t.kind = Kind::kLeastLikely;
    return t;
  }
  bool ranked = spec.rfind("rank:", 0) == 0;
  std::string digits = ranked ? spec.substr(5) : spec;
  size_t used = 0;
  try {
    long long label = std::stoll(digits, &used);
    if (used == digits.size() && label >= (ranked ? 1 : 0)) {
      t.kind = ranked ? Kind::kRanked : Kind::kLabel;
      t.label = label;
      return t;
    }
  } catch (const std::exception&) {
  }
  throw InvalidArgument("invalid targeting: '" + spec +
                        "' (use none, random, least-likely, rank:K with K >= "
                        "1, or a label >= 0)");
}

std::string Targeting::str() const {
  switch (kind) {
    case Kind::kUntargeted:
      return "none";
    case Kind::kRandom:
      return "random";
    case Kind::kLeastLikely:
      return "least-likely";
    case Kind::kLabel:
      return std::to_string(label);
    case Kind::kRanked:
      return "rank:" + std::to_string(label);
  }
  return "none";
}

double AttackResult::clean_accuracy() const {
  if (!labels.defined() || labels.numel() == 0) return 0.0;
  return clean_predictions.eq(labels).to(torch::kFloat64).mean().item<double>();
}

double AttackResult::robust_accuracy() const {
  if (!labels.defined() || labels.numel() == 0) return 0.0;
  return predictions.eq(labels).to(torch::kFloat64).mean().item<double>();
}

Attack::Attack(Model model, ThreatModel threat)
    : model_(std::move(model)), threat_(std::move(threat)) {
  const ThreatModel& t = threat_;
  if (!(std::isfinite(t.eps) && t.eps >= 0)) {
    throw InvalidArgument("invalid eps: " + detail::number_str(t.eps) +
                          " (must be >= 0 and finite)");
  }
  if (t.max_batch < 1) {
    throw InvalidArgument("invalid max_batch: " + std::to_string(t.max_batch) +
                          " (must be >= 1)");
  }
  check_bound(t.lo, "lo");
  check_bound(t.hi, "hi");
  torch::Tensor lo = t.lo.defined() ? t.lo.to(torch::kFloat64)
                                    : torch::zeros({}, torch::kFloat64);
  torch::Tensor hi = t.hi.defined() ? t.hi.to(torch::kFloat64)
                                    : torch::ones({}, torch::kFloat64);
  torch::Tensor bad = lo.gt(hi);
  if (bad.any().item<bool>()) {
    torch::Tensor at = bad.flatten().nonzero();
    int64_t i = at.size(0) > 0 ? at[0][0].item<int64_t>() : 0;
    double l = lo.expand_as(bad).flatten()[i].item<double>();
    double h = hi.expand_as(bad).flatten()[i].item<double>();
    throw InvalidArgument(
        "invalid bounds: lo " + detail::number_str(l) + " > hi " +
        detail::number_str(h) +
        (bad.dim() > 0 ? " at element " + std::to_string(i) : std::string()));
  }
  if (t.mean.size() != t.std.size()) {
    throw InvalidArgument(
        "invalid normalization: " + std::to_string(t.mean.size()) +
        " mean and " + std::to_string(t.std.size()) +
        " std values (give one of each per channel)");
  }
  for (double m : t.mean) {
    if (!std::isfinite(m)) {
      throw InvalidArgument("invalid mean: " + detail::number_str(m) +
                            " (must be finite)");
    }
  }
  for (double s : t.std) {
    if (!(std::isfinite(s) && s > 0)) {
      throw InvalidArgument("invalid std: " + detail::number_str(s) +
                            " (must be > 0 and finite)");
    }
  }
}

std::string Attack::threat_str() const {
  return "eps=" + detail::number_str(threat_.eps) +
         ", norm=" + to_string(threat_.norm) +
         ", targeting=" + threat_.targeting.str();
}

AttackResult Attack::run(const torch::Tensor& x_in,
                         const torch::Tensor& labels_in) const {
  const auto start = Clock::now();
  if (!x_in.defined() || x_in.dim() < 2 || x_in.size(0) == 0) {
    refuse_input("expected a batch [rows, ...] with rows >= 1, got " +
                 (x_in.defined() ? "shape " + c10::str(x_in.sizes())
                                 : std::string("no tensor")));
  }
  if (!x_in.is_floating_point()) {
    refuse_input("dtype " + std::string(c10::toString(x_in.scalar_type())) +
                 " cannot hold perturbations (convert to float32 or float64)");
  }
  torch::Tensor bad = torch::isfinite(x_in).logical_not().flatten(1).any(1);
  if (bad.any().item<bool>()) {
    refuse_input("it contains NaN or infinity (first in row " +
                 std::to_string(bad.nonzero()[0][0].item<int64_t>()) + ")");
  }
  const int64_t rows = x_in.size(0);
  c10::IntArrayRef row = x_in.sizes().slice(1);
  if (!threat_.mean.empty() &&
      static_cast<int64_t>(threat_.mean.size()) != row[0]) {
    throw InvalidArgument(
        "invalid normalization: " + std::to_string(threat_.mean.size()) +
        " mean values for " + std::to_string(row[0]) +
        " channels (dimension 1 of the input)");
  }

  detail::Problem p(model_, threat_, row);
  torch::Tensor x = x_in.detach().to(model_.device(), model_.dtype());
  model_.check_input(x);
  check_inside(x_in, p.lo().to(x_in.device()), p.hi().to(x_in.device()));
  x = torch::max(torch::min(x, p.hi()), p.lo());
  torch::Tensor y = prepare_labels(labels_in, rows, model_.device());

  // Clean predictions, label range and the output checks.
  std::vector<torch::Tensor> parts;
  for (int64_t b = 0; b < rows; b += threat_.max_batch) {
    parts.push_back(p.predict(x.slice(0, b, b + threat_.max_batch)));
  }
  torch::Tensor clean = torch::cat(parts);
  const int64_t classes = clean.size(1);
  int64_t high = y.max().item<int64_t>(), low = y.min().item<int64_t>();
  if (low < 0 || high >= classes) {
    int64_t bad_label = low < 0 ? low : high;
    int64_t at = y.eq(bad_label).nonzero()[0][0].item<int64_t>();
    throw InvalidArgument("invalid label " + std::to_string(bad_label) +
                          " in row " + std::to_string(at) + " (the model has " +
                          std::to_string(classes) + " outputs: labels 0.." +
                          std::to_string(classes - 1) + ")");
  }
  check_outputs(p, x, clean);
  torch::Tensor t =
      choose_targets(threat_.targeting, y, clean, classes, p.generator());

  // The attack itself, chunk by chunk.
  std::vector<torch::Tensor> found;
  for (int64_t b = 0; b < rows; b += threat_.max_batch) {
    int64_t e = std::min(rows, b + threat_.max_batch);
    torch::Tensor xc = x.slice(0, b, e);
    if (threat_.eps == 0) {
      found.push_back(xc);
      continue;
    }
    torch::Tensor adv =
        attack_chunk(p, xc, y.slice(0, b, e), t.slice(0, b, e)).detach();
    found.push_back(p.project(adv, xc));
  }

  AttackResult r;
  torch::Tensor out = torch::cat(found).to(x_in.options());
  r.adversarial = threat_.eps == 0 ? x_in.detach().clone()
                                   : final_projection(p, out, x_in.detach());
  torch::Tensor judged = r.adversarial.to(model_.device(), model_.dtype());
  parts.clear();
  for (int64_t b = 0; b < rows; b += threat_.max_batch) {
    parts.push_back(p.predict(judged.slice(0, b, b + threat_.max_batch)));
  }
  torch::Tensor pred = torch::cat(parts).argmax(1);
  torch::Tensor clean_pred = clean.argmax(1);
  torch::Tensor success = detail::is_success(pred, y, t);
  success =
      torch::where(t.ge(0), success, success.logical_and(clean_pred.eq(y)));

  r.labels = y.cpu();
  r.targets = t.cpu();
  r.clean_predictions = clean_pred.cpu();
  r.predictions = pred.cpu();
  r.success = success.cpu();
  r.stages = {{name(), r.robust_accuracy()}};
  r.warnings = p.warnings();
  r.forward_passes = p.forward_passes;
  r.backward_passes = p.backward_passes;
  r.model_evaluations = p.model_evaluations;
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  spdlog::info(
      "{}: {} rows, clean accuracy {:.4f}, robust accuracy {:.4f}, "
      "{} forward and {} backward passes, {:.3f} s",
      name(), rows, r.clean_accuracy(), r.robust_accuracy(), r.forward_passes,
      r.backward_passes, r.seconds);
  return r;
}

const std::vector<std::string>& attack_names() {
  static const std::vector<std::string> names = {
      "fgsm", "bim",      "pgd",     "pgd-l2",   "mifgsm",
      "cw",   "deepfool", "apgd-ce", "apgd-dlr", "auto"};
  return names;
}

std::unique_ptr<Attack> make_attack(const std::string& name, const Model& model,
                                    const AttackConfig& c) {
  ThreatModel threat = c.threat;
  if (name == "fgsm") return std::make_unique<Fgsm>(model, threat);
  if (name == "bim" || name == "pgd" || name == "pgd-l2") {
    PgdOptions o = name == "bim" ? Bim::Defaults() : PgdOptions{};
    if (c.steps > 0) o.steps = c.steps;
    if (c.step_size > 0) o.step_size = c.step_size;
    if (c.restarts > 0) o.restarts = c.restarts;
    if (name == "bim") return std::make_unique<Bim>(model, threat, o);
    if (name == "pgd-l2") threat.norm = Norm::kL2;
    return std::make_unique<Pgd>(model, threat, o);
  }
  if (name == "mifgsm") {
    MiFgsmOptions o;
    if (c.steps > 0) o.steps = c.steps;
    if (c.step_size > 0) o.step_size = c.step_size;
    return std::make_unique<MiFgsm>(model, threat, o);
  }
  if (name == "cw") {
    CarliniWagnerOptions o;
    if (c.steps > 0) o.steps = c.steps;
    if (c.step_size > 0) o.learning_rate = c.step_size;
    threat.norm = Norm::kL2;
    return std::make_unique<CarliniWagner>(model, threat, o);
  }
  if (name == "deepfool") {
    DeepFoolOptions o;
    if (c.steps > 0) o.steps = c.steps;
    return std::make_unique<DeepFool>(model, threat, o);
  }
  if (name == "apgd-ce" || name == "apgd-dlr") {
    ApgdOptions o;
    o.loss = name == "apgd-ce" ? ApgdLoss::kCrossEntropy : ApgdLoss::kDlr;
    if (c.steps > 0) o.steps = c.steps;
    if (c.restarts > 0) o.restarts = c.restarts;
    return std::make_unique<Apgd>(model, threat, o);
  }
  if (name == "auto") {
    AutoAttackOptions o;
    if (c.steps > 0) o.steps = c.steps;
    return std::make_unique<AutoAttack>(model, threat, o);
  }
  std::string list;
  for (const auto& n : attack_names()) list += (list.empty() ? "" : ", ") + n;
  throw InvalidArgument("invalid attack: '" + name + "' (use one of " + list +
                        ")");
}

}  // namespace xai
