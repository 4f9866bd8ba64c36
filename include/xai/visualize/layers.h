// Reading any named layer of a TorchScript model during a forward pass.
//
// TorchScript modules take no forward hooks, so layers are read off the
// model's forward graph instead: each call of a submodule is inlined, and
// the value it produces becomes an extra output of the graph. A layer is
// named as named_modules() names the submodule ("features.3", "conv2"); a
// submodule called more than once has one layer per call site, named
// "<module>@<k>" (k from 0, in the order of the forward pass). "output"
// names the model's output.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "xai/model.h"

namespace xai {

namespace detail {
class LayerGraph;
}

// One readable layer of a model.
struct LayerInfo {
  std::string name;            // "conv2", "pool@1" or "output"
  std::vector<int64_t> shape;  // [batch, ...] for the probed input
};

// Every readable layer of `model`, in the order of the forward pass and
// with "output" last, with the shape each has for an input batch of shape
// `input_shape` (e.g. {1, 1, 28, 28}). Throws InvalidArgument when the
// model rejects an input of that shape (the message names the shape and
// LibTorch's reason).
std::vector<LayerInfo> describe_layers(const Model& model,
                                       const std::vector<int64_t>& input_shape);

// The names of the readable layers, without running the model.
std::vector<std::string> layer_names(const Model& model);

// Reads a fixed list of layers in one forward pass.
//
// Thread safety: forward() may be called from several threads at once.
class LayerReader {
 public:
  // Throws InvalidArgument "unknown layer: <name> (...)" suggesting the
  // nearest names, or "ambiguous layer" naming the call sites of a module
  // called more than once. Throws UnsupportedModel for a forward that takes
  // other than one tensor.
  LayerReader(const Model& model, std::vector<std::string> layers);
  ~LayerReader();

  // Runs `x` [batch, ...] (on the model's device, with its dtype) and
  // returns the model's output followed by one tensor per layer, in the
  // order given. Differentiable when grad mode is on. With
  // `redirect_relu`, every ReLU passes gradients that would raise its
  // input even where the input is negative, for the batch items whose
  // ReLU gradient is zero everywhere (forward values are unchanged).
  std::vector<torch::Tensor> forward(const torch::Tensor& x,
                                     bool redirect_relu = false) const;

  const std::vector<std::string>& layers() const { return layers_; }

 private:
  std::vector<std::string> layers_;
  std::shared_ptr<detail::LayerGraph> graph_;
};

}  // namespace xai
