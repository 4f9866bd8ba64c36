#include "attribution/graph_rules.h"

#include <spdlog/spdlog.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/freeze_module.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/csrc/jit/passes/remove_mutation.h>

#include <ATen/Parallel.h>

#include <atomic>
#include <cmath>
#include <functional>
#include <sstream>
#include <unordered_set>

#include "xai/error.h"

namespace xai::detail {
namespace {

using torch::IValue;
using torch::Tensor;
using torch::jit::Block;
using torch::jit::Node;
using torch::jit::Value;
using Stack = std::vector<IValue>;
using Fn = std::function<Tensor(const Tensor&)>;

// ---------------------------------------------------------------------------
// Pair arithmetic. Every tensor on the input's path holds inputs in its first
// half and their references in its second half along dimension 0 (reshapes
// that merge the batch with other dimensions keep this true).

std::pair<Tensor, Tensor> halves(const Tensor& t) {
  auto parts = t.chunk(2, 0);
  return {parts[0], parts[1]};
}

Tensor twice(const Tensor& t) { return torch::cat({t, t}, 0); }

// The mean of input and reference, for both halves.
Tensor pair_mean(const Tensor& t) {
  auto [a, b] = halves(t.detach());
  return twice((a + b) * 0.5);
}

// grad * m on the inputs' half; zeros on the references' half, whose
// gradient is never used (and is zero: no row reaches another).
Tensor input_half_product(const Tensor& grad, const Tensor& m) {
  Tensor g = grad.expand(m.sizes());
  Tensor out = torch::empty(m.sizes(), m.options());
  int64_t n = m.size(0) / 2;
  Tensor head = out.narrow(0, 0, n);
  torch::mul_out(head, g.narrow(0, 0, n), m.narrow(0, 0, n));
  out.narrow(0, n, m.size(0) - n).zero_();
  return out;
}

// Returns `value` (same shape as x) in the forward pass; in the backward
// pass, the gradient with respect to x is the incoming one times
// `multiplier`. One saved tensor, no extra forward arithmetic.
struct MultiplierFn : public torch::autograd::Function<MultiplierFn> {
  static Tensor forward(torch::autograd::AutogradContext* ctx,
                        const Tensor& x, const Tensor& value,
                        const Tensor& multiplier) {
    ctx->save_for_backward({multiplier});
    return value;
  }
  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grad) {
    Tensor m = ctx->get_saved_variables()[0];
    return {input_half_product(grad[0], m), Tensor(), Tensor()};
  }
};

// `value`, with gradient `multiplier` with respect to `x`.
Tensor with_multiplier(const Tensor& value, const Tensor& multiplier,
                       const Tensor& x) {
  if (!x.requires_grad()) return value.detach();
  return MultiplierFn::apply(x, value.detach(), multiplier.detach());
}

// d f(x) / dx for an elementwise f, at x (no graph kept).
Tensor elementwise_grad(const Fn& f, const Tensor& x) {
  torch::AutoGradMode on(true);
  Tensor leaf = x.detach().requires_grad_(true);
  return torch::autograd::grad({f(leaf).sum()}, {leaf})[0];
}

// ---------------------------------------------------------------------------
// Rules. Each returns a tensor equal in value to the op's output whose
// gradient is the DeepLIFT multiplier, and each preserves completeness.

// Rescale rule for y = f(x) elementwise: multiplier Δy / Δx, or f'(x) where
// |Δx| <= eps (there Δy is O(eps) and the quotient is noise).
bool cpu_float(const Tensor& t) {
  return t.device().is_cpu() && t.scalar_type() == torch::kFloat32;
}

// The rescale multiplier Δy / Δx for both halves in one pass over CPU
// float32 data; NaN marks |Δx| <= eps. Returns whether any NaN was written.
bool rescale_multiplier_cpu(const Tensor& x, const Tensor& y, double eps,
                            bool relu, Tensor& m) {
  Tensor xc = x.detach().contiguous();
  Tensor yc = y.detach().contiguous();
  m = torch::empty_like(xc);
  const float* px = xc.data_ptr<float>();
  const float* py = yc.data_ptr<float>();
  float* pm = m.data_ptr<float>();
  int64_t half = xc.numel() / 2;
  std::atomic<bool> small{false};
  at::parallel_for(0, half, 8192, [&](int64_t begin, int64_t end) {
    bool local = false;
    for (int64_t i = begin; i < end; ++i) {
      float dx = px[i] - px[i + half];
      float v = std::abs(dx) > eps ? (py[i] - py[i + half]) / dx
                : relu                ? (px[i] > 0 ? 1.0f : 0.0f)
                                      : NAN;
      local |= std::isnan(v);
      pm[i] = v;
      pm[i + half] = v;
    }
    if (local) small = true;
  });
  return small;
}

// `relu` says f is relu, whose gradient the CPU kernel knows.
Tensor rescale(const Tensor& x_in, const Tensor& y, const Fn& f, double eps,
               bool relu = false) {
  Tensor x = x_in.sizes() == y.sizes() ? x_in : x_in.expand(y.sizes());
  if (cpu_float(x) && cpu_float(y) && x.requires_grad()) {
    Tensor m;
    if (rescale_multiplier_cpu(x, y, eps, relu, m)) {
      Tensor g = twice(elementwise_grad(f, halves(x.detach()).first));
      m = torch::where(torch::isnan(m), g, m);
    }
    return with_multiplier(y, m, x);
  }
  auto [xi, xr] = halves(x.detach());
  auto [yi, yr] = halves(y.detach());
  Tensor dx = xi - xr;
  Tensor small = dx.abs() <= eps;
  Tensor m = (yi - yr) / torch::where(small, torch::ones_like(dx), dx);
  if (small.any().item<bool>()) {
    m = torch::where(small, elementwise_grad(f, xi), m);
  }
  return with_multiplier(y, twice(m), x);
}

// relu and its rescale multiplier in one pass (CPU float32).
Tensor relu_rescale_cpu(const Tensor& x, double eps) {
  Tensor xc = x.detach().contiguous();
  Tensor y = torch::empty_like(xc), m = torch::empty_like(xc);
  const float* px = xc.data_ptr<float>();
  float* py = y.data_ptr<float>();
  float* pm = m.data_ptr<float>();
  int64_t half = xc.numel() / 2;
  at::parallel_for(0, half, 8192, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      float a = px[i], b = px[i + half];
      float ya = std::max(a, 0.0f), yb = std::max(b, 0.0f);
      float dx = a - b;
      float v = std::abs(dx) > eps ? (ya - yb) / dx : (a > 0 ? 1.0f : 0.0f);
      py[i] = ya;
      py[i + half] = yb;
      pm[i] = pm[i + half] = v;
    }
  });
  return with_multiplier(y, m, x);
}

