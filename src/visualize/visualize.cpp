#include "xai/visualize/visualize.h"

#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>
#include <random>
#include <sstream>

#include "xai/error.h"

namespace xai {
namespace {

using torch::Tensor;

std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream out;
  for (size_t i = 0; i < shape.size(); ++i) out << (i ? "," : "") << shape[i];
  return out.str();
}

[[noreturn]] void bad(const std::string& option, const std::string& value,
                      const std::string& why) {
  throw InvalidArgument("invalid " + option + ": " + value + " (" + why +
                        ")");
}

Tensor blur3(const Tensor& x) {
  namespace F = torch::nn::functional;
  return F::avg_pool2d(x, F::AvgPool2dFuncOptions(3).stride(1).padding(1)
                              .count_include_pad(false));
}

}  // namespace

Visualizer::Visualizer(const Model& model, std::vector<Objective> objectives,
                       VisualizeOptions options)
    : model_(model),
      objectives_(std::move(objectives)),
      options_(std::move(options)) {
  const auto& o = options_;
  if (objectives_.empty()) bad("objectives", "none", "give at least one");
  if (o.batch < 1) bad("batch", std::to_string(o.batch), "at least 1");
  if (o.steps < 1) bad("steps", std::to_string(o.steps), "at least 1");
  if (!(o.lr > 0)) bad("lr", std::to_string(o.lr), "must be positive");
  if (!(o.hi > o.lo)) {
    bad("range", std::to_string(o.lo) + "," + std::to_string(o.hi),
        "lo must be below hi");
  }
  row_shape_ = o.row_shape.empty() ? model.input_row_shape() : o.row_shape;
  bool known = !row_shape_.empty();
  for (int64_t d : row_shape_) known = known && d > 0;
  if (!known) {
    bad("input shape", shape_str(row_shape_),
        "unknown for this model; give one, e.g. 1,28,28");
  }
  int64_t channels = row_shape_.size() >= 2 ? row_shape_[0] : 1;
  if (o.mean.size() != o.std.size() ||
      (!o.mean.empty() && o.mean.size() != 1 &&
       static_cast<int64_t>(o.mean.size()) != channels)) {
    bad("mean/std", std::to_string(o.mean.size()) + "/" +
                        std::to_string(o.std.size()) + " values",
        "give one value or one per channel (" + std::to_string(channels) +
            ") to both");
  }
  for (double s : o.std) {
    if (!(s > 0)) bad("std", std::to_string(s), "must be positive");
  }

  lo_ = torch::full({}, o.lo, torch::kFloat32);
  hi_ = torch::full({}, o.hi, torch::kFloat32);
  if (o.feature_lo.defined() && o.feature_hi.defined()) {
    if (o.feature_lo.sizes().vec() != row_shape_ ||
        o.feature_hi.sizes().vec() != row_shape_) {
      bad("feature range", shape_str(o.feature_lo.sizes().vec()),
          "must have the row shape " + shape_str(row_shape_));
    }
    lo_ = o.feature_lo.to(torch::kCPU, torch::kFloat32);
    hi_ = torch::max(o.feature_hi.to(torch::kCPU, torch::kFloat32), lo_);
  }

  std::vector<std::string> layers;
  for (const auto& obj : objectives_) {
    for (const auto& l : obj.layers()) {
      if (l != "output" &&
          std::find(layers.begin(), layers.end(), l) == layers.end()) {
        layers.push_back(l);
      }
    }
  }
  reader_ = std::make_unique<LayerReader>(model_, layers);

  // A probe pass of one row in the middle of the range checks the shape
  // and gives every layer's shape to the objectives' checks.
  std::vector<int64_t> probe_shape = row_shape_;
  probe_shape.insert(probe_shape.begin(), 1);
  Tensor probe = ((lo_ + hi_) / 2).expand(row_shape_).unsqueeze(0);
  std::vector<Tensor> outs;
  try {
    torch::NoGradGuard no_grad;
    outs = reader_->forward(to_model(probe));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    // The interpreter's reason is its message's last line.
    std::string why = e.what();
    while (!why.empty() && std::isspace(static_cast<unsigned char>(
                               why.back()))) {
      why.pop_back();
    }
    why = why.substr(why.find_last_of('\n') + 1);
    if (why.rfind("RuntimeError: ", 0) == 0) why = why.substr(14);
    bad("input shape", shape_str(row_shape_), "the model rejects it: " + why);
  }
  std::map<std::string, std::vector<int64_t>> shapes;
  shapes["output"] = outs[0].sizes().vec();
  for (size_t i = 0; i < layers.size(); ++i) {
    shapes[layers[i]] = outs[i + 1].sizes().vec();
  }
  for (const auto& obj : objectives_) obj.check(shapes);
  spdlog::debug("{}", str());
}

Visualizer::~Visualizer() = default;

Tensor Visualizer::to_model(const Tensor& x) const {
  Tensor y = x;
  if (!options_.mean.empty()) {
    std::vector<int64_t> shape(x.dim(), 1);
    if (options_.mean.size() > 1) shape[1] = options_.mean.size();
    auto mean = torch::tensor(options_.mean, torch::kFloat64)
                    .to(x.device(), x.scalar_type())
                    .reshape(shape);
    auto std = torch::tensor(options_.std, torch::kFloat64)
                   .to(x.device(), x.scalar_type())
                   .reshape(shape);
    y = (y - mean) / std;
  }
  return y.to(model_.device(), model_.dtype());
}

