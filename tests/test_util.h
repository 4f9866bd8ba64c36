// Helpers shared by the tests: seeded fixtures, tensor assertions with the
// largest error, and small models defined from TorchScript source.
#pragma once

#include <gtest/gtest.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <string>

#include "xai/model.h"

namespace xai::test {

// Path of a file in the source tree, e.g. source_path("models/x.pt").
std::string source_path(const std::string& relative);

// A fresh temporary directory, removed by the caller or left in /tmp.
std::string temp_dir(const std::string& prefix);

// A Model on the CPU from TorchScript source defining `forward(self, x)`;
// `params` are registered as parameters first, so the source can read them
// as self.<name>.
Model model_from_source(
    const std::string& source,
    const std::vector<std::pair<std::string, torch::Tensor>>& params = {});

// Asserts |a - b| <= atol + rtol * |b| elementwise; on failure reports the
// shapes and the largest absolute error and where it occurs.
::testing::AssertionResult all_close(const torch::Tensor& a,
                                     const torch::Tensor& b,
                                     double atol = 1e-6, double rtol = 0.0);

// Runs `fn` and returns the message of the xai::Error it throws, or
// "<no exception>" when it throws none.
template <typename Fn>
std::string error_message(Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "<no exception>";
}

// Seeds LibTorch's RNG for every test that derives from it.
class Seeded : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(0); }
};

}  // namespace xai::test
