// Activation maximization: the inputs that maximize objectives on the
// layers of a TorchScript model, found by gradient ascent.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "xai/model.h"
#include "xai/visualize/layers.h"
#include "xai/visualize/objective.h"
#include "xai/visualize/param.h"
#include "xai/visualize/transform.h"

namespace xai {

// Where an optimization stands, for progress reports.
struct VisualizeProgress {
  int64_t step = 0;   // steps done, 1..steps
  int64_t steps = 0;  // steps in all
  double loss = 0;    // minus the objectives plus the penalties
};

struct VisualizeOptions {
  // Shape of one input row, e.g. {1, 28, 28} (images are [channels,
  // height, width], vectors [features], sequences [channels, length]).
  // Default: empty, the model's input row shape when fully known.
  std::vector<int64_t> row_shape;
  // Inputs optimized per objective. Default: 1.
  int64_t batch = 1;
  // Adam steps. Default: 512.
  int64_t steps = 512;
  // Adam learning rate. Default: 0.05.
  double lr = 0.05;
  // Seed of the initial values and of the random transforms; runs on the
  // CPU with the same seed and thread count are bit-for-bit equal.
  // Default: 0.
  uint64_t seed = 0;
  // Parameterization of images; other inputs always use pixels.
  // Default: kFourier.
  ParamKind param = ParamKind::kFourier;
  // Decorrelate the colours of three-channel images. Default: true.
  bool decorrelate = true;
  // How values are kept in the input range. Default: kSigmoid.
  Squash squash = Squash::kSigmoid;
  // Input range. Default: [0, 1].
  double lo = 0.0;
  double hi = 1.0;
  // Per-element range of one row (e.g. the minimum and maximum of each
  // feature over a data file), shaped like a row; overrides lo and hi
  // where defined. Default: undefined.
  torch::Tensor feature_lo;
  torch::Tensor feature_hi;
  // The model sees (x - mean) / std, one value per channel or one for
  // all. Default: empty, no normalization.
  std::vector<double> mean;
  std::vector<double> std;
  // Random transforms of images before each step. Default: Lucid's set.
  TransformOptions transforms;
  // Penalty weights, per input: l1 sum |x - c|, l2 sum (x - c)^2 (c the
  // middle of the input range, 0 without a range), tv the total
  // variation sum |x[i+1] - x[i]| along every positional dimension, blur
  // 0.5 sum (x - blur3x3(x))^2 (images). Default: 0 each.
  double l1 = 0.0;
  double l2 = 0.0;
  double tv = 0.0;
  double blur = 0.0;
  // Steps at the start during which ReLUs pass gradients that would raise
  // their input (see LayerReader::forward). Default: 16.
  int64_t redirect_relu_steps = 16;
  // Steps after which the objective values and inputs are recorded; the
  // last step is always recorded. Default: empty, every steps / 4.
  std::vector<int64_t> snapshots;
  // Standard deviation of the initial parameters. Default: 0.01.
  double init_std = 0.01;
  // Called after every step (from the calling thread). Default: none.
  std::function<void(const VisualizeProgress&)> progress;
};

// The objective values and inputs after one step.
struct VisualizeSnapshot {
  int64_t step = 0;
  // [objectives, batch] float64: each objective on its untransformed
  // inputs, diversity terms left out.
  torch::Tensor values;
  // [objectives, batch, ...row shape] float32 CPU, in the input range.
  torch::Tensor inputs;
};

struct Visualization {
  torch::Tensor inputs;  // the last snapshot's inputs
  torch::Tensor values;  // the last snapshot's values
  std::vector<VisualizeSnapshot> snapshots;  // in step order
  double seconds = 0;                        // optimization time
};

// Optimizes the inputs of every objective together, `batch` rows each, in
// one batch of objectives * batch rows.
//
// Thread safety: run() and evaluate() may be called from several threads.
class Visualizer {
 public:
  // Validates everything against a probe pass of one row. Throws
  // InvalidArgument for a bad option ("invalid steps: 0 (at least 1)"), an
  // unknown layer, an objective that does not fit its layer, or a row
  // shape the model rejects.
  Visualizer(const Model& model, std::vector<Objective> objectives,
             VisualizeOptions options = {});
  ~Visualizer();

  Visualization run() const;

  // The objective values [objectives, rows] of rows `x` [rows, ...row
  // shape] in input units (normalized here as for run()), diversity terms
  // left out. Rows are evaluated `chunk` at a time.
  torch::Tensor evaluate(const torch::Tensor& x, int64_t chunk = 256) const;

  const std::vector<int64_t>& row_shape() const { return row_shape_; }
  bool is_image() const { return row_shape_.size() == 3; }
  // e.g. "Visualizer(objectives=2, batch=1, steps=512, lr=0.05, ...)".
  std::string str() const;

 private:
  Model model_;
  std::vector<Objective> objectives_;
  VisualizeOptions options_;
  std::vector<int64_t> row_shape_;
  std::unique_ptr<LayerReader> reader_;
  torch::Tensor lo_, hi_;  // row-shaped or scalar, CPU
  torch::Tensor to_model(const torch::Tensor& x) const;
  torch::Tensor values(const std::vector<torch::Tensor>& outs,
                       int64_t per_objective, bool all_rows) const;
};

}  // namespace xai

namespace xai {

// The PNG file bytes of `images` [n, channels, h, w] laid out as a grid of
// `columns` columns, values mapped from [lo, hi] to 0..255 (gray for one
// channel, RGB for three, the channel mean otherwise), with a 2-pixel
// white gap between cells. Throws InvalidArgument for another rank.
std::string png_grid(const torch::Tensor& images, int64_t columns, double lo,
                     double hi);

}  // namespace xai
