// Robustness reports: the numbers users read after an attack, and the files
// xai-attack writes.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "xai/attack/attack.h"

namespace xai {

// Mean, median and largest value of a per-row quantity.
struct NormSummary {
  double mean = 0.0;
  double median = 0.0;
  double max = 0.0;
};

// The perturbations adversarial - x of some rows: L0 (elements changed at
// all), L2 and L-infinity norms, computed in float64.
struct PerturbationSummary {
  int64_t rows = 0;  // rows summarized; the summaries are 0 when none
  NormSummary l0, l2, linf;
};

// Summarizes the rows of `adversarial` - `x` (both [rows, ...], any device)
// where `rows` (bool [rows]) holds.
PerturbationSummary summarize_perturbations(const torch::Tensor& x,
                                            const torch::Tensor& adversarial,
                                            const torch::Tensor& rows);

// The accuracy and success numbers of one result.
struct RobustnessNumbers {
  double clean_accuracy = 0.0;
  double robust_accuracy = 0.0;
  // Untargeted: fooled rows over correctly classified clean rows.
  // Targeted: rows that reached their target over rows whose target is not
  // their label. 0 when there are no such rows.
  double success_rate = 0.0;
  PerturbationSummary successful;  // over the successful rows
};
RobustnessNumbers robustness_numbers(const torch::Tensor& x,
                                     const AttackResult& r);

// One attack at one eps.
struct AttackRun {
  double eps = 0.0;
  AttackResult result;
  // Warnings found by comparing with other attacks (see weaker_attack_note).
  std::vector<std::string> notes;
  // Name of the .npy file of result.adversarial within the report's
  // directory, set by write_attack_report().
  std::string adversarial_file;
};

// A warning when `weak` fooled rows that `strong` did not, at the same eps
// and targets; empty otherwise.
std::string weaker_attack_note(const AttackResult& strong,
                               const AttackResult& weak,
                               const std::string& strong_name,
                               const std::string& weak_name);

// What the report records besides the runs.
struct AttackReportMeta {
  std::string model_path;
  std::string model_sha256;
  std::string input_path;
  std::string labels_path;  // or "column <name>" for a CSV label column
  std::string device;
  std::string attack;      // name, e.g. "pgd"
  std::string attack_str;  // the attack printing itself
  ThreatModel threat;      // eps is per run
  double total_seconds = 0.0;
};

// The report.json text: meta, and for each run its eps, stage accuracies,
// clean and robust accuracy, success rate, perturbation norms, pass counts,
// warnings and one record per row (label, target, predictions before and
// after, success, norms); then the worst case (lowest accuracy) over the
// runs and the accuracy-versus-eps table. `x` is the clean input.
std::string attack_report_json(const AttackReportMeta& meta,
                               const torch::Tensor& x,
                               const std::vector<AttackRun>& runs);

// Writes to `dir` (created when missing): adversarial.npy (one run) or
// adversarial_eps<eps>.npy (several), each the shape and dtype of `x`; for
// image inputs [rows, 1 or 3, H, W], PNGs sample_<i>.png (or
// sample_<i>_eps<eps>.png) of the first `images` rows, each the original,
// the adversarial example and the difference (grey is no change, amplified
// to the largest change); accuracy_vs_eps.png for several runs; and last
// report.json. Every file is replaced atomically. Sets each run's
// adversarial_file. Throws IoError when a file cannot be written.
void write_attack_report(const std::string& dir, const AttackReportMeta& meta,
                         const torch::Tensor& x, std::vector<AttackRun>& runs,
                         int64_t images = 4);

}  // namespace xai
