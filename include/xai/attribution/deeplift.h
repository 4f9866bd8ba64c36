// DeepLIFT (rescale rule) and DeepSHAP on the TorchScript graph.
//
// Unlike hook-based implementations, the rules are attached to call sites of
// the model's inlined forward graph: F.relu called twice, one nn.ReLU module
// reused, in-place ops, products of two activations and softmax outputs are
// all handled, and each gets its own rule. See xai-inspect for how a given
// model's ops are treated.
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "xai/attribution/attribution.h"
#include "xai/model.h"

namespace xai {

namespace detail {
class DeepLiftGraph;
}

// How DeepLIFT treats one op of a model's forward graph.
struct OpTreatment {
  std::string op;         // e.g. "aten::relu"
  std::string treatment;  // "rule: rescale", "linear" or "unsupported"
  std::string location;   // "file:line" in the model's source, if known
};

struct DeepLiftOptions {
  // Model rows per batched pass (inputs and references together, so
  // max_batch / 2 pairs). Default: 1024.
  int64_t max_batch = 1024;
  // Refuse (throw UnsupportedModel) when the graph holds a nonlinear op
  // without a DeepLIFT rule, instead of warning and using its gradient.
  // Default: false.
  bool strict = false;
  // Where |input - reference| of a nonlinearity is at most eps, its
  // multiplier is the gradient at the input instead of the difference
  // quotient. Default: 1e-6.
  double eps = 1e-6;
};

// The ops of `model`'s forward graph on the input's path and how DeepLIFT
// treats each.
std::vector<OpTreatment> describe_deeplift(const Model& model);

// DeepLIFT against one reference: values[i] = (x[i] - r) * multipliers.
// Completeness: values sum to f(x) - f(r); the gap is reported per row.
class DeepLift : public Explainer {
 public:
  // `reference` is [1, ...] (shared) or [rows, ...] (one per input row);
  // undefined means zeros. The model is copied (a cheap handle).
  DeepLift(const Model& model, torch::Tensor reference,
           DeepLiftOptions options = {});
  ~DeepLift() override;
  Attribution attribute(const torch::Tensor& x,
                        const Target& target) const override;
  std::string str() const override;
  const std::vector<OpTreatment>& treatments() const;

 private:
  Model model_;
  torch::Tensor reference_;
  DeepLiftOptions options_;
  std::shared_ptr<detail::DeepLiftGraph> graph_;
};

// DeepSHAP: DeepLIFT averaged over a background set, each background row a
// reference; base value = mean model output over the background.
class DeepShap : public Explainer {
 public:
  // `background` is [k, ...] with k >= 1 rows of the input's row shape.
  DeepShap(const Model& model, torch::Tensor background,
           DeepLiftOptions options = {});
  ~DeepShap() override;
  Attribution attribute(const torch::Tensor& x,
                        const Target& target) const override;
  std::string str() const override;
  const std::vector<OpTreatment>& treatments() const;

 private:
  Model model_;
  torch::Tensor background_;
  DeepLiftOptions options_;
  std::shared_ptr<detail::DeepLiftGraph> graph_;
};

}  // namespace xai
