#include "xai/visualize/layers.h"

#include <torch/csrc/jit/api/function_impl.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/passes/dead_code_elimination.h>
#include <torch/csrc/jit/passes/inliner.h>
#include <torch/library.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <sstream>

#include "xai/error.h"

namespace xai {
namespace {

using torch::Tensor;
using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;
namespace attr = c10::attr;
namespace prim = c10::prim;

// ReLU whose backward also passes, for a batch item whose ReLU gradient is
// zero everywhere, the gradients that would raise negative inputs.
class RedirectedRelu : public torch::autograd::Function<RedirectedRelu> {
 public:
  static Tensor forward(torch::autograd::AutogradContext* ctx, Tensor x) {
    ctx->save_for_backward({x});
    return torch::relu(x);
  }

  static torch::autograd::variable_list backward(
      torch::autograd::AutogradContext* ctx,
      torch::autograd::variable_list grads) {
    Tensor x = ctx->get_saved_variables()[0];
    Tensor g = grads[0];
    Tensor relu_grad = g * (x > 0).to(g.scalar_type());
    // A positive gradient of the loss lowers the input: never redirected.
    Tensor lowers = (x < 0).logical_and(g > 0);
    Tensor redirected = torch::where(lowers, torch::zeros_like(g), g);
    if (x.dim() == 0) return {relu_grad};
    Tensor flat = relu_grad.reshape({relu_grad.size(0), -1});
    Tensor dead = (flat.abs().amax(1) == 0);
    std::vector<int64_t> shape(x.dim(), 1);
    shape[0] = x.size(0);
    return {torch::where(dead.reshape(shape), redirected, relu_grad)};
  }
};

Tensor redirected_relu(const Tensor& x) { return RedirectedRelu::apply(x); }

TORCH_LIBRARY(xai_visualize, m) {
  m.def("redirected_relu(Tensor x) -> Tensor", &redirected_relu);
}

// The submodule path of the receiver of a prim::CallMethod, read off its
// chain of prim::GetAttr nodes back to the graph's `self`; empty for a
// method of `self` itself or a receiver of unknown origin.
std::string module_path(const Node* call, const Value* self) {
  std::vector<std::string> names;
  const Value* v = call->input(0);
  while (v != self) {
    const Node* n = v->node();
    if (n->kind() != prim::GetAttr) return "";
    names.push_back(n->s(attr::name));
    v = n->input(0);
  }
  std::string path;
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    path += (path.empty() ? "" : ".") + *it;
  }
  return path;
}

Node* first_call(torch::jit::Block* block) {
  for (Node* n : block->nodes()) {
    if (n->kind() == prim::CallMethod || n->kind() == prim::CallFunction) {
      return n;
    }
    for (auto* b : n->blocks()) {
      if (Node* inner = first_call(b)) return inner;
    }
  }
  return nullptr;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min(
          {row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

namespace detail {

// The model's forward graph with every submodule call inlined, and the
// value each call site produced.
class LayerGraph {
 public:
  explicit LayerGraph(const Model& model);

  // Layer names in forward order, "output" last.
  std::vector<std::string> names() const;
  // The runnable function returning (output, layers...).
  std::shared_ptr<torch::jit::GraphFunction> function(
      const std::vector<std::string>& layers, bool redirect) const;
  void check(const std::string& layer) const;
  torch::jit::Module module;

 private:
  std::shared_ptr<Graph> graph_;
  // One call of a submodule: its path, which call of it (from 0) and the
  // value it produced, in forward order.
  struct Site {
    std::string path;
    int64_t call;
    Value* value;
  };
  std::vector<Site> sites_;
  int64_t calls(const std::string& path) const;
  mutable std::mutex mutex_;
  mutable std::map<std::pair<std::vector<std::string>, bool>,
                   std::shared_ptr<torch::jit::GraphFunction>>
      cache_;
  Value* find(const std::string& layer) const;
};

LayerGraph::LayerGraph(const Model& model) : module(model.module()) {
  graph_ = module.get_method("forward").graph()->copy();
  if (graph_->inputs().size() != 2 || graph_->outputs().size() != 1) {
    throw UnsupportedModel(
        "cannot read layers: forward must take one tensor and return one "
        "(it is " +
        model.signature() + ")");
  }
  const Value* self = graph_->inputs()[0];
  while (Node* call = first_call(graph_->block())) {
    bool method = call->kind() == prim::CallMethod;
    // A layer is what a submodule's forward returns; other methods (a
    // Conv2d's _conv_forward) belong to the call that runs them.
    bool forward = method && call->s(attr::name) == "forward";
    std::string path = forward ? module_path(call, self) : "";
    bool top = call->owningBlock() == graph_->block();
    torch::jit::Function* callee =
        method
            ? &call->input(0)->type()->expect<c10::ClassType>()->getMethod(
                  call->s(attr::name))
            : call->input(0)->type()->expect<c10::FunctionType>()->function();
    if (!method) call->removeInput(0);  // the function itself
    std::vector<Value*> before(call->outputs().begin(), call->outputs().end());
    auto outs =
        torch::jit::inlineCallTo(call, &torch::jit::toGraphFunction(*callee),
                                 /*inline_optimized_graph=*/false);
    // A site recorded earlier may be this call's value (an outer module
    // returning what its last submodule returns).
    for (auto& site : sites_) {
      for (size_t i = 0; i < before.size() && i < outs.size(); ++i) {
        if (site.value == before[i]) site.value = outs[i];
      }
    }
    if (path.empty() || !top || outs.size() != 1) continue;
    int64_t k = 0;
    for (const auto& site : sites_) k += site.path == path;
    sites_.push_back({path, k, outs[0]});
  }
}

std::vector<std::string> LayerGraph::names() const {
  std::vector<std::string> names;
  for (const auto& site : sites_) {
    names.push_back(calls(site.path) == 1
                        ? site.path
                        : site.path + "@" + std::to_string(site.call));
  }
  names.push_back("output");
  return names;
}

int64_t LayerGraph::calls(const std::string& path) const {
  int64_t n = 0;
  for (const auto& site : sites_) n += site.path == path;
  return n;
}

Value* LayerGraph::find(const std::string& layer) const {
  if (layer == "output") return graph_->outputs()[0];
  std::string path = layer;
  int64_t k = -1;
  auto at = layer.rfind('@');
  if (at != std::string::npos) {
    path = layer.substr(0, at);
    try {
      size_t used = 0;
      k = std::stoll(layer.substr(at + 1), &used);
      if (used != layer.size() - at - 1) k = -2;
    } catch (const std::exception&) {
      k = -2;
    }
  }
  int64_t n = calls(path);
  for (const auto& site : sites_) {
    if (site.path != path) continue;
    if ((k == -1 && n == 1) || (k >= 0 && site.call == k && n > 1)) {
      return site.value;
    }
  }
  if (k == -1 && n > 1) {
    std::string list;
    for (int64_t i = 0; i < n; ++i) {
      list += (i ? ", " : "") + path + "@" + std::to_string(i);
    }
    throw InvalidArgument("ambiguous layer: " + layer + " (" + path +
                          " is called " + std::to_string(n) +
                          " times; name one call site: " + list + ")");
  }
  return nullptr;
}

void LayerGraph::check(const std::string& layer) const {
  if (find(layer)) return;
  auto all = names();
  std::stable_sort(all.begin(), all.end(), [&](const auto& a, const auto& b) {
    return edit_distance(layer, a) < edit_distance(layer, b);
  });
  std::string near;
  for (size_t i = 0; i < all.size() && i < 3; ++i) {
    near += (i ? ", " : "") + all[i];
  }
  throw InvalidArgument("unknown layer: " + layer + " (nearest: " + near +
                        "; xai-inspect --input-shape lists them all)");
}

std::shared_ptr<torch::jit::GraphFunction> LayerGraph::function(
    const std::vector<std::string>& layers, bool redirect) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto key = std::make_pair(layers, redirect);
  auto hit = cache_.find(key);
  if (hit != cache_.end()) return hit->second;

  // A copy of the graph whose return is a tuple (output, layers...). Each
  // layer is cloned where it is produced, so that later in-place ops do not
  // change what is read.
  std::unordered_map<const Value*, Value*> map;
  auto g = std::make_shared<Graph>();
  for (Value* in : graph_->inputs()) {
    map[in] = g->addInput()->copyMetadata(in);
  }
  std::vector<Value*> wanted = {graph_->outputs()[0]};
  for (const auto& layer : layers) wanted.push_back(find(layer));
  std::vector<Value*> copies(wanted.size(), nullptr);
  auto env = [&](Value* v) { return map.at(v); };
  for (Node* n : graph_->nodes()) {
    Node* c = g->insertNode(g->createClone(n, env));
    for (size_t i = 0; i < n->outputs().size(); ++i) {
      map[n->outputs()[i]] = c->outputs()[i];
    }
  }
  std::vector<Value*> outs;
  for (size_t i = 0; i < wanted.size(); ++i) {
    Value* v = map.at(wanted[i]);
    if (i > 0 && v->type()->isSubtypeOf(*c10::TensorType::get())) {
      torch::jit::WithInsertPoint guard(v->node()->kind() == prim::Param
                                            ? g->block()->nodes().front()
                                            : v->node()->next());
      v = g->insert(c10::aten::clone, {v});
    }
    outs.push_back(v);
  }
  g->registerOutput(g->insertNode(g->createTuple(outs))->output());
  if (redirect) {
    auto sym = c10::Symbol::fromQualString("xai_visualize::redirected_relu");
    std::vector<Node*> relus;
    for (Node* n : g->nodes()) {
      if (n->kind() == c10::aten::relu) relus.push_back(n);
    }
    for (Node* n : relus) {
      torch::jit::WithInsertPoint guard(n);
      Value* r = g->insertNode(g->create(sym, {n->input(0)}))->output();
      r->setType(n->output()->type());
      n->output()->replaceAllUsesWith(r);
      n->destroy();
    }
  }
  torch::jit::EliminateDeadCode(g);
  auto fn = std::make_shared<torch::jit::GraphFunction>(
      "xai_layers", g, nullptr, torch::jit::ExecutorExecutionMode::SIMPLE);
  cache_[key] = fn;
  return fn;
}

}  // namespace detail

std::vector<std::string> layer_names(const Model& model) {
  return detail::LayerGraph(model).names();
}

LayerReader::LayerReader(const Model& model, std::vector<std::string> layers)
    : layers_(std::move(layers)),
      graph_(std::make_shared<detail::LayerGraph>(model)) {
  for (const auto& layer : layers_) graph_->check(layer);
}

LayerReader::~LayerReader() = default;

std::vector<Tensor> LayerReader::forward(const Tensor& x,
                                         bool redirect_relu) const {
  auto fn = graph_->function(layers_, redirect_relu);
  std::vector<c10::IValue> stack = {graph_->module._ivalue(), x};
  auto tuple = (*fn)(std::move(stack)).toTuple();
  std::vector<Tensor> out;
  for (const auto& v : tuple->elements()) {
    if (!v.isTensor()) {
      throw UnsupportedModel(
          "cannot read layers: a layer's value is not "
          "one tensor");
    }
    out.push_back(v.toTensor());
  }
  return out;
}

std::vector<LayerInfo> describe_layers(
    const Model& model, const std::vector<int64_t>& input_shape) {
  auto names = layer_names(model);
  LayerReader reader(model, {names.begin(), names.end() - 1});
  torch::NoGradGuard no_grad;
  auto x = torch::zeros(
      input_shape,
      torch::TensorOptions().dtype(model.dtype()).device(model.device()));
  std::vector<Tensor> values;
  try {
    values = reader.forward(x);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    // LibTorch's errors start with the reason; the TorchScript interpreter
    // puts it on the last line, after a traceback.
    auto* c10_error = dynamic_cast<const c10::Error*>(&e);
    std::string why =
        c10_error ? c10_error->what_without_backtrace() : e.what();
    while (!why.empty() &&
           std::isspace(static_cast<unsigned char>(why.back()))) {
      why.pop_back();
    }
    why = c10_error ? why.substr(0, why.find('\n'))
                    : why.substr(why.find_last_of('\n') + 1);
    if (why.rfind("RuntimeError: ", 0) == 0) why = why.substr(14);
    std::ostringstream shape;
    for (size_t i = 0; i < input_shape.size(); ++i) {
      shape << (i ? "," : "") << input_shape[i];
    }
    throw InvalidArgument("invalid input shape: " + shape.str() +
                          " (the model rejects it: " + why + ")");
  }
  std::vector<LayerInfo> info;
  for (size_t i = 0; i < names.size(); ++i) {
    const Tensor& v = values[i + 1 < values.size() ? i + 1 : 0];
    info.push_back({names[i], v.sizes().vec()});
  }
  return info;
}

}  // namespace xai
