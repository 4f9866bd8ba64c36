#include "xai/visualize/objective.h"

#include <ATen/CPUGeneratorImpl.h>

#include "test_util.h"
#include "xai/visualize/param.h"
#include "xai/visualize/transform.h"

namespace xai {
namespace {

using test::all_close;
using torch::Tensor;

class VisualizeParts : public test::Seeded {};

TEST_F(VisualizeParts, ObjectiveSpecsParseAndPrint) {
  for (std::string spec :
       {"conv2:5", "-conv1:2", "conv2:5+0.5*conv2:7", "layer:conv2",
        "logit:7", "neuron:conv2:1@3,4", "diversity:relu2-2*fc2:3",
        "direction:fc1:0.5,-1,2"}) {
    EXPECT_EQ(Objective::parse(spec).str(), spec);
  }
  auto o = Objective::parse("conv2:5 + 0.5*conv2:7 - 1e-1*logit:2");
  ASSERT_EQ(o.terms().size(), 3u);
  EXPECT_EQ(o.terms()[2].weight, -0.1);
  EXPECT_EQ((Objective::channel("a", 1) - 2.0 * Objective::logit(0)).str(),
            "a:1-2*logit:0");
}

TEST_F(VisualizeParts, ObjectiveTermsHaveTheirValues) {
  Tensor a = torch::arange(2 * 3 * 2 * 2, torch::kFloat32)
                 .reshape({2, 3, 2, 2});
  Tensor out = torch::tensor({{1.0f, 2.0f}, {3.0f, 4.0f}});
  std::map<std::string, Tensor> layers = {{"a", a}, {"output", out}};
  auto v = [&](const std::string& s) {
    return Objective::parse(s).evaluate(layers);
  };
  EXPECT_TRUE(all_close(v("a:1"), torch::tensor({5.5f, 17.5f})));
  EXPECT_TRUE(all_close(v("neuron:a:1"), torch::tensor({7.0f, 19.0f})));
  EXPECT_TRUE(all_close(v("neuron:a:0@0,1"), torch::tensor({1.0f, 13.0f})));
  EXPECT_TRUE(all_close(v("layer:a"), a.pow(2).flatten(1).sum(1)));
  EXPECT_TRUE(all_close(v("-logit:1+0.5*logit:0"),
                        torch::tensor({-1.5f, -2.5f})));
  EXPECT_TRUE(all_close(v("direction:a:1,0,-1"),
                        torch::tensor({-8.0f, -8.0f})));
  // Two identical items are as similar as can be: diversity -1 each.
  std::map<std::string, Tensor> same = {{"a", a.select(0, 0).expand(
                                                   {2, 3, 2, 2})}};
  EXPECT_TRUE(all_close(Objective::parse("diversity:a").evaluate(same),
                        torch::tensor({-1.0f, -1.0f}), 1e-6));
}

TEST_F(VisualizeParts, FourierMapsAKnownSpectrumToItsImage) {
  int64_t h = 4, w = 6;
  Tensor spec = torch::zeros({1, 1, h, w / 2 + 1, 2});
  spec[0][0][0][1][0] = 1.0;  // cos(2 pi x / w), at frequency 1/6
  Tensor image = fourier_image(spec, h, w);
  double scale = 6.0;  // 1 / (1/6)
  Tensor x = torch::arange(w, torch::kFloat64);
  Tensor expected = (2.0 * torch::cos(2 * M_PI * x / w) * scale /
                     std::sqrt(h * w) / 4.0)
                        .expand({h, w});
  EXPECT_TRUE(all_close(image[0][0], expected, 1e-5));
  EXPECT_NEAR(fourier_scale(h, w)[0][0].item<double>(), 6.0, 1e-6);
  EXPECT_NEAR(fourier_scale(h, w)[1][0].item<double>(), 4.0, 1e-6);
}

TEST_F(VisualizeParts, DecorrelatedColourIsALinearMapOfChannels) {
  Tensor t = torch::zeros({1, 3, 1, 1});
  t[0][0] = 1.0;
  Tensor rgb = decorrelate_colour(t).flatten();
  // The first column of the normalized colour matrix, as in Lucid.
  double norm = std::sqrt(0.26 * 0.26 + 0.27 * 0.27 + 0.27 * 0.27);
  EXPECT_TRUE(all_close(rgb, torch::tensor({0.26, 0.27, 0.27}) / norm,
                        1e-6));
}

TEST_F(VisualizeParts, TransformsGiveTheExpectedTensors) {
  Tensor x = torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}).reshape({1, 1, 2, 2});
  Tensor padded = pad_image(x, 1, 0.5);
  EXPECT_TRUE(all_close(padded[0][0], torch::tensor({{.5f, .5f, .5f, .5f},
                                                     {.5f, 1.f, 2.f, .5f},
                                                     {.5f, 3.f, 4.f, .5f},
                                                     {.5f, .5f, .5f, .5f}})));
  EXPECT_TRUE(all_close(jitter_image(padded, 2, 1, 0)[0][0],
                        torch::tensor({{.5f, 1.f}, {.5f, 3.f}})));
  EXPECT_TRUE(all_close(
      scale_image(x, 2.0)[0][0],
      torch::tensor({{1.0f, 1.25f, 1.75f, 2.0f}, {1.5f, 1.75f, 2.25f, 2.5f},
                     {2.5f, 2.75f, 3.25f, 3.5f}, {3.0f, 3.25f, 3.75f, 4.0f}}),
      1e-6));
  Tensor sq = torch::arange(9, torch::kFloat32).reshape({1, 1, 3, 3});
  // Counter-clockwise as displayed: the top-right corner goes top-left.
  EXPECT_TRUE(all_close(rotate_image(sq, 90.0), torch::rot90(sq, 1, {2, 3}),
                        1e-5));
  EXPECT_TRUE(all_close(fit_image(padded, 2, 2, 0.0), x));
  EXPECT_TRUE(all_close(fit_image(x, 4, 4, 0.5), padded));

  // The random chain keeps the size, and one seed repeats it.
  TransformOptions o;
  std::mt19937_64 a(7), b(7);
  Tensor img = torch::rand({2, 3, 28, 28});
  Tensor ta = random_transform(img, o, a), tb = random_transform(img, o, b);
  EXPECT_EQ(ta.sizes(), img.sizes());
  EXPECT_TRUE(torch::equal(ta, tb));
}

TEST_F(VisualizeParts, PixelParameterizationSquashesIntoTheRange) {
  auto gen = at::detail::createCPUGenerator(0);
  Parameterization p({2, 1, 3, 3}, ParamKind::kPixel, true, Squash::kSigmoid,
                     torch::full({}, -2.0), torch::full({}, 2.0), 0.01, gen,
                     torch::kCPU);
  torch::NoGradGuard no_grad;
  p.parameter().fill_(0.0);
  EXPECT_TRUE(all_close(p.input(), torch::zeros({2, 1, 3, 3})));
  p.parameter().fill_(100.0);
  EXPECT_TRUE(all_close(p.input(), torch::full({2, 1, 3, 3}, 2.0)));
}

}  // namespace
}  // namespace xai