Tensor relu_rule(const Tensor& x, double eps) {
  if (cpu_float(x) && x.requires_grad()) return relu_rescale_cpu(x, eps);
  return rescale(x, torch::relu(x.detach()),
                 [](const Tensor& t) { return torch::relu(t); }, eps, true);
}

// a * b with both factors on the input's path: the change splits between
// the factors as the two-player Shapley value does,
// Δ(ab) = Δa (b + b') / 2 + (a + a') / 2 Δb.
Tensor product_rule(const Tensor& a, const Tensor& b) {
  Tensor y = a.detach() * b.detach();
  return y + (a - a.detach()) * pair_mean(b) + pair_mean(a) * (b - b.detach());
}

// a / b, both on the path: Shapley split of Δ(a / b); the multiplier of b,
// -(a + a') / (2 b b'), needs no division by Δb.
Tensor quotient_rule(const Tensor& a, const Tensor& b) {
  Tensor y = a.detach() / b.detach();
  auto [bi, br] = halves(b.detach());
  Tensor ma = twice((bi.reciprocal() + br.reciprocal()) * 0.5);
  Tensor mb = -pair_mean(a) / twice(bi * br);
  return y + ma * (a - a.detach()) + mb * (b - b.detach());
}

// matmul / mm / bmm of two tensors on the path (bilinear, like a product).
Tensor matmul_rule(const Tensor& a, const Tensor& b) {
  Tensor y = torch::matmul(a.detach(), b.detach());
  return y + torch::matmul(a - a.detach(), pair_mean(b)) +
         torch::matmul(pair_mean(a), b - b.detach());
}

// log_softmax as (z - c) - log Σ exp(z - c) with one shift c per pair (the
// larger of the two maxima), so the shift cancels between input and
// reference and completeness holds through the exp and log rules.
Tensor log_softmax_rule(const Tensor& z, int64_t dim, double eps) {
  Tensor c = std::get<0>(z.detach().max(dim, /*keepdim=*/true));
  auto [ci, cr] = halves(c);
  Tensor shifted = z - twice(torch::maximum(ci, cr));
  Tensor u = rescale(shifted, shifted.detach().exp(),
                     [](const Tensor& t) { return t.exp(); }, eps);
  Tensor s = u.sum(dim, /*keepdim=*/true);
  return shifted - rescale(s, s.detach().log(),
                           [](const Tensor& t) { return t.log(); }, eps);
}

// softmax = exp(log_softmax). Splitting exp(z) / Σ exp(z) as a quotient
// instead would hand numerator and denominator huge contributions of
// opposite sign whenever the two sums differ by orders of magnitude.
Tensor softmax_rule(const Tensor& z, int64_t dim, double eps) {
  Tensor log_p = log_softmax_rule(z, dim, eps);
  return rescale(log_p, log_p.detach().exp(),
                 [](const Tensor& t) { return t.exp(); }, eps);
}

// Max over the last dimension as a chain m <- m + relu(w_j - m): exact in
// value, and the relu rule splits the change of the maximum among the
// window's elements.
// Forward: the window maxima; backward: the incoming gradient spread over
// each window's elements with the chain's multipliers.
struct WindowFn : public torch::autograd::Function<WindowFn> {
  static Tensor forward(torch::autograd::AutogradContext* ctx,
                        const Tensor& windows, const Tensor& value,
                        const Tensor& multipliers) {
    ctx->save_for_backward({multipliers});
    return value;
  }
  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grad) {
    Tensor m = ctx->get_saved_variables()[0];
    return {grad[0].unsqueeze(-1) * m, Tensor(), Tensor()};
  }
};

// The chain's multipliers for every window in one pass (CPU, float32). With
// r_j the relu rule's multiplier at step j, the maximum's change is
// Σ_k M_k Δw_k with M_k = r_k Π_{j>k} (1 - r_j) and M_0 = Π_{j>0} (1 - r_j).
Tensor chain_max_cpu(const Tensor& windows, double eps) {
  Tensor w = windows.detach().contiguous();
  Tensor mult = torch::empty_like(w);
  int64_t k = w.size(-1);
  int64_t half = w.numel() / k / 2;
  const float* pw = w.data_ptr<float>();
  float* pm = mult.data_ptr<float>();
  at::parallel_for(0, half, 512, [&](int64_t begin, int64_t end) {
    std::vector<float> r(k);
    for (int64_t p = begin; p < end; ++p) {
      const float* a = pw + p * k;
      const float* b = pw + (p + half) * k;
      float ma = a[0], mb = b[0];
      for (int64_t j = 1; j < k; ++j) {
        float da = a[j] - ma, db = b[j] - mb;
        float ra = std::max(da, 0.0f), rb = std::max(db, 0.0f);
        float dd = da - db;
        r[j] = std::abs(dd) > eps ? (ra - rb) / dd : (da > 0 ? 1.0f : 0.0f);
        ma += ra;
        mb += rb;
      }
      float coef = 1.0f;
      for (int64_t j = k - 1; j >= 1; --j) {
        pm[p * k + j] = pm[(p + half) * k + j] = coef * r[j];
        coef *= 1.0f - r[j];
      }
      pm[p * k] = pm[(p + half) * k] = coef;
    }
  });
  Tensor value = std::get<0>(w.max(-1));
  if (!windows.requires_grad()) return value;
  return WindowFn::apply(windows, value, mult);
}

