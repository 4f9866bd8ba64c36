// Gradient-based attribution methods: Saliency, InputXGradient, SmoothGrad,
// IntegratedGradients and GradientShap (expected gradients).
//
// Every method here needs only a differentiable forward pass, so it works on
// any TorchScript model. Each one explains `rows` inputs for T target outputs
// (see xai::Target) and returns values shaped [rows, T, ...input row shape].
//
// Common contract of the classes below:
//  - The constructor validates the options once and throws InvalidArgument
//    with a message of the form "invalid <option>: <value> (<requirement>)".
//  - The explainer holds its own copy of the Model (a cheap handle to the
//    shared TorchScript module), so it does not depend on the caller's
//    Model object staying alive.
//  - attribute() computes on the model's device in the model's dtype and
//    returns every tensor on the CPU in float32. One forward pass and one
//    backward pass per target column are run for each chunk of at most
//    `max_batch` model rows; results do not depend on max_batch beyond
//    floating-point rounding. The gradient of a chunk's summed target
//    outputs is taken as each row's own gradient, which assumes the model
//    treats rows independently (true in eval mode, which Model sets).
//  - model_evaluations, forward_passes and backward_passes count the passes
//    of the method itself; the one-row shape check that
//    detail::prepare_input runs on each input is not counted.
//  - attribute() is const and keeps no state between calls, so it may be
//    called from several threads at once. Random draws come from a generator
//    seeded with `seed` on every call, on the CPU, so a result is the same on
//    every call and on every device (up to the device's arithmetic). The
//    draws of a row depend on its position in the batch and on the batch's
//    size (not on max_batch): explaining rows one by one or together gives
//    different, equally valid samples.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "xai/attribution/attribution.h"
#include "xai/model.h"

namespace xai {

// ---------------------------------------------------------------------------
// Saliency: values = |df_t/dx| (or the signed gradient).

struct SaliencyOptions {
  // Take the absolute value of the gradient, as Captum's Saliency does by
  // default. Default: true.
  bool abs = true;
  // Most input rows per forward/backward pass. Must be >= 1. Default: 2048.
  int64_t max_batch = 2048;
};

// Gradient of each target output with respect to the input. No reference
// and no completeness property: base_values and completeness_gap are left
// undefined.
class Saliency : public Explainer {
 public:
  explicit Saliency(Model model, SaliencyOptions options = {});

  Attribution attribute(const torch::Tensor& x,
                        const Target& target) const override;
  // "Saliency(abs=true, max_batch=2048)".
  std::string str() const override;
  const SaliencyOptions& options() const { return options_; }

 private:
  Model model_;
  SaliencyOptions options_;
};

// ---------------------------------------------------------------------------
// InputXGradient: values = x * df_t/dx.

struct InputXGradientOptions {
  // Most input rows per forward/backward pass. Must be >= 1. Default: 2048.
  int64_t max_batch = 2048;
};

// Input times gradient. Complete only for linear models without bias, so
// base_values and completeness_gap are left undefined.
class InputXGradient : public Explainer {
 public:
  explicit InputXGradient(Model model, InputXGradientOptions options = {});

  Attribution attribute(const torch::Tensor& x,
                        const Target& target) const override;
  // "InputXGradient(max_batch=2048)".
  std::string str() const override;
  const InputXGradientOptions& options() const { return options_; }

 private:
  Model model_;
  InputXGradientOptions options_;
};

// ---------------------------------------------------------------------------
// SmoothGrad: values = mean over noisy copies x + e of df_t/dx (x + e).

struct SmoothGradOptions {
  // Noisy copies per input row. Must be >= 1. Default: 50.
  int64_t samples = 50;
  // Standard deviation of the Gaussian noise, as a fraction of each row's
  // value range (max - min over the row). Must be finite and >= 0; 0 gives
  // the plain signed gradient. Default: 0.15.
  double noise = 0.15;
  // Seed of the noise generator. Default: 0.
  uint64_t seed = 0;
  // Most model rows (input rows x samples) per forward/backward pass. Must
  // be >= 1. Default: 2048.
  int64_t max_batch = 2048;
};

// Mean of the signed gradients (Smilkov et al. 2017; Captum's NoiseTunnel
// with nt_type="smoothgrad" over Saliency(abs=False)). The targets are chosen
// from the clean input's outputs. Take the absolute value of the result for
// a magnitude map. No completeness property: base_values and
// completeness_gap are left undefined.
class SmoothGrad : public Explainer {
 public:
  explicit SmoothGrad(Model model, SmoothGradOptions options = {});

  Attribution attribute(const torch::Tensor& x,
                        const Target& target) const override;
  // "SmoothGrad(samples=50, noise=0.15, seed=0, max_batch=2048)".
  std::string str() const override;
  const SmoothGradOptions& options() const { return options_; }

