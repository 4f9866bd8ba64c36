// Parameterizations of the input that activation maximization optimizes.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace xai {

enum class ParamKind {
  kPixel,    // the input values themselves (before squashing)
  kFourier,  // a spectrum scaled by 1 / frequency (images only)
};

// "pixel" or "fft"; throws InvalidArgument "invalid --param: <name> (...)".
ParamKind param_kind_from_string(const std::string& name);
std::string to_string(ParamKind kind);

enum class Squash {
  kSigmoid,  // lo + (hi - lo) * sigmoid(t)
  kClip,     // t clamped to [lo, hi]
  kNone,     // t itself: an unbounded input
};

// The 1/frequency scale of an rfft2 spectrum of an h x w image:
// 1 / max(f, 1 / max(h, w)) with f = sqrt(fy^2 + fx^2) in cycles per
// pixel; [h, w / 2 + 1], float32.
torch::Tensor fourier_scale(int64_t h, int64_t w);

// The image of a spectrum `spectrum` [batch, channels, h, w / 2 + 1, 2]
// (real and imaginary parts): the orthonormal inverse real FFT of the
// spectrum times fourier_scale(), divided by 4. [batch, channels, h, w].
torch::Tensor fourier_image(const torch::Tensor& spectrum, int64_t h,
                            int64_t w);

// Maps three decorrelated channels [batch, 3, ...] to RGB with the square
// root of the colour correlation of natural images (as Lucid does).
torch::Tensor decorrelate_colour(const torch::Tensor& t);

// The trainable tensor and how it becomes a batch of inputs.
//
// Thread safety: none; one parameterization per optimization.
class Parameterization {
 public:
  // `shape` is [batch, ...row shape]. `lo` and `hi` are the input range:
  // scalars, or one value per element of a row (vectors from a data file).
  // Fourier needs rank-4 [batch, channels, h, w] shapes. Colour
  // decorrelation applies to three channels only. The initial values are
  // normal with std `init_std`, drawn from `generator`.
  Parameterization(std::vector<int64_t> shape, ParamKind kind,
                   bool decorrelate, Squash squash, torch::Tensor lo,
                   torch::Tensor hi, double init_std,
                   torch::Generator generator, torch::Device device);

  // The leaf tensor to optimize.
  torch::Tensor& parameter() { return param_; }
  // The batch of inputs, in the input range. Differentiable.
  torch::Tensor input() const;

 private:
  std::vector<int64_t> shape_;
  ParamKind kind_;
  bool decorrelate_;
  Squash squash_;
  torch::Tensor lo_, hi_, param_;
};

}  // namespace xai