Tensor chain_max(const Tensor& windows, double eps) {
  if (cpu_float(windows)) return chain_max_cpu(windows, eps);
  Tensor m = windows.select(-1, 0);
  for (int64_t j = 1; j < windows.size(-1); ++j) {
    m = m + relu_rule(windows.select(-1, j) - m, eps);
  }
  return m;
}

// Backward of the 2-d tiled kernel below: each input position receives the
// gradient of its window's output times its own multiplier (CPU float32).
struct TiledPool2dFn : public torch::autograd::Function<TiledPool2dFn> {
  static Tensor forward(torch::autograd::AutogradContext* ctx,
                        const Tensor& x, const Tensor& value,
                        const Tensor& multipliers) {
    ctx->save_for_backward({multipliers});
    return value;
  }
  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grad) {
    Tensor m = ctx->get_saved_variables()[0];  // x's shape, contiguous
    Tensor g = grad[0].contiguous();
    int64_t oh = g.size(-2), ow = g.size(-1);
    int64_t h = m.size(-2), w = m.size(-1), kh = h / oh, kw = w / ow;
    Tensor out = torch::empty_like(m);
    const float* pg = g.data_ptr<float>();
    const float* pm = m.data_ptr<float>();
    float* po = out.data_ptr<float>();
    int64_t rows = m.numel() / w;  // (plane, y) pairs; inputs' half first
    at::parallel_for(0, rows / 2, 64, [&](int64_t begin, int64_t end) {
      for (int64_t row = begin; row < end; ++row) {
        int64_t plane = row / h, y = row % h;
        const float* grow = pg + (plane * oh + y / kh) * ow;
        const float* mrow = pm + row * w;
        float* orow = po + row * w;
        for (int64_t j = 0; j < ow; ++j) {
          for (int64_t e = 0; e < kw; ++e) {
            orow[j * kw + e] = grow[j] * mrow[j * kw + e];
          }
        }
      }
    });
    out.view(-1).narrow(0, rows / 2 * w, (rows - rows / 2) * w).zero_();
    return {out, Tensor(), Tensor()};
  }
};

// Tiled 2-d max pooling of CPU float32 x [..., H, W] (H, W multiples of the
// kernel) in one pass: window maxima and the chain's multipliers laid out
// like x, with no window tensor in between.
Tensor tiled_max_pool2d_cpu(const Tensor& x, int64_t kh, int64_t kw,
                            double eps) {
  Tensor xc = x.detach().contiguous();
  int64_t h = x.size(-2), w = x.size(-1), oh = h / kh, ow = w / kw;
  int64_t planes = xc.numel() / (h * w), half = planes / 2, k = kh * kw;
  std::vector<int64_t> out_shape(x.sizes().begin(), x.sizes().end() - 2);
  out_shape.insert(out_shape.end(), {oh, ow});
  Tensor value = torch::empty(out_shape, xc.options());
  Tensor mult = torch::empty_like(xc);
  const float* px = xc.data_ptr<float>();
  float* pv = value.data_ptr<float>();
  float* pm = mult.data_ptr<float>();
  at::parallel_for(0, half * oh, 16, [&](int64_t begin, int64_t end) {
    std::vector<float> a(k), b(k), r(k), mk(k);
    for (int64_t job = begin; job < end; ++job) {
      int64_t plane = job / oh, i = job % oh;
      for (int64_t j = 0; j < ow; ++j) {
        auto at = [&](int64_t p, int64_t e) {
          return (p * h + i * kh + e / kw) * w + j * kw + e % kw;
        };
        for (int64_t e = 0; e < k; ++e) {
          a[e] = px[at(plane, e)];
          b[e] = px[at(plane + half, e)];
        }
        float ma = a[0], mb = b[0];
        for (int64_t e = 1; e < k; ++e) {
          float da = a[e] - ma, db = b[e] - mb;
          float ra = std::max(da, 0.0f), rb = std::max(db, 0.0f);
          float dd = da - db;
          r[e] = std::abs(dd) > eps ? (ra - rb) / dd : (da > 0 ? 1.0f : 0.0f);
          ma = std::max(ma, a[e]);
          mb = std::max(mb, b[e]);
        }
        float coef = 1.0f;
        for (int64_t e = k - 1; e >= 1; --e) {
          mk[e] = coef * r[e];
          coef *= 1.0f - r[e];
        }
        mk[0] = coef;
        for (int64_t e = 0; e < k; ++e) {
          pm[at(plane, e)] = pm[at(plane + half, e)] = mk[e];
        }
        pv[(plane * oh + i) * ow + j] = ma;
        pv[((plane + half) * oh + i) * ow + j] = mb;
      }
    }
  });
  if (!x.requires_grad()) return value;
  return TiledPool2dFn::apply(x, value, mult);
}

