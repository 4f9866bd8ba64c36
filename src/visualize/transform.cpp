#include "xai/visualize/transform.h"

#include <cmath>
#include <sstream>

#include "xai/error.h"

namespace xai {

using torch::Tensor;
namespace F = torch::nn::functional;

std::string to_string(const TransformOptions& o) {
  if (!o.enabled) return "none";
  std::ostringstream out;
  out << "pad(" << o.pad << ", " << o.pad_value << ") jitter(" << o.jitter
      << ") scale(" << o.scales.size() << " factors) rotate("
      << o.angles.size() << " angles) jitter(" << o.jitter2 << ")";
  return out.str();
}

Tensor pad_image(const Tensor& x, int64_t p, double value) {
  if (p <= 0) return x;
  return torch::constant_pad_nd(x, {p, p, p, p}, value);
}

Tensor jitter_image(const Tensor& x, int64_t d, int64_t dy, int64_t dx) {
  if (d <= 0) return x;
  int64_t h = x.size(2) - d, w = x.size(3) - d;
  return x.slice(2, dy, dy + h).slice(3, dx, dx + w);
}

Tensor scale_image(const Tensor& x, double factor) {
  if (factor == 1.0) return x;
  int64_t h = std::max<int64_t>(1, std::lround(x.size(2) * factor));
  int64_t w = std::max<int64_t>(1, std::lround(x.size(3) * factor));
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{h, w})
                               .mode(torch::kBilinear)
                               .align_corners(false));
}

Tensor rotate_image(const Tensor& x, double degrees) {
  if (degrees == 0.0) return x;
  double a = degrees * M_PI / 180.0;
  double c = std::cos(a), s = std::sin(a);
  auto theta = torch::tensor({c, -s, 0.0, s, c, 0.0}, x.options())
                   .reshape({1, 2, 3})
                   .expand({x.size(0), 2, 3});
  auto grid = F::affine_grid(theta, x.sizes(), /*align_corners=*/false);
  return F::grid_sample(x, grid, F::GridSampleFuncOptions()
                                     .mode(torch::kBilinear)
                                     .padding_mode(torch::kBorder)
                                     .align_corners(false));
}

Tensor fit_image(const Tensor& x, int64_t h, int64_t w, double value) {
  Tensor y = x;
  int64_t dh = y.size(2) - h, dw = y.size(3) - w;
  if (dh > 0) y = y.slice(2, dh / 2, dh / 2 + h);
  if (dw > 0) y = y.slice(3, dw / 2, dw / 2 + w);
  if (dh < 0 || dw < 0) {
    int64_t ph = std::max<int64_t>(0, -dh), pw = std::max<int64_t>(0, -dw);
    y = torch::constant_pad_nd(
        y, {pw / 2, pw - pw / 2, ph / 2, ph - ph / 2}, value);
  }
  return y;
}

namespace {

int64_t scaled(int64_t value, int64_t lucid, int64_t height) {
  if (value >= 0) return value;
  return std::max<int64_t>(1, std::lround(lucid * height / 224.0));
}

template <typename T>
T pick(const std::vector<T>& values, std::mt19937_64& rng) {
  if (values.empty()) return T(1);
  std::uniform_int_distribution<size_t> d(0, values.size() - 1);
  return values[d(rng)];
}

int64_t uniform(int64_t hi, std::mt19937_64& rng) {
  if (hi <= 0) return 0;
  return std::uniform_int_distribution<int64_t>(0, hi)(rng);
}

}  // namespace

Tensor random_transform(const Tensor& x, const TransformOptions& o,
                        std::mt19937_64& rng) {
  if (!o.enabled) return x;
  int64_t h = x.size(2), w = x.size(3);
  int64_t p = scaled(o.pad, 12, h);
  int64_t j1 = scaled(o.jitter, 8, h);
  int64_t j2 = scaled(o.jitter2, 4, h);

  Tensor y = pad_image(x, p, o.pad_value);
  y = jitter_image(y, j1, uniform(j1, rng), uniform(j1, rng));
  double factor = o.scales.empty() ? 1.0 : pick(o.scales, rng);
  y = scale_image(y, factor);
  double angle = o.angles.empty() ? 0.0 : pick(o.angles, rng);
  y = rotate_image(y, angle);
  y = jitter_image(y, j2, uniform(j2, rng), uniform(j2, rng));
  return fit_image(y, h, w, o.pad_value);
}

}  // namespace xai
