// Differentiable random transforms of image batches, applied before each
// optimization step so that the result is robust rather than adversarial.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace xai {

// Lucid's standard set, in that order: pad, jitter, random scale, random
// rotation, jitter, then a centre crop (or pad) back to the input size, as
// models with a fixed input size need it. Sizes in pixels; -1 means
// Lucid's value for a 224-pixel image scaled to the image height (at
// least 1 pixel).
struct TransformOptions {
  // Apply the transforms. Default: true (images only; vectors and
  // sequences are never transformed).
  bool enabled = true;
  // Padding on each side. Default: -1 (12 px at 224 px).
  int64_t pad = -1;
  // Value of the padded pixels, in input units. Default: 0.5.
  double pad_value = 0.5;
  // Largest shift of the first jitter. Default: -1 (8 px at 224 px).
  int64_t jitter = -1;
  // Scale factors drawn uniformly. Default: 0.90, 0.92, ..., 1.10.
  std::vector<double> scales = {0.90, 0.92, 0.94, 0.96, 0.98, 1.00,
                                1.02, 1.04, 1.06, 1.08, 1.10};
  // Angles in degrees drawn uniformly. Default: -10..10 and five more 0.
  std::vector<double> angles = {-10, -9, -8, -7, -6, -5, -4, -3, -2, -1, 0,
                                1,   2,  3,  4,  5,  6,  7,  8,  9,  10, 0,
                                0,   0,  0,  0};
  // Largest shift of the second jitter. Default: -1 (4 px at 224 px).
  int64_t jitter2 = -1;
};

std::string to_string(const TransformOptions& options);

// x [batch, channels, h, w] padded by `p` on each side with `value`.
torch::Tensor pad_image(const torch::Tensor& x, int64_t p, double value);
// The (h - d) x (w - d) crop of x [batch, channels, h, w] at (dy, dx),
// 0 <= dy, dx <= d.
torch::Tensor jitter_image(const torch::Tensor& x, int64_t d, int64_t dy,
                           int64_t dx);
// x resized by `factor` with bilinear interpolation (align_corners false)
// to round(h * factor) x round(w * factor).
torch::Tensor scale_image(const torch::Tensor& x, double factor);
// x rotated by `degrees` counter-clockwise as displayed (rows down) about
// its centre, bilinear, zeros outside; the size is kept.
torch::Tensor rotate_image(const torch::Tensor& x, double degrees);
// The centre h x w crop of x, padding with `value` where x is smaller.
torch::Tensor fit_image(const torch::Tensor& x, int64_t h, int64_t w,
                        double value);

// The whole random chain on x [batch, channels, h, w], with every random
// choice drawn from `rng`; returns a batch of the same shape.
torch::Tensor random_transform(const torch::Tensor& x,
                               const TransformOptions& options,
                               std::mt19937_64& rng);

}  // namespace xai