// Non-overlapping windows (stride = kernel, no padding or dilation): the
// windows come from a reshape, whose backward is far cheaper than unfold's.
Tensor tiled_max_pool_rule(const Tensor& x, const std::vector<int64_t>& k,
                           double eps) {
  int64_t s = k.size();
  int64_t lead = x.dim() - s;
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().begin() + lead);
  std::vector<int64_t> perm(lead), out_shape = shape;
  for (int64_t i = 0; i < lead; ++i) perm[i] = i;
  Tensor w = x;
  if (s == 2 && cpu_float(x) && x.dim() >= 3) {
    int64_t h = x.size(-2) / k[0] * k[0], wd = x.size(-1) / k[1] * k[1];
    if (h != x.size(-2)) w = w.narrow(-2, 0, h);
    if (wd != x.size(-1)) w = w.narrow(-1, 0, wd);
    return tiled_max_pool2d_cpu(w, k[0], k[1], eps);
  }
  for (int64_t i = 0; i < s; ++i) {
    int64_t out = x.size(lead + i) / k[i];
    if (out * k[i] != x.size(lead + i)) w = w.narrow(lead + i, 0, out * k[i]);
    shape.push_back(out);
    shape.push_back(k[i]);
    out_shape.push_back(out);
  }
  for (int64_t i = 0; i < s; ++i) perm.push_back(lead + 2 * i);
  for (int64_t i = 0; i < s; ++i) perm.push_back(lead + 2 * i + 1);
  out_shape.push_back(-1);
  return chain_max(w.reshape(shape).permute(perm).reshape(out_shape), eps);
}

// Max pooling over the last kernel.size() dims of x.
Tensor max_pool_rule(const Tensor& x, std::vector<int64_t> kernel,
                     std::vector<int64_t> stride, std::vector<int64_t> pad,
                     std::vector<int64_t> dilation, bool ceil_mode,
                     double eps) {
  size_t s = kernel.size();
  auto fill = [s](std::vector<int64_t>& v, int64_t dflt) {
    if (v.empty()) v.assign(s, dflt);
    if (v.size() == 1) v.assign(s, v[0]);
  };
  fill(stride, 0);
  fill(pad, 0);
  fill(dilation, 1);
  for (size_t i = 0; i < s; ++i) {
    if (stride[i] == 0) stride[i] = kernel[i];
  }
  // Padding: a constant below every value, so it never wins and carries no
  // difference between input and reference.
  std::vector<int64_t> pads(2 * s, 0);
  for (size_t i = 0; i < s; ++i) {
    int64_t d = x.dim() - s + i;
    int64_t span = dilation[i] * (kernel[i] - 1) + 1;
    int64_t room = x.size(d) + 2 * pad[i] - span;
    int64_t out = (ceil_mode ? (room + stride[i] - 1) / stride[i]
                             : room / stride[i]) + 1;
    if (ceil_mode && (out - 1) * stride[i] >= x.size(d) + pad[i]) --out;
    int64_t right = std::max<int64_t>(
        pad[i], (out - 1) * stride[i] + span - x.size(d) - pad[i]);
    pads[2 * (s - 1 - i)] = pad[i];
    pads[2 * (s - 1 - i) + 1] = right;
  }
  bool padded = std::any_of(pads.begin(), pads.end(),
                            [](int64_t p) { return p != 0; });
  bool tiled = !padded;
  for (size_t i = 0; i < s; ++i) {
    tiled &= dilation[i] == 1 && stride[i] == kernel[i];
  }
  if (tiled) return tiled_max_pool_rule(x, kernel, eps);
  Tensor w = x;
  if (padded) {
    Tensor low = x.detach().min() - 1;
    w = torch::constant_pad_nd(x, pads, low.item<double>());
  }
  for (size_t i = 0; i < s; ++i) {
    int64_t d = x.dim() - s + i;
    int64_t span = dilation[i] * (kernel[i] - 1) + 1;
    w = w.unfold(d, span, stride[i]);
    if (dilation[i] > 1) w = w.slice(-1, 0, span, dilation[i]);
  }
  // w: [..., out_1..out_s, k_1..k_s]
  return chain_max(w.flatten(-static_cast<int64_t>(s)), eps);
}

Tensor adaptive_max_pool_rule(const Tensor& x, std::vector<int64_t> out,
                              double eps) {
  int64_t s = out.size();
  std::vector<int64_t> sizes(x.sizes().end() - s, x.sizes().end());
  bool regular = true;
  for (int64_t i = 0; i < s; ++i) regular &= sizes[i] % out[i] == 0;
  if (regular) {
    std::vector<int64_t> k(s);
    for (int64_t i = 0; i < s; ++i) k[i] = sizes[i] / out[i];
    return max_pool_rule(x, k, k, {0}, {1}, false, eps);
  }
  // Uneven windows, as adaptive pooling defines them:
  // [floor(i L / o), ceil((i + 1) L / o)).
  std::vector<Tensor> cells;
  std::vector<int64_t> idx(s, 0);
  while (true) {
    Tensor win = x;
    for (int64_t i = 0; i < s; ++i) {
      int64_t d = x.dim() - s + i;
      int64_t lo = idx[i] * sizes[i] / out[i];
      int64_t hi = ((idx[i] + 1) * sizes[i] + out[i] - 1) / out[i];
      win = win.narrow(d, lo, hi - lo);
    }
    cells.push_back(chain_max(win.flatten(-s), eps));
    int64_t i = s - 1;
    while (i >= 0 && ++idx[i] == out[i]) idx[i--] = 0;
    if (i < 0) break;
  }
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end() - s);
  shape.insert(shape.end(), out.begin(), out.end());
  return torch::stack(cells, -1).view(shape);
}

// (x - mean) / sqrt(var + eps) over `dims`, from rules only, so that
// completeness holds through the statistics computed from x itself.
Tensor normalize_rule(const Tensor& x, std::vector<int64_t> dims,
                      double norm_eps, double eps) {
  Tensor centred = x - x.mean(dims, /*keepdim=*/true);
  Tensor var = product_rule(centred, centred).mean(dims, /*keepdim=*/true);
  Tensor shifted = var + norm_eps;
  Tensor inv = rescale(shifted, shifted.detach().rsqrt(),
                       [](const Tensor& t) { return t.rsqrt(); }, eps);
  return product_rule(centred, inv);
}

