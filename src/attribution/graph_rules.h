// DeepLIFT on a TorchScript graph (internal).
//
// The model's forward graph is frozen (parameters become constants),
// inlined, and stripped of in-place mutation where that is provably safe.
// Every node on the path from the input is then classified once: linear
// (its gradient is already its DeepLIFT multiplier), a rule (a nonlinear op
// whose output is replaced by an expression that has the same value but
// whose gradient is the DeepLIFT multiplier), or unsupported (a warning, or
// an error in strict mode). Running the graph on a batch that stacks inputs
// on top of their references, [inputs; references] along dimension 0, then
// yields in one backward pass the multipliers for every input row.
//
// Every rule preserves completeness exactly: the contributions it hands back
// through its inputs sum to the change of its output between input and
// reference.
#pragma once

#include <torch/script.h>

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "xai/attribution/deeplift.h"
#include "xai/model.h"

namespace xai::detail {

class DeepLiftGraph {
 public:
  // Freezes and analyses the model's forward graph. `eps` is the |Δx|
  // below which the rescale rule falls back to the gradient.
  DeepLiftGraph(const Model& model, double eps);
  ~DeepLiftGraph();

  // Runs the rewritten graph on `pairs` = [inputs; references], shape
  // [2 * m, ...]; returns the outputs as [2 * m, outputs]. Gradients of the
  // first m outputs with respect to `pairs` are DeepLIFT multipliers.
  torch::Tensor run(const torch::Tensor& pairs) const;

  // How each op on the input's path is treated.
  const std::vector<OpTreatment>& treatments() const { return treatments_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<OpTreatment> treatments_;
};

}  // namespace xai::detail
