#include "xai/attribution/attribution.h"

#include <algorithm>

#include "xai/attribution/deeplift.h"
#include "xai/attribution/gradients.h"
#include "xai/attribution/shapley.h"
#include "xai/error.h"

namespace xai {

double max_relative_gap(const Attribution& a) {
  if (!a.completeness_gap.defined() || a.completeness_gap.numel() == 0) {
    return 0.0;
  }
  auto scale = a.outputs.to(torch::kFloat64).abs().clamp_min(1.0);
  return (a.completeness_gap.to(torch::kFloat64).abs() / scale)
      .max()
      .item<double>();
}

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names = {
      "deepshap",    "deeplift",   "ig",         "gradshap",
      "saliency",    "inputxgrad", "smoothgrad", "shapley",
      "permutation", "kernelshap", "ablation",   "occlusion"};
  return names;
}

std::unique_ptr<Explainer> make_explainer(const std::string& name,
                                          const Model& model,
                                          const ExplainerConfig& c) {
  auto need_background = [&]() {
    if (!c.background.defined() || c.background.size(0) == 0) {
      throw InvalidArgument("cannot run " + name +
                            ": it needs a background (--background FILE or "
                            "--background-rows N)");
    }
    return c.background;
  };
  if (name == "deepshap" || name == "deeplift") {
    DeepLiftOptions o;
    if (c.max_batch > 0) o.max_batch = c.max_batch;
    o.strict = c.strict;
    if (name == "deeplift") {
      return std::make_unique<DeepLift>(model, c.baseline, o);
    }
    return std::make_unique<DeepShap>(model, need_background(), o);
  }
  if (name == "ig") {
    IntegratedGradientsOptions o;
    if (c.max_batch > 0) o.max_batch = c.max_batch;
    if (c.steps > 0) o.steps = c.steps;
    if (!c.ig_rule.empty()) o.rule = parse_integration_rule(c.ig_rule);
    o.baseline = c.baseline;
    return std::make_unique<IntegratedGradients>(model, o);
  }
  if (name == "gradshap") {
    GradientShapOptions o;
    if (c.max_batch > 0) o.max_batch = c.max_batch;
    if (c.samples > 0) o.samples = c.samples;
    if (c.noise >= 0) o.noise = c.noise;
    o.seed = c.seed;
    o.background = need_background();
    return std::make_unique<GradientShap>(model, o);
  }
  if (name == "saliency") {
    SaliencyOptions o;
    if (c.max_batch > 0) o.max_batch = c.max_batch;
    return std::make_unique<Saliency>(model, o);
  }
  if (name == "inputxgrad") {
    InputXGradientOptions o;
    if (c.max_batch > 0) o.max_batch = c.max_batch;
    return std::make_unique<InputXGradient>(model, o);
  }
  if (name == "smoothgrad") {
    SmoothGradOptions o;
    if (c.max_batch > 0) o.max_batch = c.max_batch;
    if (c.samples > 0) o.samples = c.samples;
    if (c.noise >= 0) o.noise = c.noise;
    o.seed = c.seed;
    return std::make_unique<SmoothGrad>(model, o);
  }
  if (name == "shapley") {
    ExactShapleyOptions o;
    o.background = need_background();
    o.players = c.players;
    if (c.max_players > 0) o.max_players = c.max_players;
    if (c.max_batch > 0) o.max_batch = c.max_batch;
    return std::make_unique<ExactShapley>(model, o);
  }
  if (name == "permutation") {
    PermutationShapleyOptions o;
    o.background = need_background();
    o.players = c.players;
    if (c.samples > 0) o.samples = c.samples;
    o.seed = c.seed;
    if (c.max_batch > 0) o.max_batch = c.max_batch;
    return std::make_unique<PermutationShapley>(model, o);
  }
  if (name == "kernelshap") {
    KernelShapOptions o;
    o.background = need_background();
    o.players = c.players;
    o.budget = c.budget;
    o.seed = c.seed;
    if (c.max_batch > 0) o.max_batch = c.max_batch;
    return std::make_unique<KernelShap>(model, o);
  }
  if (name == "ablation") {
    FeatureAblationOptions o;
    o.background = c.background;
    o.players = c.players;
    if (c.max_batch > 0) o.max_batch = c.max_batch;
    return std::make_unique<FeatureAblation>(model, o);
  }
  if (name == "occlusion") {
    OcclusionOptions o;
    o.background = c.background;
    if (!c.window.empty()) o.window = c.window;
    o.stride = c.stride;
    if (c.max_batch > 0) o.max_batch = c.max_batch;
    return std::make_unique<Occlusion>(model, o);
  }
  std::string list;
  for (const auto& m : method_names()) list += (list.empty() ? "" : ", ") + m;
  throw InvalidArgument("invalid method: '" + name + "' (use one of " + list +
                        ")");
}

namespace detail {

torch::Tensor forward_rows(const Model& model, const torch::Tensor& x,
                           int64_t max_batch, Attribution& a) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  for_each_chunk(x.size(0), max_batch, [&](int64_t b, int64_t e) {
    parts.push_back(model.forward(x.slice(0, b, e)));
    a.forward_passes += 1;
    a.model_evaluations += e - b;
  });
  return torch::cat(parts);
}

torch::Tensor prepare_input(const Model& model, const torch::Tensor& x,
                            const char* what) {
  std::string name(what);
  if (!x.defined() || x.dim() == 0) {
    throw InvalidArgument("cannot use " + name +
                          ": expected a batch [rows, ...], got a scalar or "
                          "no tensor");
  }
  if (x.size(0) == 0) {
    throw InvalidArgument("cannot use " + name + ": it has no rows");
  }
  if (x.scalar_type() == torch::kBool || x.is_complex()) {
    throw InvalidArgument("cannot use " + name + ": expected dtype " +
                          c10::toString(model.dtype()) + ", got " +
                          c10::toString(x.scalar_type()));
  }
  if (x.is_floating_point()) {
    auto bad = torch::logical_not(torch::isfinite(x)).flatten(1).any(1);
    if (bad.any().item<bool>()) {
      int64_t row = bad.nonzero()[0][0].item<int64_t>();
      throw InvalidArgument("cannot use " + name +
                            ": it contains NaN or infinity (first in row " +
                            std::to_string(row) + ")");
    }
  }
  auto moved = x.to(model.device(), model.dtype());
  model.check_input(moved);
  return moved;
}

void finish_completeness(Attribution& a, const torch::Tensor& base_values) {
  a.targets = a.targets.to(torch::kCPU);
  auto dtype = a.values.scalar_type();
  a.outputs = a.outputs.detach().to(torch::kCPU, dtype);
  a.base_values = base_values.detach().to(torch::kCPU, dtype);
  auto sum = a.values.to(torch::kFloat64).flatten(2).sum(2);
  auto change =
      a.outputs.to(torch::kFloat64) - a.base_values.to(torch::kFloat64);
  a.completeness_gap = (sum - change).to(dtype);
}

}  // namespace detail
}  // namespace xai