Tensor affine(Tensor y, const IValue& weight, const IValue& bias,
              int64_t channel_dim) {
  auto shaped = [&](const Tensor& p) {
    if (channel_dim < 0) return p;  // trailing dims: broadcasts as is
    std::vector<int64_t> shape(y.dim(), 1);
    shape[channel_dim] = p.numel();
    return p.view(shape);
  };
  if (weight.isTensor()) y = y * shaped(weight.toTensor());
  if (bias.isTensor()) y = y + shaped(bias.toTensor());
  return y;
}

// ---------------------------------------------------------------------------
// Op tables.

const std::unordered_set<std::string>& linear_ops() {
  static const std::unordered_set<std::string> ops = {
      "aten::linear", "aten::conv1d", "aten::conv2d", "aten::conv3d",
      "aten::conv_transpose1d", "aten::conv_transpose2d",
      "aten::conv_transpose3d", "aten::_convolution", "aten::convolution",
      "aten::avg_pool1d", "aten::avg_pool2d", "aten::avg_pool3d",
      "aten::adaptive_avg_pool1d", "aten::adaptive_avg_pool2d",
      "aten::adaptive_avg_pool3d", "aten::add", "aten::add_", "aten::sub",
      "aten::sub_", "aten::rsub", "aten::neg", "aten::cat", "aten::concat",
      "aten::stack", "aten::reshape", "aten::view", "aten::view_as",
      "aten::flatten", "aten::unflatten", "aten::squeeze", "aten::unsqueeze",
      "aten::permute", "aten::transpose", "aten::t", "aten::contiguous",
      "aten::slice", "aten::select", "aten::index_select", "aten::narrow",
      "aten::chunk", "aten::split", "aten::split_with_sizes", "aten::unbind",
      "aten::expand", "aten::expand_as", "aten::repeat", "aten::mean",
      "aten::sum", "aten::clone", "aten::to", "aten::type_as",
      "aten::constant_pad_nd", "aten::pad", "aten::zeros_like",
      "aten::ones_like", "aten::full_like", "aten::upsample_nearest1d",
      "aten::upsample_nearest2d", "aten::upsample_nearest3d",
      "aten::upsample_bilinear2d", "aten::upsample_linear1d",
      "aten::pixel_shuffle", "aten::pixel_unshuffle", "aten::roll",
      "aten::flip", "aten::__getitem__", "aten::embedding", "aten::float",
      "aten::batch_norm", "aten::instance_norm", "aten::unfold",
      "aten::movedim", "aten::swapaxes", "aten::tile", "aten::masked_fill",
      "prim::ConstantChunk", "prim::ListConstruct", "prim::ListUnpack",
      "prim::TupleConstruct", "prim::TupleUnpack", "prim::TupleIndex",
      "prim::unchecked_cast", "prim::If", "prim::Loop",
  };
  return ops;
}

// Ops whose outputs carry no gradient (shapes, comparisons, indices).
const std::unordered_set<std::string>& no_gradient_ops() {
  static const std::unordered_set<std::string> ops = {
      "aten::size", "aten::dim", "aten::numel", "aten::len", "aten::Int",
      "aten::Float", "aten::Bool", "prim::device", "prim::dtype",
      "prim::shape", "aten::gt", "aten::lt", "aten::ge", "aten::le",
      "aten::eq", "aten::ne", "aten::argmax", "aten::argmin",
      "aten::isnan", "aten::isfinite", "aten::__is__", "aten::__isnot__",
      "aten::format", "prim::RaiseException", "prim::Print", "aten::warn",
      "prim::NumToTensor", "aten::item", "aten::is_floating_point",
  };
  return ops;
}

// Single-input elementwise nonlinearities: the rescale rule.
const std::unordered_set<std::string>& elementwise_ops() {
  static const std::unordered_set<std::string> ops = {
      "aten::relu", "aten::relu_", "aten::leaky_relu", "aten::leaky_relu_",
      "aten::elu", "aten::elu_", "aten::selu", "aten::selu_", "aten::celu",
      "aten::celu_", "aten::gelu", "aten::gelu_", "aten::silu",
      "aten::silu_", "aten::sigmoid", "aten::sigmoid_", "aten::tanh",
      "aten::tanh_", "aten::softplus", "aten::exp", "aten::exp_",
      "aten::log", "aten::log_", "aten::log1p", "aten::hardtanh",
      "aten::hardtanh_", "aten::relu6", "aten::hardsigmoid",
      "aten::hardswish", "aten::mish", "aten::log_sigmoid", "aten::sqrt",
      "aten::rsqrt", "aten::reciprocal", "aten::square", "aten::pow",
      "aten::abs", "aten::clamp", "aten::clamp_", "aten::clamp_min",
      "aten::clamp_max", "aten::threshold", "aten::sin", "aten::cos",
      "aten::erf", "aten::div", "aten::div_", "aten::softsign",
  };
  return ops;
}

// Nodes the interpreter below executes itself (LibTorch runs them as
// interpreter instructions, not operators).
bool is_structural(c10::Symbol kind) {
  return kind == c10::prim::If || kind == c10::prim::Loop ||
         kind == c10::prim::GetAttr || kind == c10::prim::ListConstruct ||
         kind == c10::prim::ListUnpack || kind == c10::prim::TupleConstruct ||
         kind == c10::prim::TupleUnpack || kind == c10::prim::TupleIndex ||
         kind == c10::prim::unchecked_cast || kind == c10::prim::Uninitialized;
}

bool is_inplace(const std::string& op) {
  return !op.empty() && op.back() == '_' && op.find("__") == std::string::npos;
}