 private:
  Model model_;
  SmoothGradOptions options_;
};

// ---------------------------------------------------------------------------
// IntegratedGradients: values = (x - x0) * integral over a in [0, 1] of
// df_t/dx (x0 + a (x - x0)), with x0 the baseline.

// How IntegratedGradients approximates the path integral with `steps` model
// evaluations per input row.
enum class IntegrationRule {
  // Gauss-Legendre quadrature: exact for polynomials of degree 2*steps - 1
  // along the path, so far fewer steps than Riemann for smooth models.
  kGaussLegendre,
  // Riemann midpoint rule: nodes (k + 0.5) / steps, weights 1 / steps.
  // Error O(1/steps^2) for smooth models; robust for piecewise-linear ones.
  kRiemann,
};

// "gauss-legendre" or "riemann".
std::string to_string(IntegrationRule rule);
// Parses "gauss-legendre" or "riemann"; throws InvalidArgument otherwise:
// "invalid rule: 'x' (must be gauss-legendre or riemann)".
IntegrationRule parse_integration_rule(const std::string& name);

// Nodes on [0, 1], ascending, and weights summing to 1.
struct Quadrature {
  std::vector<double> nodes;
  std::vector<double> weights;
};

// The `n`-point rule (n >= 1; throws InvalidArgument "invalid steps: ..."
// otherwise). Gauss-Legendre nodes and weights are computed in double
// precision by Newton iteration on the Legendre polynomial P_n.
Quadrature quadrature(IntegrationRule rule, int64_t n);

struct IntegratedGradientsOptions {
  // Points along the path per input row. Must be >= 1. Default: 50.
  int64_t steps = 50;
  // Quadrature rule. Default: kGaussLegendre.
  IntegrationRule rule = IntegrationRule::kGaussLegendre;
  // Reference input, [1, ...input row shape] (shared by all rows) or
  // [rows, ...input row shape] (one per input row), any device and dtype.
  // Default: undefined, meaning all zeros.
  torch::Tensor baseline;
  // Most interpolated model rows (input rows x steps) per forward/backward
  // pass. Must be >= 1. Default: 2048.
  int64_t max_batch = 2048;
};

// Integrated gradients (Sundararajan et al. 2017). base_values = f(baseline)
// and completeness_gap = sum(values) - (f(x) - f(baseline)), which shrinks
// to zero as steps grow (and is at rounding level for a linear model).
class IntegratedGradients : public Explainer {
 public:
  explicit IntegratedGradients(Model model,
                               IntegratedGradientsOptions options = {});

  // Throws InvalidArgument when the baseline's row shape differs from x's
  // or it has neither 1 nor x.size(0) rows.
  Attribution attribute(const torch::Tensor& x,
                        const Target& target) const override;
  // "IntegratedGradients(steps=50, rule=gauss-legendre, max_batch=2048)",
  // with "baseline=[1, 4]" before max_batch when a baseline is given.
  std::string str() const override;
  const IntegratedGradientsOptions& options() const { return options_; }

 private:
  Model model_;
  IntegratedGradientsOptions options_;
  Quadrature quadrature_;
};

// ---------------------------------------------------------------------------
// GradientShap (expected gradients): values = mean over samples s of
// (x - b_s) * df_t/dx (b_s + a_s (x + e_s - b_s)).

struct GradientShapOptions {
  // Reference rows [k, ...input row shape], k >= 1, any device and dtype.
  // Required: no default.
  torch::Tensor background;
  // (background row, a) pairs drawn per input row: the row uniformly from
  // the background, a uniformly from [0, 1). Must be >= 1. Default: 50.
  int64_t samples = 50;
  // Standard deviation of Gaussian noise e added to x before interpolation,
  // in input units (Captum's `stdevs`). Must be finite and >= 0.
  // Default: 0.0 (no noise).
  double noise = 0.0;
  // Seed of the generator for rows, a and e. Default: 0.
  uint64_t seed = 0;
  // Most model rows (input rows x samples) per forward/backward pass. Must
  // be >= 1. Default: 2048.
  int64_t max_batch = 2048;
};

// Monte Carlo expected gradients (Erion et al. 2021; SHAP's
// GradientExplainer with local smoothing, Captum's GradientShap). The
// difference multiplying the gradient is taken from the noiseless x.
//
// base_values = mean over the whole background of f, and completeness_gap =
// sum(values) - (f(x) - base_values). Completeness holds only in
// expectation over the draws, so the gap is reported, not zero; it shrinks
// like 1/sqrt(samples) (and vanishes for a linear model with a one-row
// background).
class GradientShap : public Explainer {
 public:
  // Throws InvalidArgument for a missing or empty background.
  GradientShap(Model model, GradientShapOptions options);

  // Throws InvalidArgument when the background's row shape differs from
  // x's.
  Attribution attribute(const torch::Tensor& x,
                        const Target& target) const override;
  // "GradientShap(background=100, samples=50, noise=0, seed=0,
  // max_batch=2048)".
  std::string str() const override;
  const GradientShapOptions& options() const { return options_; }

 private:
  Model model_;
  GradientShapOptions options_;
};

}  // namespace xai
