// A TorchScript model ready for explanation.
#pragma once

#include <torch/script.h>

#include <string>
#include <vector>

namespace xai {

// Parses "cpu", "cuda", "cuda:N" or "auto" (CUDA when available, else CPU).
// Throws InvalidArgument for anything else, and for a CUDA device when this
// build or machine has none.
torch::Device parse_device(const std::string& spec);

// Which outputs of a model a method explains.
struct Target {
  enum class Kind {
    kPredicted,  // each row's arg-max output
    kIndex,      // one fixed output index
    kAll,        // every output, one explanation each
  };
  Kind kind = Kind::kPredicted;
  int64_t index = 0;  // used by kIndex only

  // "pred", "all" or a non-negative integer.
  static Target parse(const std::string& spec);
  std::string str() const;
};

// A loaded TorchScript module (scripted or traced) in eval mode, with
// parameters that need no gradient, on one device.
//
// Thread safety: const methods may be called from several threads at once.
class Model {
 public:
  // Loads `path` onto `device` ("cpu", "cuda", "cuda:N", "auto").
  // Throws IoError for a missing or unreadable file, UnsupportedModel for a
  // file that is not a TorchScript archive (a pickled nn.Module or a state
  // dict: the message says how to export one).
  static Model load(const std::string& path, const std::string& device = "cpu");

  // Wraps a module already in memory (tests, C++ services).
  Model(torch::jit::Module module, torch::Device device,
        std::string name = "<in-memory>");

  const torch::jit::Module& module() const { return module_; }
  torch::Device device() const { return device_; }
  const std::string& path() const { return path_; }
  // sha256 of the model file, hex; empty for in-memory modules.
  const std::string& sha256() const { return sha256_; }
  // Floating dtype of the parameters (float32 when there are none).
  torch::ScalarType dtype() const { return dtype_; }

  // The forward signature, e.g. "forward(Tensor x) -> Tensor".
  std::string signature() const;
  // Names of all submodules, as named_modules() lists them.
  std::vector<std::string> submodule_names() const;
  // Expected trailing shape of one input row, read off the first layer that
  // consumes the input (-1 where unknown); empty when nothing is known.
  const std::vector<int64_t>& input_row_shape() const { return row_shape_; }

  // Checks rank, trailing shape and dtype of a batch `x` [batch, ...]; throws
  // InvalidArgument naming what was expected and what came.
  void check_input(const torch::Tensor& x) const;

  // Runs a batch and returns the outputs as [batch, outputs] (a model that
  // returns [batch] has one output). Differentiable when grad mode is on.
  // `x` must already be on device() with dtype().
  torch::Tensor forward(const torch::Tensor& x) const;

  // Output indices to explain for each row: int64 [batch, targets].
  // `outputs` is [batch, outputs] as forward() returns it. A model with one
  // output needs no target: any kind selects it.
  torch::Tensor select_targets(const torch::Tensor& outputs,
                               const Target& target) const;

 private:
  torch::jit::Module module_;
  torch::Device device_;
  std::string path_;
  std::string sha256_;
  torch::ScalarType dtype_ = torch::kFloat32;
  std::vector<int64_t> row_shape_;
  void prepare();
};

// Computes the sha256 of a file, as lowercase hex. Throws IoError.
std::string sha256_file(const std::string& path);

}  // namespace xai
