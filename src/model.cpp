#include "xai/model.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "text.h"
#include "xai/error.h"

namespace xai {
namespace {

using detail::shape_str;

// The reason LibTorch gives, without the TorchScript traceback before it.
std::string torch_reason(const std::string& text) {
  std::string line;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) {
    if (l.find_first_not_of(" \t") != std::string::npos) line = l;
  }
  const std::string prefix = "RuntimeError: ";
  if (line.rfind(prefix, 0) == 0) line = line.substr(prefix.size());
  return line;
}

// Reads the head of a file to tell what torch.save wrote from what
// torch.jit.save wrote: both are zip archives, only TorchScript has code/.
std::string describe_non_torchscript(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  bool zip = bytes.rfind("PK\x03\x04", 0) == 0;
  bool pickle = !bytes.empty() && static_cast<unsigned char>(bytes[0]) == 0x80;
  if ((zip && bytes.find("/code/") == std::string::npos) || pickle) {
    return "it is not a TorchScript archive: it looks like a file written "
           "by torch.save (a pickled nn.Module or a state dict). Export the "
           "model with torch.jit.script(model).save(PATH) or "
           "torch.jit.trace(model, example).save(PATH)";
  }
  return "it is not a TorchScript archive. Export the model with "
         "torch.jit.script(model).save(PATH) or "
         "torch.jit.trace(model, example).save(PATH)";
}

// Trailing shape of one input row implied by a first-layer weight.
std::vector<int64_t> row_shape_from_weight(const torch::Tensor& w) {
  if (w.dim() == 2) return {w.size(1)};
  if (w.dim() >= 3 && w.dim() <= 5) {
    std::vector<int64_t> shape(w.dim() - 1, -1);
    shape[0] = w.size(1);  // groups are not known here: a hint only
    return shape;
  }
  return {};
}

}  // namespace

torch::Device parse_device(const std::string& spec) {
  if (spec == "auto") {
    return torch::cuda::is_available() ? torch::Device(torch::kCUDA, 0)
                                       : torch::Device(torch::kCPU);
  }
  if (spec == "cpu") return torch::kCPU;
  if (spec.rfind("cuda", 0) != 0) {
    throw InvalidArgument("invalid device: '" + spec +
                          "' (use cpu, cuda, cuda:N or auto)");
  }
  int index = 0;
  if (spec != "cuda") {
    std::string digits =
        spec.size() > 5 && spec[4] == ':' ? spec.substr(5) : std::string();
    if (digits.empty() ||
        digits.find_first_not_of("0123456789") != std::string::npos) {
      throw InvalidArgument("invalid device: '" + spec +
                            "' (use cpu, cuda, cuda:N or auto)");
    }
    index = std::stoi(digits);
  }
  if (!torch::cuda::is_available()) {
    throw InvalidArgument("cannot use device '" + spec +
                          "': CUDA is not available in this build or on this "
                          "machine (use --device cpu or auto)");
  }
  if (index >= static_cast<int>(torch::cuda::device_count())) {
    throw InvalidArgument("cannot use device '" + spec + "': only " +
                          std::to_string(torch::cuda::device_count()) +
                          " CUDA device(s) present");
  }
  return torch::Device(torch::kCUDA, index);
}

Target Target::parse(const std::string& spec) {
  Target t;
  if (spec == "pred") return t;
  if (spec == "all") {
    t.kind = Kind::kAll;
    return t;
  }
  if (spec.empty() ||
      spec.find_first_not_of("0123456789") != std::string::npos ||
      spec.size() > 9) {
    throw InvalidArgument("invalid target: '" + spec +
                          "' (use pred, all or an output index)");
  }
  t.kind = Kind::kIndex;
  t.index = std::stoll(spec);
  return t;
}

std::string Target::str() const {
  switch (kind) {
    case Kind::kPredicted:
      return "pred";
    case Kind::kAll:
      return "all";
    case Kind::kIndex:
      break;
  }
  return std::to_string(index);
}

Model Model::load(const std::string& path, const std::string& device) {
  torch::Device dev = parse_device(device);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw IoError("cannot load model " + path + ": no such file");
  }
  if (std::filesystem::is_directory(path, ec)) {
    throw IoError("cannot load model " + path + ": it is a directory");
  }
  if (std::filesystem::file_size(path, ec) == 0) {
    throw IoError("cannot load model " + path + ": the file is empty");
  }
  if (!std::ifstream(path, std::ios::binary)) {
    throw IoError("cannot load model " + path + ": permission denied");
  }
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, dev);
  } catch (const c10::Error& e) {
    throw UnsupportedModel("cannot load model " + path + ": " +
                           describe_non_torchscript(path));
  } catch (const std::exception& e) {
    // The TorchScript compiler rejects the archive's code with a plain
    // exception whose first line says why.
    std::string why = e.what();
    why = why.substr(0, why.find('\n'));
    throw UnsupportedModel("cannot load model " + path +
                           ": its TorchScript code does not compile (" + why +
                           "); export the model again");
  }
  Model model(std::move(module), dev, path);
  model.sha256_ = sha256_file(path);
  return model;
}

