#include "xai/attribution/deeplift.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <sstream>

#include "attribution/graph_rules.h"
#include "xai/error.h"

namespace xai {
namespace {

void validate(const DeepLiftOptions& o) {
  if (o.max_batch < 2) {
    throw InvalidArgument("invalid max_batch: " + std::to_string(o.max_batch) +
                          " (must be >= 2: an input and its reference)");
  }
  if (!(o.eps >= 0.0)) {
    throw InvalidArgument("invalid eps: " + std::to_string(o.eps) +
                          " (must be >= 0)");
  }
}

std::shared_ptr<detail::DeepLiftGraph> build_graph(const Model& model,
                                                   const DeepLiftOptions& o) {
  auto graph = std::make_shared<detail::DeepLiftGraph>(model, o.eps);
  std::ostringstream unsupported;
  int count = 0;
  for (const auto& t : graph->treatments()) {
    if (t.treatment != "unsupported") continue;
    unsupported << (count++ ? "; " : "") << t.op << " at " << t.location;
  }
  if (count > 0 && o.strict) {
    throw UnsupportedModel(
        "cannot explain with DeepLIFT in strict mode: " + unsupported.str() +
        (count > 1 ? " are" : " is") +
        " nonlinear without a DeepLIFT rule (without strict mode its "
        "gradient is used, and the completeness gap shows the error)");
  }
  if (count > 0) {
    spdlog::warn("DeepLIFT has no rule for {}: using the gradient there; "
                 "the completeness gap shows the effect",
                 unsupported.str());
  }
  return graph;
}

std::string options_str(const DeepLiftOptions& o) {
  std::ostringstream out;
  out << "max_batch=" << o.max_batch << ", eps=" << o.eps
      << ", strict=" << (o.strict ? "true" : "false");
  return out.str();
}

// Explains rows of x against references: pairs (row[p], ref[p]) for
// p in [0, pairs), each contributing `weight` to its row's values.
Attribution run_pairs(const Model& model, const detail::DeepLiftGraph& graph,
                      const DeepLiftOptions& o, const torch::Tensor& x,
                      const torch::Tensor& refs, const torch::Tensor& row,
                      const torch::Tensor& ref, double weight,
                      const Target& target) {
  Attribution a;
  torch::Tensor outputs;
  {
    torch::NoGradGuard no_grad;
    outputs = model.forward(x);
  }
  a.targets = model.select_targets(outputs, target);
  a.outputs = outputs.gather(1, a.targets);
  a.forward_passes = 1;
  a.model_evaluations = x.size(0);

  int64_t n_targets = a.targets.size(1);
  std::vector<int64_t> shape = {x.size(0), n_targets};
  shape.insert(shape.end(), x.sizes().begin() + 1, x.sizes().end());
  auto values = torch::zeros(shape, x.options().dtype(torch::kFloat64));

  int64_t chunk = o.max_batch / 2;
  detail::for_each_chunk(row.size(0), chunk, [&](int64_t b, int64_t e) {
    auto rows = row.slice(0, b, e);
    auto xi = x.index_select(0, rows);
    auto ri = refs.index_select(0, ref.slice(0, b, e));
    auto pairs = torch::cat({xi, ri}, 0).requires_grad_(true);
    auto out = graph.run(pairs);
    auto top = out.narrow(0, 0, e - b);
    auto delta = (xi - ri).to(torch::kFloat64);
    for (int64_t t = 0; t < n_targets; ++t) {
      auto idx = a.targets.index_select(0, rows).select(1, t).unsqueeze(1);
      auto grad = torch::autograd::grad({top.gather(1, idx).sum()}, {pairs},
                                        {}, /*retain_graph=*/t + 1 < n_targets)
                      [0].narrow(0, 0, e - b);
      values.select(1, t).index_add_(0, rows,
                                     grad.to(torch::kFloat64) * delta * weight);
    }
    a.forward_passes += 1;
    a.backward_passes += n_targets;
    a.model_evaluations += 2 * (e - b);
  });
  a.values = values.to(torch::kCPU, x.scalar_type());
  return a;
}

}  // namespace

std::vector<OpTreatment> describe_deeplift(const Model& model) {
  return detail::DeepLiftGraph(model, 1e-6).treatments();
}

DeepLift::DeepLift(const Model& model, torch::Tensor reference,
                   DeepLiftOptions options)
    : model_(model), reference_(std::move(reference)), options_(options) {
  validate(options_);
  if (reference_.defined()) {
    reference_ = detail::prepare_input(model_, reference_, "reference");
  }
  graph_ = build_graph(model_, options_);
}

DeepLift::~DeepLift() = default;

const std::vector<OpTreatment>& DeepLift::treatments() const {
  return graph_->treatments();
}

std::string DeepLift::str() const {
  return "DeepLift(reference=" +
         (reference_.defined() ? std::to_string(reference_.size(0)) + " rows"
                               : std::string("zeros")) +
         ", " + options_str(options_) + ")";
}

Attribution DeepLift::attribute(const torch::Tensor& input,
                                const Target& target) const {
  auto start = std::chrono::steady_clock::now();
  torch::Tensor x = detail::prepare_input(model_, input, "input");
  torch::Tensor ref = reference_.defined() ? reference_
                                           : torch::zeros_like(x[0]).unsqueeze(0);
  if (ref.sizes().slice(1) != x.sizes().slice(1) ||
      (ref.size(0) != 1 && ref.size(0) != x.size(0))) {
    throw InvalidArgument("cannot use reference of shape " +
                          c10::str(ref.sizes()) + " for input of shape " +
                          c10::str(x.sizes()) +
                          " (it must have 1 row or one per input row)");
  }
  int64_t n = x.size(0);
  auto opts = torch::TensorOptions().dtype(torch::kInt64).device(x.device());
  auto rows = torch::arange(n, opts);
  auto refs = ref.size(0) == 1 ? torch::zeros({n}, opts) : rows;
  Attribution a = run_pairs(model_, *graph_, options_, x, ref, rows, refs,
                            1.0, target);
  torch::Tensor base;
  {
    torch::NoGradGuard no_grad;
    auto ref_out = model_.forward(ref).index_select(0, refs);
    base = ref_out.gather(1, a.targets);
  }
  a.forward_passes += 1;
  a.model_evaluations += ref.size(0);
  a.method = "deeplift";
  a.options = {{"reference_rows", reference_.defined()
                                      ? std::to_string(ref.size(0))
                                      : std::string("zeros")},
               {"max_batch", std::to_string(options_.max_batch)},
               {"eps", c10::str(options_.eps)},
               {"strict", options_.strict ? "true" : "false"}};
  detail::finish_completeness(a, base);
  a.seconds = std::chrono::duration<double>(
                  std::chrono::steady_clock::now() - start).count();
  return a;
}

DeepShap::DeepShap(const Model& model, torch::Tensor background,
                   DeepLiftOptions options)
    : model_(model), options_(options) {
  validate(options_);
  if (!background.defined() || background.dim() == 0 ||
      background.size(0) == 0) {
    throw InvalidArgument("cannot use background: it has no rows "
                          "(DeepSHAP needs at least one reference row)");
  }
  background_ = detail::prepare_input(model_, background, "background");
  graph_ = build_graph(model_, options_);
}

DeepShap::~DeepShap() = default;

const std::vector<OpTreatment>& DeepShap::treatments() const {
  return graph_->treatments();
}

std::string DeepShap::str() const {
  return "DeepShap(background=" + std::to_string(background_.size(0)) +
         ", " + options_str(options_) + ")";
}

Attribution DeepShap::attribute(const torch::Tensor& input,
                                const Target& target) const {
  auto start = std::chrono::steady_clock::now();
  torch::Tensor x = detail::prepare_input(model_, input, "input");
  if (background_.sizes().slice(1) != x.sizes().slice(1)) {
    throw InvalidArgument("cannot use background rows of shape " +
                          c10::str(background_.sizes().slice(1)) +
                          " with input rows of shape " +
                          c10::str(x.sizes().slice(1)));
  }
  int64_t n = x.size(0);
  int64_t k = background_.size(0);
  auto opts = torch::TensorOptions().dtype(torch::kInt64).device(x.device());
  // Pair p explains row p / k against background row p % k.
  auto p = torch::arange(n * k, opts);
  Attribution a = run_pairs(model_, *graph_, options_, x, background_,
                            p.div(k, "floor"), p.remainder(k),
                            1.0 / static_cast<double>(k), target);
  torch::Tensor base;
  {
    torch::NoGradGuard no_grad;
    torch::Tensor bg_out;
    detail::for_each_chunk(k, options_.max_batch, [&](int64_t b, int64_t e) {
      auto out = model_.forward(background_.slice(0, b, e));
      bg_out = bg_out.defined() ? torch::cat({bg_out, out}) : out;
      a.forward_passes += 1;
    });
    auto mean = bg_out.to(torch::kFloat64).mean(0);
    base = mean.index({a.targets}).to(bg_out.scalar_type());
  }
  a.model_evaluations += k;
  a.method = "deepshap";
  a.options = {{"background_rows", std::to_string(k)},
               {"max_batch", std::to_string(options_.max_batch)},
               {"eps", c10::str(options_.eps)},
               {"strict", options_.strict ? "true" : "false"}};
  detail::finish_completeness(a, base);
  a.seconds = std::chrono::duration<double>(
                  std::chrono::steady_clock::now() - start).count();
  spdlog::info("deepshap: {} rows x {} background rows, {} evaluations, "
               "{:.3f} s, max relative completeness gap {:.2e}",
               n, k, a.model_evaluations, a.seconds, max_relative_gap(a));
  return a;
}

}  // namespace xai