Tensor Visualizer::values(const std::vector<Tensor>& outs,
                          int64_t per_objective, bool all_rows) const {
  const auto& names = reader_->layers();
  std::vector<Tensor> rows;
  for (size_t o = 0; o < objectives_.size(); ++o) {
    int64_t begin = all_rows ? 0 : o * per_objective;
    int64_t end = all_rows ? outs[0].size(0) : begin + per_objective;
    std::map<std::string, Tensor> layers;
    layers["output"] = outs[0].slice(0, begin, end);
    for (size_t i = 0; i < names.size(); ++i) {
      layers[names[i]] = outs[i + 1].slice(0, begin, end);
    }
    rows.push_back(objectives_[o].evaluate(layers, !all_rows));
  }
  return torch::stack(rows);
}

Visualization Visualizer::run() const {
  const auto& o = options_;
  auto start = std::chrono::steady_clock::now();
  int64_t n = static_cast<int64_t>(objectives_.size()) * o.batch;
  std::vector<int64_t> shape = row_shape_;
  shape.insert(shape.begin(), n);

  auto generator = at::detail::createCPUGenerator(o.seed);
  std::mt19937_64 rng(o.seed);
  ParamKind kind = is_image() ? o.param : ParamKind::kPixel;
  Parameterization param(shape, kind, o.decorrelate, o.squash, lo_, hi_,
                         o.init_std, generator, model_.device());
  torch::optim::Adam adam({param.parameter()},
                          torch::optim::AdamOptions(o.lr));
  Tensor centre = o.squash == Squash::kNone
                      ? torch::zeros({}, torch::kFloat32)
                      : (lo_ + hi_) / 2;
  centre = centre.to(model_.device()).unsqueeze(0);

  std::vector<int64_t> marks = o.snapshots;
  if (marks.empty()) {
    for (int64_t k = 1; k <= 4; ++k) marks.push_back(o.steps * k / 4);
  }
  marks.push_back(o.steps);

  Visualization result;
  auto record = [&](int64_t step) {
    torch::NoGradGuard no_grad;
    Tensor x = param.input();
    Tensor v = values(reader_->forward(to_model(x)), o.batch, false);
    std::vector<int64_t> s = row_shape_;
    s.insert(s.begin(), {static_cast<int64_t>(objectives_.size()), o.batch});
    result.snapshots.push_back(
        {step, v.to(torch::kCPU, torch::kFloat64),
         x.to(torch::kCPU, torch::kFloat32).reshape(s)});
  };

  for (int64_t step = 1; step <= o.steps; ++step) {
    adam.zero_grad();
    Tensor x = param.input();
    Tensor seen = x;
    if (is_image()) seen = random_transform(x, o.transforms, rng);
    bool redirect = step <= o.redirect_relu_steps;
    Tensor v = values(reader_->forward(to_model(seen), redirect), o.batch,
                      false);
    Tensor loss = -v.sum();
    Tensor d = x - centre;
    if (o.l1 != 0) loss = loss + o.l1 * d.abs().sum();
    if (o.l2 != 0) loss = loss + o.l2 * d.pow(2).sum();
    if (o.tv != 0) {
      for (int64_t dim = 2; dim < x.dim(); ++dim) {
        int64_t len = x.size(dim);
        loss = loss + o.tv * (x.slice(dim, 1, len) - x.slice(dim, 0, len - 1))
                                 .abs()
                                 .sum();
      }
    }
    if (o.blur != 0 && is_image()) {
      loss = loss + 0.5 * o.blur * (x - blur3(x).detach()).pow(2).sum();
    }
    loss.backward();
    adam.step();

    if (std::find(marks.begin(), marks.end(), step) != marks.end()) {
      record(step);
    }
    if (o.progress) o.progress({step, o.steps, loss.item<double>()});
  }
  result.inputs = result.snapshots.back().inputs;
  result.values = result.snapshots.back().values;
  result.seconds = std::chrono::duration<double>(
                       std::chrono::steady_clock::now() - start)
                       .count();
  spdlog::info("visualized {} objectives x {} inputs: {} steps in {:.2f} s",
               objectives_.size(), o.batch, o.steps, result.seconds);
  return result;
}

Tensor Visualizer::evaluate(const Tensor& x, int64_t chunk) const {
  if (x.dim() < 1 || x.sizes().slice(1).vec() != row_shape_) {
    bad("data", "shape " + shape_str(x.sizes().vec()),
        "rows must have the shape " + shape_str(row_shape_));
  }
  torch::NoGradGuard no_grad;
  std::vector<Tensor> parts;
  for (int64_t b = 0; b < x.size(0); b += chunk) {
    Tensor rows = x.slice(0, b, std::min(b + chunk, x.size(0)));
    parts.push_back(values(reader_->forward(to_model(rows)), 0, true)
                        .to(torch::kCPU, torch::kFloat64));
  }
  return torch::cat(parts, 1);
}

std::string Visualizer::str() const {
  const auto& o = options_;
  std::ostringstream out;
  out << "Visualizer(objectives=" << objectives_.size()
      << ", batch=" << o.batch << ", steps=" << o.steps << ", lr=" << o.lr
      << ", seed=" << o.seed << ", param="
      << to_string(is_image() ? o.param : ParamKind::kPixel)
      << ", input_shape=" << shape_str(row_shape_)
      << ", transforms=" << (is_image() ? to_string(o.transforms) : "none")
      << ", redirect_relu_steps=" << o.redirect_relu_steps << ")";
  return out.str();
}

}  // namespace xai