Model::Model(torch::jit::Module module, torch::Device device, std::string name)
    : module_(std::move(module)), device_(device), path_(std::move(name)) {
  prepare();
}

void Model::prepare() {
  if (!module_.find_method("forward")) {
    throw UnsupportedModel("cannot use model " + path_ +
                           ": it has no forward method");
  }
  module_.to(device_);
  module_.eval();
  bool have_dtype = false;
  for (const auto& p : module_.parameters(/*recurse=*/true)) {
    p.requires_grad_(false);
    if (!have_dtype && p.is_floating_point()) {
      dtype_ = p.scalar_type();
      row_shape_ = row_shape_from_weight(p);
      have_dtype = true;
    }
  }
}

std::string Model::signature() const {
  std::ostringstream out;
  out << module_.get_method("forward").function().getSchema();
  return out.str();
}

std::vector<std::string> Model::submodule_names() const {
  std::vector<std::string> names;
  for (const auto& item : module_.named_modules()) {
    if (!item.name.empty()) names.push_back(item.name);
  }
  return names;
}

void Model::check_input(const torch::Tensor& x) const {
  if (!x.defined() || x.dim() == 0) {
    throw InvalidArgument(
        "cannot use input: expected a batch [rows, ...], "
        "got a scalar or no tensor");
  }
  if (x.scalar_type() != dtype_) {
    throw InvalidArgument(std::string("cannot use input: expected dtype ") +
                          c10::toString(dtype_) + ", got " +
                          c10::toString(x.scalar_type()));
  }
  if (x.size(0) == 0) {
    throw InvalidArgument("cannot use input: it has no rows");
  }
  // The weight-based hint can be wrong (a reshape in front of the first
  // layer), so a mismatch counts only if the model also rejects a row.
  try {
    torch::NoGradGuard no_grad;
    forward(x.narrow(0, 0, 1));
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {  // c10::Error, or the interpreter's
    std::string expected = row_shape_.empty()
                               ? std::string("a shape the model accepts")
                               : "[rows, " + shape_str(row_shape_).substr(1);
    throw InvalidArgument("cannot run model on input of shape " +
                          shape_str(x.sizes()) + ": expected " + expected +
                          " (" + torch_reason(e.what()) + ")");
  }
}

torch::Tensor Model::forward(const torch::Tensor& x) const {
  auto module = module_;  // a handle: forward() is not const in LibTorch
  torch::IValue out = module.forward({x});
  if (!out.isTensor()) {
    throw UnsupportedModel("cannot use model " + path_ + ": forward returns " +
                           out.tagKind() + ", expected one tensor");
  }
  torch::Tensor y = out.toTensor();
  if (y.dim() == 0 || y.size(0) != x.size(0)) {
    throw UnsupportedModel("cannot use model " + path_ + ": output shape " +
                           shape_str(y.sizes()) +
                           " has no batch dimension "
                           "of " +
                           std::to_string(x.size(0)) + " rows");
  }
  return y.dim() == 1 ? y.unsqueeze(1) : y.flatten(1);
}

torch::Tensor Model::select_targets(const torch::Tensor& outputs,
                                    const Target& target) const {
  int64_t rows = outputs.size(0);
  int64_t n = outputs.size(1);
  auto opts =
      torch::TensorOptions().dtype(torch::kInt64).device(outputs.device());
  if (n == 1) return torch::zeros({rows, 1}, opts);
  switch (target.kind) {
    case Target::Kind::kPredicted:
      return outputs.detach().argmax(1).unsqueeze(1);
    case Target::Kind::kAll:
      return torch::arange(n, opts).unsqueeze(0).expand({rows, n}).clone();
    case Target::Kind::kIndex:
      break;
  }
  if (target.index < 0 || target.index >= n) {
    throw InvalidArgument("invalid target: " + std::to_string(target.index) +
                          " (the model has " + std::to_string(n) +
                          " outputs, 0 to " + std::to_string(n - 1) + ")");
  }
  return torch::full({rows, 1}, target.index, opts);
}

}  // namespace xai
