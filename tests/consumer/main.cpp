// The README's library examples, checked: DeepSHAP and grouped KernelSHAP
// on the bundled breast-cancer model must be complete, and PGD must lower
// the MNIST CNN's accuracy. Usage: consumer SOURCE_DIR.
#include <xai/attack/gradient_attacks.h>
#include <xai/attribution/deeplift.h>
#include <xai/attribution/shapley.h>
#include <xai/io/data.h>
#include <xai/io/npy.h>
#include <xai/model.h>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  const std::string root = argc > 1 ? argv[1] : ".";
  xai::Model model =
      xai::Model::load(root + "/models/breast_cancer_mlp.pt", "cpu");
  xai::LoadOptions load;
  load.label_column = "target";
  torch::Tensor x =
      xai::load_data(root + "/models/data/breast_cancer.csv", load).x;

  xai::DeepShap explainer(model, x.slice(0, 0, 100));
  xai::Attribution a = explainer.attribute(x.slice(0, 100, 110), {});
  std::cout << "deepshap values " << a.values.sizes() << ", max relative gap "
            << xai::max_relative_gap(a) << "\n";

  xai::KernelShapOptions options;
  options.background = x.slice(0, 0, 100);
  options.players = xai::Players::groups(30, {{"radius", {0, 10, 20}}});
  xai::PlayerAttribution r =
      xai::KernelShap(model, options).explain(x.slice(0, 100, 110), {});
  std::cout << "kernelshap player values " << r.player_values.sizes()
            << ", max relative gap " << xai::max_relative_gap(r.attribution)
            << "\n";

  xai::Model cnn = xai::Model::load(root + "/models/mnist_cnn.pt");
  torch::Tensor digits =
      xai::load_npy(root + "/models/data/mnist_test_images.npy")
          .slice(0, 0, 20);
  torch::Tensor labels =
      xai::load_npy(root + "/models/data/mnist_test_labels.npy")
          .slice(0, 0, 20);
  xai::ThreatModel threat;
  threat.eps = 0.2;
  xai::AttackResult attacked = xai::Pgd(cnn, threat).run(digits, labels);
  std::cout << "pgd: clean accuracy " << attacked.clean_accuracy()
            << ", robust accuracy " << attacked.robust_accuracy() << "\n";

  bool ok = a.values.size(2) == 30 && xai::max_relative_gap(a) < 1e-4 &&
            r.player_values.size(2) == 28 &&
            xai::max_relative_gap(r.attribution) < 1e-4 &&
            attacked.robust_accuracy() < attacked.clean_accuracy();
  std::cout << (ok ? "consumer checks passed" : "consumer checks FAILED")
            << "\n";
  return ok ? 0 : 1;
}
