// Writing an Attribution to disk in the layout of SHAP's Explanation.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "xai/attribution/attribution.h"

namespace xai {

// What the report needs besides the Attribution itself.
struct ExplanationMeta {
  std::string model_path;    // as given on the command line
  std::string model_sha256;  // hex; may be empty
  std::string input_path;
  std::string device;  // e.g. "cpu", "cuda:0"
  // One name per input feature; may be empty.
  std::vector<std::string> feature_names;
  // Names of ALL model outputs, indexed by output; may be empty, giving
  // "output 0" .. "output C-1" with C = num_outputs.
  std::vector<std::string> output_names;
  // Number of model outputs C; 0 takes the size of output_names, or else
  // the largest explained index + 1.
  int64_t num_outputs = 0;
  // True when every output was explained: values keep a trailing target
  // axis, as SHAP lays out multi-output explanations. False requires one
  // target per row.
  bool all_targets = false;
  // The explained inputs [rows, ...], on the CPU; may be undefined.
  torch::Tensor data;
  double total_seconds = 0;  // wall time of the whole run
};

// The JSON text of the explanation. With rows inputs of row shape S and T
// targets per row (a.values is [rows, T, ...S]):
//   all_targets false (T must be 1): values [rows, ...S], and base_values,
//     targets, outputs and completeness_gap [rows];
//   all_targets true: values [rows, ...S, T], and the others [rows, T].
// Fields: libxai_version, method, options (numbers and true/false typed),
// model {path, sha256}, input, device, shape (of values), feature_names,
// output_names, timings {attribution_seconds, total_seconds,
// model_evaluations, forward_passes, backward_passes},
// max_abs_completeness_gap, targets, outputs, base_values, completeness_gap,
// values, standard_errors (laid out like values) and data (nested lists;
// null when undefined). Doubles round-trip.
//
// Throws InvalidArgument when the tensors disagree in shape, a target is out
// of range, or any value is NaN or infinite.
std::string explanation_json(const Attribution& a, const ExplanationMeta& meta);

// Writes `out_dir`/explanation.json (explanation_json()) and
// `out_dir`/values.npy (the values in the same layout, float32 or float64),
// creating `out_dir` if needed. Each file is replaced atomically; nothing is
// written when the input is refused. Throws as explanation_json() does, and
// IoError when the directory or a file cannot be written.
void write_explanation(const std::string& out_dir, const Attribution& a,
                       const ExplanationMeta& meta);

}  // namespace xai