bool is_tensor_like(const Value* v) {
  auto kind = v->type()->kind();
  return kind == c10::TypeKind::TensorType ||
         kind == c10::TypeKind::ListType || kind == c10::TypeKind::TupleType ||
         kind == c10::TypeKind::OptionalType;
}

std::string location_of(const Node* n) {
  auto range = n->sourceRange();
  if (!range.source()) return "<unknown>";
  auto original = range.findSourceRangeThatGenerated();
  if (original) range = *original;
  if (auto flc = range.file_line_col()) {
    return std::get<0>(*flc) + ":" + std::to_string(std::get<1>(*flc));
  }
  std::string text = range.text().str();
  text = text.substr(0, text.find('\n'));
  return text.empty() ? std::string("<unknown>") : "'" + text + "'";
}

// The op a rule replaces; the rule sees the op's inputs (with the one on
// the path named by `arg`) and its original outputs.
enum class RuleKind {
  kRescale, kProduct, kQuotient, kMatmul, kSoftmax, kLogSoftmax, kMaxPool,
  kAdaptiveMaxPool, kLayerNorm, kGroupNorm, kInstanceNorm,
};

struct NodeRule {
  RuleKind kind;
  size_t arg = 0;  // the input on the path, for kRescale
};

const char* rule_name(RuleKind kind) {
  switch (kind) {
    case RuleKind::kRescale: return "rule: rescale";
    case RuleKind::kProduct: return "rule: product (Shapley split)";
    case RuleKind::kQuotient: return "rule: quotient (Shapley split)";
    case RuleKind::kMatmul: return "rule: matmul (Shapley split)";
    case RuleKind::kSoftmax: return "rule: softmax (shifted exp / sum)";
    case RuleKind::kLogSoftmax: return "rule: log_softmax";
    case RuleKind::kMaxPool: return "rule: max pool (relu chain)";
    case RuleKind::kAdaptiveMaxPool: return "rule: max pool (relu chain)";
    case RuleKind::kLayerNorm: return "rule: layer norm (decomposed)";
    case RuleKind::kGroupNorm: return "rule: group norm (decomposed)";
    case RuleKind::kInstanceNorm: return "rule: instance norm (decomposed)";
  }
  return "rule";
}

}  // namespace

// ---------------------------------------------------------------------------

struct DeepLiftGraph::Impl {
  torch::jit::Module frozen;
  std::shared_ptr<torch::jit::Graph> graph;
  double eps = 1e-6;
  std::unordered_set<const Value*> on_path;
  mutable std::unordered_map<const Node*, torch::jit::Operation> ops;
  std::unordered_map<const Node*, NodeRule> rules;
  std::unordered_map<const Value*, IValue> constants;

  using Env = std::unordered_map<const Value*, IValue>;

  void analyse(Block* block, std::vector<OpTreatment>& out);
  void classify(Node* n, std::vector<OpTreatment>& out);
  void run_block(const Block* block, Env& env) const;
  void run_node(const Node* n, Env& env) const;
  bool run_structural(const Node* n, Env& env) const;
  Stack apply_rule(const Node* n, const NodeRule& rule, Stack inputs) const;
  Stack run_op(const Node* n, Stack stack) const {
    ops.find(n)->second(stack);
    return stack;
  }
};

void DeepLiftGraph::Impl::analyse(Block* block,
                                  std::vector<OpTreatment>& out) {
  for (Node* n : block->nodes()) {
    bool dep = false;
    for (const Value* v : n->inputs()) dep |= on_path.count(v) > 0;
    if (n->kind() == c10::prim::Constant) {
      constants[n->output()] = *torch::jit::toIValue(n->output());
      continue;
    }
    for (Block* sub : n->blocks()) {
      // Conservatively: block inputs (loop counters, carried values) are
      // on the path when any input of the loop is.
      if (dep) {
        for (const Value* v : sub->inputs()) on_path.insert(v);
      }
      analyse(sub, out);
      for (const Value* v : sub->outputs()) dep |= on_path.count(v) > 0;
    }
    if (!is_structural(n->kind())) {
      if (!n->maybeOperator()) {
        throw UnsupportedModel(std::string("cannot run DeepLIFT on this "
                                           "model: op ") +
                               n->kind().toQualString() + " at " +
                               location_of(n) + " cannot be executed");
      }
      ops.emplace(n, n->getOperation());
    }
    if (!dep) continue;
    for (const Value* v : n->outputs()) on_path.insert(v);
    classify(n, out);
  }
}

