// Adversarial attacks: what every attack shares (the threat model, the
// result, the interface) and the factory the command line uses.
//
// The threat model. An input row x lives in the box [lo, hi] (by default
// [0, 1]); an adversarial example x' lies in the same box and within the
// ball ||x' - x|| <= eps of the chosen norm, eps in input units. When the
// model expects normalized input, `mean` and `std` put the normalization in
// front of the model, so that eps stays in input units.
//
// Common contract of every attack:
//  - The model runs in eval mode (xai::Model puts it there), without
//    gradients for its parameters.
//  - The caller's input is never modified. The returned tensor has the
//    shape, dtype and device of the input; internally the attack runs in the
//    model's dtype on the model's device. Each returned row lies within the
//    bounds and within the eps ball, up to 1e-6, checked in the input's
//    dtype. eps = 0 returns the input unchanged.
//  - Success, predictions and accuracies are judged on exactly the returned
//    tensor, run once more through the model.
//  - Rows are attacked in chunks of at most max_batch rows; random draws
//    come from a CPU generator seeded with `seed`, so a run on the CPU is
//    reproducible.
//  - Warnings (also logged through spdlog) flag results that should not be
//    trusted: outputs that look like probabilities (losses on softmax
//    outputs are flat; export logits), gradients that are zero for many
//    rows (gradient masking), a model whose outputs change between two
//    passes on the same input (a random model).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "xai/model.h"

namespace xai {

enum class Norm { kLinf, kL2 };

// "linf" or "l2"; throws InvalidArgument otherwise.
Norm parse_norm(const std::string& name);
std::string to_string(Norm norm);

// Which label an attack aims for.
struct Targeting {
  enum class Kind {
    kUntargeted,   // any label but the true one
    kLabel,        // one fixed label
    kRandom,       // a random label other than the true one, per row
    kLeastLikely,  // the label with the lowest clean logit, per row
    kRanked,       // the label-th most likely other label (1: the
                   // runner-up), by clean logits, per row
  };
  Kind kind = Kind::kUntargeted;
  int64_t label = 0;  // kLabel: the label; kRanked: the rank, >= 1

  // "none", "random", "least-likely", "rank:K" (K >= 1) or a label index
  // >= 0. Throws InvalidArgument "invalid targeting: '<spec>' (...)".
  static Targeting parse(const std::string& spec);
  bool targeted() const { return kind != Kind::kUntargeted; }
  std::string str() const;
};

// The threat model and how the model is run; shared by every attack.
struct ThreatModel {
  // Radius of the perturbation ball, in input units; >= 0 and finite.
  // Default 0.3.
  double eps = 0.3;
  // Norm of the ball. Default L-infinity.
  Norm norm = Norm::kLinf;
  // Lower and upper bounds of valid inputs: scalars, or tensors that
  // broadcast to one input row (e.g. [30] per feature of tabular rows).
  // lo <= hi everywhere. Default: undefined, meaning [0, 1].
  torch::Tensor lo;
  torch::Tensor hi;
  // Normalization in front of the model, model((x - mean) / std), per
  // channel (dimension 1 of the input); both empty (the default) or of the
  // same length, std > 0.
  std::vector<double> mean;
  std::vector<double> std;
  // Untargeted by default.
  Targeting targeting;
  // Seed of random starts and random targets. Default 0.
  uint64_t seed = 0;
  // Most rows attacked at once. Must be >= 1. Default 256.
  int64_t max_batch = 256;
};

// What an attack returns.
struct AttackResult {
  // The adversarial examples: shape, dtype and device of the input.
  torch::Tensor adversarial;
  // int64 [rows], on the CPU: the true labels, the target labels (-1 when
  // untargeted), the predictions on the clean input and on `adversarial`.
  torch::Tensor labels;
  torch::Tensor targets;
  torch::Tensor clean_predictions;
  torch::Tensor predictions;
  // bool [rows], on the CPU. Untargeted: the clean input was classified
  // correctly and `adversarial` is not. Targeted: `adversarial` is
  // classified as the target, which differs from the true label.
  torch::Tensor success;
  // Accuracy on `adversarial` after each stage: one entry named after the
  // attack, or one per stage of a cascade (cumulative).
  std::vector<std::pair<std::string, double>> stages;
  std::vector<std::string> warnings;
  int64_t forward_passes = 0;     // batched forward passes
  int64_t backward_passes = 0;    // batched backward passes
  int64_t model_evaluations = 0;  // input rows through the model
  double seconds = 0.0;           // wall time of run()

  // Fraction of rows classified correctly on the clean input and on
  // `adversarial`.
  double clean_accuracy() const;
  double robust_accuracy() const;
};

namespace detail {
class Problem;
}  // namespace detail

// Interface of every attack. Thread safety: run() is const and keeps no
// state between calls.
class Attack {
 public:
  virtual ~Attack() = default;

  // Attacks `x` [rows, ...] (floating dtype, any device, within the bounds)
  // with true labels `labels` (integer [rows], each in 0..C-1). Throws
  // InvalidArgument for inputs outside the bounds, NaN, labels out of
  // range or of the wrong count, and a target label out of range.
  virtual AttackResult run(const torch::Tensor& x,
                           const torch::Tensor& labels) const;

  // "pgd", "apgd-ce", ...
  virtual std::string name() const = 0;
  // "Pgd(eps=0.3, norm=linf, steps=40, ...)".
  virtual std::string str() const = 0;
  const ThreatModel& threat() const { return threat_; }
  const Model& model() const { return model_; }

 protected:
  // Validates the threat model; throws InvalidArgument naming the option.
  Attack(Model model, ThreatModel threat);

  // Attacks one chunk. `x` [n, ...] in the model's dtype on its device,
  // within the bounds; `labels` and `targets` int64 [n] on the same device
  // (targets -1 when untargeted). Returns the candidate examples [n, ...];
  // run() projects them once more and judges them.
  virtual torch::Tensor attack_chunk(detail::Problem& problem,
                                     const torch::Tensor& x,
                                     const torch::Tensor& labels,
                                     const torch::Tensor& targets) const = 0;

  // The options every attack prints: "eps=0.3, norm=linf, targeting=none".
  std::string threat_str() const;

  Model model_;
  ThreatModel threat_;
};

// Settings the command line passes to make_attack(); each attack reads the
// ones it needs and documents its defaults in its own options struct.
struct AttackConfig {
  ThreatModel threat;
  int64_t steps = 0;       // 0: the attack's default
  double step_size = 0.0;  // 0: the attack's default
  int64_t restarts = 0;    // 0: the attack's default
};

// Names accepted by make_attack(): fgsm, bim, pgd, pgd-l2, mifgsm, cw,
// deepfool, apgd-ce, apgd-dlr, auto.
const std::vector<std::string>& attack_names();

// Builds the attack called `name`; pgd-l2 and cw use the L2 norm whatever
// config.threat.norm says. Throws InvalidArgument for an unknown name and
// as the attack's constructor does.
std::unique_ptr<Attack> make_attack(const std::string& name, const Model& model,
                                    const AttackConfig& config);

}  // namespace xai
