// What activation maximization maximizes: weighted sums of terms on the
// layers of a model.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace xai {

// One term of an objective, evaluated per batch item on one layer.
struct ObjectiveTerm {
  enum class Kind {
    kNeuron,     // layer[:, channel, y, x] (the centre by default)
    kChannel,    // layer[:, channel] averaged over its positions
    kLayer,      // sum of squares of the whole layer (DeepDream)
    kLogit,      // output[:, channel] of the model
    kDirection,  // <direction, layer[:, :, ...]> averaged over positions
    kDiversity,  // minus the mean cosine similarity of an item's Gram
                 // matrix of the layer to the other items' ones
  };
  Kind kind = Kind::kChannel;
  std::string layer;  // "output" for kLogit
  int64_t channel = 0;
  // kNeuron: position in the trailing dimensions; empty means the centre.
  std::vector<int64_t> position;
  torch::Tensor direction;  // kDirection: [channels]
  double weight = 1.0;
};

// A weighted sum of terms. Objectives compose with +, - and scalar *.
class Objective {
 public:
  Objective() = default;
  explicit Objective(ObjectiveTerm term) : terms_{std::move(term)} {}

  static Objective neuron(const std::string& layer, int64_t channel,
                          std::vector<int64_t> position = {});
  static Objective channel(const std::string& layer, int64_t channel);
  static Objective layer(const std::string& layer);
  static Objective logit(int64_t index);
  static Objective direction(const std::string& layer, torch::Tensor dir);
  static Objective diversity(const std::string& layer);

  // Parses the command-line syntax: terms joined by + and -, each an
  // optional "<weight>*" then one of
  //   <layer>:<c>             channel c (for a [batch, features] layer,
  //                           feature c)
  //   neuron:<layer>:<c>      channel c at the centre position
  //   neuron:<layer>:<c>@i,j  ... at position (i, j)
  //   layer:<layer>           sum of squares
  //   logit:<k>               model output k
  //   diversity:<layer>       diversity across the batch
  //   direction:<layer>:v0,v1,...  a direction in channel space
  // e.g. "conv2:5", "-conv1:2", "conv2:5+0.5*conv2:7", "layer:conv2".
  // Throws InvalidArgument "invalid objective: <spec> (...)".
  static Objective parse(const std::string& spec);

  Objective operator+(const Objective& other) const;
  Objective operator-(const Objective& other) const;
  Objective operator-() const;
  Objective operator*(double weight) const;

  const std::vector<ObjectiveTerm>& terms() const { return terms_; }
  // The layers the terms read, without repeats ("output" for logits).
  std::vector<std::string> layers() const;

  // Throws InvalidArgument "invalid objective: <str()> (...)" when a
  // channel, position or direction does not fit the layer shapes.
  void check(const std::map<std::string, std::vector<int64_t>>& shapes) const;

  // The objective per batch item, [batch], from the layer values
  // ([batch, ...] each, keyed by layer name). Differentiable.
  // `with_diversity` false leaves the diversity terms out.
  torch::Tensor evaluate(const std::map<std::string, torch::Tensor>& layers,
                         bool with_diversity = true) const;

  // The canonical spec, e.g. "conv2:5+0.5*conv2:7".
  std::string str() const;

 private:
  std::vector<ObjectiveTerm> terms_;
};

inline Objective operator*(double weight, const Objective& o) {
  return o * weight;
}

}  // namespace xai