void DeepLiftGraph::Impl::classify(Node* n, std::vector<OpTreatment>& out) {
  std::string op = n->kind().toQualString();
  std::vector<size_t> path_args;
  for (size_t i = 0; i < n->inputs().size(); ++i) {
    if (on_path.count(n->inputs()[i]) && is_tensor_like(n->inputs()[i])) {
      path_args.push_back(i);
    }
  }
  auto record = [&](const std::string& treatment) {
    out.push_back({op, treatment, location_of(n)});
  };
  auto add_rule = [&](RuleKind kind, size_t arg = 0) {
    rules[n] = {kind, arg};
    record(rule_name(kind));
  };
  if (no_gradient_ops().count(op) || path_args.empty()) return;

  bool two = path_args.size() >= 2;
  if (op == "aten::mul" || op == "aten::mul_") {
    return two ? add_rule(RuleKind::kProduct) : record("linear");
  }
  if (op == "aten::matmul" || op == "aten::mm" || op == "aten::bmm") {
    return two ? add_rule(RuleKind::kMatmul) : record("linear");
  }
  if ((op == "aten::div" || op == "aten::div_") && two) {
    return add_rule(RuleKind::kQuotient);
  }
  if ((op == "aten::div" || op == "aten::div_") && path_args[0] == 0) {
    return record("linear");
  }
  if (op == "aten::softmax" || op == "aten::_softmax") {
    return add_rule(RuleKind::kSoftmax);
  }
  if (op == "aten::log_softmax" || op == "aten::_log_softmax") {
    return add_rule(RuleKind::kLogSoftmax);
  }
  if (op == "aten::max_pool1d" || op == "aten::max_pool2d" ||
      op == "aten::max_pool3d" || op == "aten::max_pool1d_with_indices" ||
      op == "aten::max_pool2d_with_indices" ||
      op == "aten::max_pool3d_with_indices") {
    return add_rule(RuleKind::kMaxPool);
  }
  if (op == "aten::adaptive_max_pool1d" || op == "aten::adaptive_max_pool2d" ||
      op == "aten::adaptive_max_pool3d") {
    return add_rule(RuleKind::kAdaptiveMaxPool);
  }
  if (op == "aten::layer_norm") return add_rule(RuleKind::kLayerNorm);
  if (op == "aten::group_norm") return add_rule(RuleKind::kGroupNorm);
  if (op == "aten::instance_norm") {
    auto stats = torch::jit::toIValue(n->inputs()[5]);
    if (!stats || stats->toBool()) return add_rule(RuleKind::kInstanceNorm);
    return record("linear");
  }
  if (op == "aten::batch_norm") {
    auto training = torch::jit::toIValue(n->inputs()[5]);
    if (training && !training->toBool()) return record("linear");
  }
  if (elementwise_ops().count(op) && !two) {
    return add_rule(RuleKind::kRescale, path_args[0]);
  }
  if (linear_ops().count(op)) return record("linear");
  if (op.find("dropout") != std::string::npos) {
    // Dropout is the identity in eval mode (its last argument, `train`).
    auto training = torch::jit::toIValue(n->inputs().back());
    if (training && !training->toBool()) return record("linear");
  }
  record("unsupported");
}

DeepLiftGraph::DeepLiftGraph(const Model& model, double eps)
    : impl_(std::make_unique<Impl>()) {
  impl_->eps = eps;
  impl_->frozen = torch::jit::freeze_module(model.module());
  auto graph = impl_->frozen.get_method("forward").graph()->copy();
  torch::jit::Inline(*graph);
  torch::jit::RemoveTensorMutation(graph);
  torch::jit::EliminateDeadCode(graph);
  impl_->graph = graph;
  for (size_t i = 1; i < graph->inputs().size(); ++i) {
    impl_->on_path.insert(graph->inputs()[i]);
  }
  impl_->analyse(graph->block(), treatments_);
}

DeepLiftGraph::~DeepLiftGraph() = default;

torch::Tensor DeepLiftGraph::run(const torch::Tensor& pairs) const {
  const auto& graph = *impl_->graph;
  if (graph.inputs().size() != 2) {
    throw UnsupportedModel("cannot run DeepLIFT: forward takes " +
                           std::to_string(graph.inputs().size() - 1) +
                           " inputs; only models with one input tensor "
                           "are supported");
  }
  Impl::Env env;
  env[graph.inputs()[0]] = impl_->frozen._ivalue();
  // A copy, so that in-place ops never touch the caller's leaf tensor.
  env[graph.inputs()[1]] = pairs.clone();
  impl_->run_block(graph.block(), env);
  IValue out = env.at(graph.outputs()[0]);
  if (!out.isTensor()) {
    throw UnsupportedModel("cannot run DeepLIFT: forward does not return "
                           "one tensor");
  }
  Tensor y = out.toTensor();
  return y.dim() == 1 ? y.unsqueeze(1) : y.flatten(1);
}

void DeepLiftGraph::Impl::run_block(const Block* block, Env& env) const {
  for (const Node* n : block->nodes()) run_node(n, env);
}

void DeepLiftGraph::Impl::run_node(const Node* n, Env& env) const {
  auto kind = n->kind();
  if (kind == c10::prim::Constant) {
    env[n->output()] = constants.at(n->output());
    return;
  }
  if (kind == c10::prim::GetAttr) {
    env[n->output()] =
        env.at(n->input()).toObject()->getAttr(n->s(c10::attr::name));
    return;
  }
  if (run_structural(n, env)) return;
  if (kind == c10::prim::If) {
    const Block* taken = n->blocks()[env.at(n->input()).toBool() ? 0 : 1];
    run_block(taken, env);
    for (size_t i = 0; i < n->outputs().size(); ++i) {
      env[n->outputs()[i]] = env.at(taken->outputs()[i]);
    }
    return;
  }
  if (kind == c10::prim::Loop) {
    const Block* body = n->blocks()[0];
    int64_t trips = env.at(n->inputs()[0]).toInt();
    bool go = env.at(n->inputs()[1]).toBool();
    Stack carried;
    for (size_t i = 2; i < n->inputs().size(); ++i) {
      carried.push_back(env.at(n->inputs()[i]));
    }
    for (int64_t it = 0; it < trips && go; ++it) {
      env[body->inputs()[0]] = it;
      for (size_t i = 0; i < carried.size(); ++i) {
        env[body->inputs()[i + 1]] = carried[i];
      }
      run_block(body, env);
      go = env.at(body->outputs()[0]).toBool();
      for (size_t i = 0; i < carried.size(); ++i) {
        carried[i] = env.at(body->outputs()[i + 1]);
      }
    }
    for (size_t i = 0; i < carried.size(); ++i) {
      env[n->outputs()[i]] = carried[i];
    }
    return;
  }
  Stack stack;
  stack.reserve(n->inputs().size());
  for (const Value* v : n->inputs()) stack.push_back(env.at(v));
  auto rule = rules.find(n);
  Stack outs = rule == rules.end() ? run_op(n, std::move(stack))
                                   : apply_rule(n, rule->second, stack);
  for (size_t i = 0; i < n->outputs().size(); ++i) {
    env[n->outputs()[i]] = outs[i];
  }
  // An in-place op that survived mutation removal: later uses of its
  // input see the new value.
  if (rule != rules.end() && is_inplace(n->kind().toQualString())) {
    env[n->inputs()[0]] = outs[0];
  }
}

