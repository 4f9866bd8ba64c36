#include <stb_image_write.h>

#include <algorithm>

#include "xai/error.h"
#include "xai/visualize/visualize.h"

namespace xai {

std::string png_grid(const torch::Tensor& images, int64_t columns, double lo,
                     double hi) {
  if (images.dim() != 4 || columns < 1) {
    throw InvalidArgument("cannot draw images: expected [n, channels, h, w]");
  }
  torch::Tensor x = images.detach().to(torch::kCPU, torch::kFloat64);
  if (x.size(1) != 1 && x.size(1) != 3) x = x.mean(1, true);
  x = ((x - lo) / (hi - lo)).clamp(0, 1);
  int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  int64_t cols = std::min(columns, n), rows = (n + cols - 1) / cols;
  int64_t gap = n > 1 ? 2 : 0;
  int64_t width = cols * w + (cols - 1) * gap;
  int64_t height = rows * h + (rows - 1) * gap;
  std::vector<unsigned char> pixels(width * height * c, 255);
  auto a = x.accessor<double, 4>();
  for (int64_t i = 0; i < n; ++i) {
    int64_t oy = (i / cols) * (h + gap), ox = (i % cols) * (w + gap);
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t xx = 0; xx < w; ++xx) {
        for (int64_t k = 0; k < c; ++k) {
          pixels[((oy + y) * width + ox + xx) * c + k] =
              static_cast<unsigned char>(a[i][k][y][xx] * 255.0 + 0.5);
        }
      }
    }
  }
  std::string bytes;
  auto sink = [](void* ctx, void* data, int size) {
    static_cast<std::string*>(ctx)->append(static_cast<char*>(data), size);
  };
  if (!stbi_write_png_to_func(sink, &bytes, width, height, c, pixels.data(),
                              width * c)) {
    throw InvalidArgument("cannot encode PNG");
  }
  return bytes;
}

}  // namespace xai
