#include "xai/visualize/param.h"

#include <algorithm>
#include <cmath>

#include "xai/error.h"

namespace xai {

using torch::Tensor;

ParamKind param_kind_from_string(const std::string& name) {
  if (name == "pixel") return ParamKind::kPixel;
  if (name == "fft") return ParamKind::kFourier;
  throw InvalidArgument("invalid param: " + name + " (pixel or fft)");
}

std::string to_string(ParamKind kind) {
  return kind == ParamKind::kPixel ? "pixel" : "fft";
}

Tensor fourier_scale(int64_t h, int64_t w) {
  int64_t wf = w / 2 + 1;
  auto fy = torch::arange(h, torch::kFloat64);
  // fftfreq: k / h for k < (h + 1) / 2, then (k - h) / h.
  fy = torch::where(fy < (h + 1) / 2, fy, fy - h) / static_cast<double>(h);
  auto fx = torch::arange(wf, torch::kFloat64) / static_cast<double>(w);
  auto f = (fy.unsqueeze(1).pow(2) + fx.unsqueeze(0).pow(2)).sqrt();
  double floor = 1.0 / static_cast<double>(std::max(h, w));
  return (1.0 / f.clamp_min(floor)).to(torch::kFloat32);
}

Tensor fourier_image(const Tensor& spectrum, int64_t h, int64_t w) {
  auto scale = fourier_scale(h, w).to(spectrum.device(), spectrum.dtype());
  auto c = torch::view_as_complex(spectrum.contiguous());
  auto image = torch::fft::irfft2(c * scale, std::vector<int64_t>{h, w},
                                  {-2, -1}, "ortho");
  return image / 4.0;
}

Tensor decorrelate_colour(const Tensor& t) {
  auto c = torch::tensor({0.26, 0.09, 0.02, 0.27, 0.00, -0.05, 0.27, -0.09,
                          0.03},
                         torch::kFloat64)
               .reshape({3, 3});
  c = c / c.norm(2, 0).max();
  auto m = c.to(t.device(), t.scalar_type());
  // rgb[:, i] = sum_j m[i, j] t[:, j]
  auto moved = t.movedim(1, -1);
  return torch::matmul(moved, m.t()).movedim(-1, 1);
}

Parameterization::Parameterization(std::vector<int64_t> shape,
                                   ParamKind kind, bool decorrelate,
                                   Squash squash, Tensor lo, Tensor hi,
                                   double init_std,
                                   torch::Generator generator,
                                   torch::Device device)
    : shape_(std::move(shape)),
      kind_(kind),
      decorrelate_(decorrelate && shape_.size() == 4 && shape_[1] == 3),
      squash_(squash) {
  if (kind_ == ParamKind::kFourier && shape_.size() != 4) {
    throw InvalidArgument(
        "invalid param: fft (needs image inputs [channels, height, "
        "width]; use pixel)");
  }
  std::vector<int64_t> init = shape_;
  if (kind_ == ParamKind::kFourier) {
    init.back() = shape_[3] / 2 + 1;
    init.push_back(2);
  }
  auto cpu = torch::TensorOptions().dtype(torch::kFloat32);
  param_ = (torch::randn(init, generator, cpu) * init_std).to(device);
  param_.set_requires_grad(true);
  lo_ = lo.to(device, torch::kFloat32).unsqueeze(0);
  hi_ = hi.to(device, torch::kFloat32).unsqueeze(0);
}

Tensor Parameterization::input() const {
  Tensor t = kind_ == ParamKind::kFourier
                 ? fourier_image(param_, shape_[2], shape_[3])
                 : param_;
  if (decorrelate_) t = decorrelate_colour(t);
  switch (squash_) {
    case Squash::kSigmoid:
      return lo_ + (hi_ - lo_) * torch::sigmoid(t);
    case Squash::kClip:
      return torch::max(torch::min(t, hi_), lo_);
    case Squash::kNone:
      break;
  }
  return t;
}

}  // namespace xai
