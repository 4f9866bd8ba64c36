// What every attribution method returns, and the interface they share.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "xai/attribution/players.h"
#include "xai/model.h"

namespace xai {

// The result of explaining a batch of `rows` inputs for `targets` outputs
// each. All tensors live on the CPU; floating ones are float32, or float64
// for a float64 model where the method keeps its precision (DeepLIFT).
struct Attribution {
  std::string method;  // "deepshap", "ig", ...
  // Method options as name/value text, for reports.
  std::vector<std::pair<std::string, std::string>> options;

  torch::Tensor values;       // float [rows, targets, ...input row shape]
  torch::Tensor targets;      // int64 [rows, targets]: output index explained
  torch::Tensor outputs;      // float [rows, targets]: f(x) at that index
  torch::Tensor base_values;  // float [rows, targets]: f at the reference
  // Sum of values minus (outputs - base_values), float [rows, targets].
  // Undefined for methods without a completeness property (saliency...).
  torch::Tensor completeness_gap;
  // Standard error of each value, float [rows, targets, ...input row
  // shape], for methods that estimate by sampling and measure their spread
  // (permutation sampling); undefined otherwise.
  torch::Tensor standard_errors;

  int64_t model_evaluations = 0;  // input rows pushed through the model
  int64_t forward_passes = 0;     // batched forward passes run
  int64_t backward_passes = 0;    // batched backward passes run
  double seconds = 0.0;           // wall time of attribute()
};

// The largest |completeness_gap| relative to max(1, |output|); 0 when the
// method has no gap.
double max_relative_gap(const Attribution& a);

// Interface of every attribution method.
class Explainer {
 public:
  virtual ~Explainer() = default;
  // Explains `x` [rows, ...] (on any device, any floating dtype; moved to the
  // model's). Throws InvalidArgument for inputs the model cannot take.
  virtual Attribution attribute(const torch::Tensor& x,
                                const Target& target) const = 0;
  // One line for logs, e.g. "DeepShap(background=100, max_batch=256)".
  virtual std::string str() const = 0;
};

// Settings the command line passes to make_explainer(); each method reads the
// ones it needs and documents its defaults in its own options struct.
struct ExplainerConfig {
  // [k, ...] reference rows (deepshap, gradshap, shapley, permutation,
  // kernelshap; ablation and occlusion, where undefined means zeros).
  torch::Tensor background;
  torch::Tensor baseline;  // [1, ...] or [rows, ...] (deeplift, ig)
  int64_t max_batch = 0;   // 0: the method's default
  int64_t steps = 0;       // ig: 0 for its default
  // gradshap, smoothgrad: samples per row; permutation: antithetic pairs;
  // 0 for the default.
  int64_t samples = 0;
  double noise = -1.0;  // gradshap, smoothgrad: < 0 for the default
  uint64_t seed = 0;
  bool strict = false;
  std::string ig_rule;  // "gauss-legendre" or "riemann"; empty: default
  // shapley, permutation, kernelshap, ablation: the players (default: each
  // element its own).
  Players players;
  int64_t budget = 0;       // kernelshap: 0 for 2 * players + 2048
  int64_t max_players = 0;  // shapley: 0 for its default
  // occlusion: window sizes and steps; empty for the defaults.
  std::vector<int64_t> window;
  std::vector<int64_t> stride;
};

// Names accepted by make_explainer().
const std::vector<std::string>& method_names();

// Builds the method called `name` ("deepshap", "deeplift", "ig",
// "gradshap", "saliency", "inputxgrad", "smoothgrad", "shapley",
// "permutation", "kernelshap", "ablation", "occlusion"). Throws
// InvalidArgument for an unknown name or a missing background, and as the
// method's constructor does.
std::unique_ptr<Explainer> make_explainer(const std::string& name,
                                          const Model& model,
                                          const ExplainerConfig& config);

namespace detail {

// Calls fn(begin, end) over [0, total) in pieces of at most `chunk`.
template <typename Fn>
void for_each_chunk(int64_t total, int64_t chunk, Fn&& fn) {
  for (int64_t begin = 0; begin < total; begin += chunk) {
    fn(begin, std::min(total, begin + chunk));
  }
}

// Runs `x` [rows, ...] (on the model's device, in its dtype) through the
// model without gradients in passes of at most `max_batch` rows, counting
// them in `a`; returns the outputs [rows, outputs].
torch::Tensor forward_rows(const Model& model, const torch::Tensor& x,
                           int64_t max_batch, Attribution& a);

// Moves `x` to the model's device and dtype after checking it: floating or
// integer dtype, no NaN or infinity, shape accepted by the model.
torch::Tensor prepare_input(const Model& model, const torch::Tensor& x,
                            const char* what);

// Given a.values [rows, T, ...] and a.outputs [rows, T] (f(x) at the
// targets), sets a.base_values and a.completeness_gap = Σ values -
// (outputs - base_values), summed in float64, all in the dtype of a.values.
void finish_completeness(Attribution& a, const torch::Tensor& base_values);

}  // namespace detail
}  // namespace xai
