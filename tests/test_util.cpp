#include "test_util.h"

#include <cstdlib>
#include <filesystem>
#include <random>
#include <sstream>

namespace xai::test {

std::string source_path(const std::string& relative) {
  return std::string(XAI_SOURCE_DIR) + "/" + relative;
}

std::string temp_dir(const std::string& prefix) {
  std::random_device rd;
  auto dir = std::filesystem::temp_directory_path() /
             (prefix + "-" + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  return dir.string();
}

Model model_from_source(
    const std::string& source,
    const std::vector<std::pair<std::string, torch::Tensor>>& params) {
  torch::jit::Module module("TestModel");
  for (const auto& [name, value] : params) {
    module.register_parameter(name, value, /*is_buffer=*/false);
  }
  module.define(source);
  return Model(module, torch::kCPU);
}

::testing::AssertionResult all_close(const torch::Tensor& a,
                                     const torch::Tensor& b, double atol,
                                     double rtol) {
  if (a.sizes() != b.sizes()) {
    return ::testing::AssertionFailure()
           << "shapes differ: " << a.sizes() << " vs " << b.sizes();
  }
  auto ad = a.detach().to(torch::kCPU, torch::kFloat64);
  auto bd = b.detach().to(torch::kCPU, torch::kFloat64);
  auto err = (ad - bd).abs();
  auto tol = atol + rtol * bd.abs();
  if ((err <= tol).all().item<bool>()) {
    return ::testing::AssertionSuccess();
  }
  auto flat = err.flatten();
  int64_t at = flat.argmax().item<int64_t>();
  std::ostringstream msg;
  msg << "largest error " << flat[at].item<double>() << " at flat index "
      << at << " (" << ad.flatten()[at].item<double>() << " vs "
      << bd.flatten()[at].item<double>() << "), atol " << atol << ", rtol "
      << rtol;
  return ::testing::AssertionFailure() << msg.str();
}

}  // namespace xai::test