bool DeepLiftGraph::Impl::run_structural(const Node* n, Env& env) const {
  auto kind = n->kind();
  auto in = [&](size_t i) -> const IValue& { return env.at(n->inputs()[i]); };
  if (kind == c10::prim::ListConstruct) {
    c10::impl::GenericList list(
        n->output()->type()->expectRef<c10::ListType>().getElementType());
    for (size_t i = 0; i < n->inputs().size(); ++i) list.push_back(in(i));
    env[n->output()] = std::move(list);
  } else if (kind == c10::prim::ListUnpack) {
    auto list = in(0).toListRef();
    for (size_t i = 0; i < n->outputs().size(); ++i) {
      env[n->outputs()[i]] = list[i];
    }
  } else if (kind == c10::prim::TupleConstruct) {
    std::vector<IValue> items;
    for (size_t i = 0; i < n->inputs().size(); ++i) items.push_back(in(i));
    env[n->output()] = c10::ivalue::Tuple::create(std::move(items));
  } else if (kind == c10::prim::TupleUnpack) {
    const auto& items = in(0).toTupleRef().elements();
    for (size_t i = 0; i < n->outputs().size(); ++i) {
      env[n->outputs()[i]] = items[i];
    }
  } else if (kind == c10::prim::TupleIndex) {
    const auto& items = in(0).toTupleRef().elements();
    int64_t i = in(1).toInt();
    env[n->output()] = items[i < 0 ? i + items.size() : i];
  } else if (kind == c10::prim::unchecked_cast) {
    env[n->output()] = in(0);
  } else if (kind == c10::prim::Uninitialized) {
    env[n->output()] = IValue();
  } else {
    return false;
  }
  return true;
}

Stack DeepLiftGraph::Impl::apply_rule(const Node* n, const NodeRule& rule,
                                      Stack in) const {
  // The original op gives the values the rule needs; the rule then
  // replaces the first output. In-place ops run on a copy.
  Stack original = in;
  if (is_inplace(n->kind().toQualString())) {
    original[0] = original[0].toTensor().detach().clone();
  } else {
    for (auto& v : original) {
      if (v.isTensor()) v = v.toTensor().detach();
    }
  }
  // Rules other than rescale compute the value themselves; the op is still
  // needed for extra outputs (pooling indices).
  std::string op = n->kind().toQualString();
  bool relu = op == "aten::relu" || op == "aten::relu_";
  if (relu) return {relu_rule(in[0].toTensor(), eps)};
  Stack outs(n->outputs().size());
  if (rule.kind == RuleKind::kRescale || outs.size() > 1) {
    outs = run_op(n, original);
  }
  Tensor x = in[rule.kind == RuleKind::kRescale ? rule.arg : 0].toTensor();
  Tensor y = rule.kind == RuleKind::kRescale ? outs[0].toTensor() : Tensor();
  switch (rule.kind) {
    case RuleKind::kRescale: {
      auto f = [this, n, in, &rule](const Tensor& t) {
        Stack s = in;
        for (auto& v : s) {
          if (v.isTensor()) v = v.toTensor().detach();
        }
        s[rule.arg] = t;
        if (is_inplace(n->kind().toQualString())) s[0] = s[0].toTensor() * 1;
        return run_op(n, s)[0].toTensor();
      };
      outs[0] = rescale(x, y, f, eps);
      break;
    }
    case RuleKind::kProduct:
      outs[0] = product_rule(x, in[1].toTensor());
      break;
    case RuleKind::kQuotient:
      outs[0] = quotient_rule(x, in[1].toTensor());
      break;
    case RuleKind::kMatmul:
      outs[0] = matmul_rule(x, in[1].toTensor());
      break;
    case RuleKind::kSoftmax:
    case RuleKind::kLogSoftmax: {
      int64_t dim = in[1].toInt();
      if (dim < 0) dim += x.dim();
      if (in.size() > 2 && in[2].isInt()) {
        x = x.to(static_cast<c10::ScalarType>(in[2].toInt()));
      }
      outs[0] = rule.kind == RuleKind::kSoftmax
                    ? softmax_rule(x, dim, eps)
                    : log_softmax_rule(x, dim, eps);
      break;
    }
    case RuleKind::kMaxPool:
      outs[0] = max_pool_rule(x, in[1].toIntVector(), in[2].toIntVector(),
                              in[3].toIntVector(), in[4].toIntVector(),
                              in[5].toBool(), eps);
      break;
    case RuleKind::kAdaptiveMaxPool:
      outs[0] = adaptive_max_pool_rule(x, in[1].toIntVector(), eps);
      break;
    case RuleKind::kLayerNorm: {
      int64_t k = in[1].toIntVector().size();
      std::vector<int64_t> dims;
      for (int64_t d = x.dim() - k; d < x.dim(); ++d) dims.push_back(d);
      outs[0] = affine(normalize_rule(x, dims, in[4].toDouble(), eps), in[2],
                       in[3], -1);
      break;
    }
    case RuleKind::kGroupNorm:
    case RuleKind::kInstanceNorm: {
      bool group = rule.kind == RuleKind::kGroupNorm;
      int64_t groups = group ? in[1].toInt() : x.size(1);
      double norm_eps = group ? in[4].toDouble() : in[7].toDouble();
      Tensor g = x.reshape({x.size(0), groups, -1});
      Tensor y2 = normalize_rule(g, {2}, norm_eps, eps).view(x.sizes());
      outs[0] = group ? affine(y2, in[2], in[3], 1)
                      : affine(y2, in[1], in[2], 1);
      break;
    }
  }
  return outs;
}

}  // namespace xai::detail
