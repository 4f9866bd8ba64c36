#include "xai/plot/plot.h"

#include <stb_image.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"
#include "xai/attribution/attribution.h"
#include "xai/io/explanation.h"

namespace xai {
namespace {

using test::error_message;
namespace fs = std::filesystem;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Width and height from a PNG file's IHDR chunk; {0, 0} when the file does
// not start with the PNG signature.
std::pair<int, int> png_size(const std::string& path) {
  std::string bytes = read_text(path);
  const std::string signature = "\x89PNG\r\n\x1a\n";
  if (bytes.size() < 24 || bytes.compare(0, 8, signature) != 0) return {0, 0};
  auto be32 = [&](size_t at) {
    uint32_t v = 0;
    for (size_t i = 0; i < 4; ++i) {
      v = (v << 8) | static_cast<uint8_t>(bytes[at + i]);
    }
    return static_cast<int>(v);
  };
  return {be32(16), be32(20)};
}

// 40 rows of 5 tabular features whose values are 1, 2, ... times the
// feature's data, so that feature 4 matters most.
PlotData tabular() {
  torch::manual_seed(0);
  PlotData d;
  d.data = torch::randn({40, 5}, torch::kFloat64);
  d.values = d.data * torch::arange(1, 6, torch::kFloat64);
  d.feature_names = {"mean radius", "texture", "worst area", "symmetry",
                     "concave points"};
  d.base_values = torch::full({40}, 0.25, torch::kFloat64);
  d.outputs = d.base_values + d.values.sum(1);
  return d;
}

class PlotTest : public test::Seeded {
 protected:
  void SetUp() override {
    test::Seeded::SetUp();
    dir_ = test::temp_dir("xai_plot_test");
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }

  std::string dir_;
};

TEST_F(PlotTest, PngHasTheRequestedSize) {
  PlotOptions options;
  options.width = 640;
  options.height = 480;
  plot_bar(tabular(), options, path("bar.png"));
  EXPECT_EQ(png_size(path("bar.png")), std::make_pair(640, 480));

  plot_beeswarm(tabular(), options, path("beeswarm.png"));
  EXPECT_EQ(png_size(path("beeswarm.png")), std::make_pair(640, 480));

  // Height 0 fits the content: more features, a taller figure.
  options.height = 0;
  plot_waterfall(tabular(), options, path("w5.png"));
  options.max_features = 2;
  plot_waterfall(tabular(), options, path("w2.png"));
  EXPECT_EQ(png_size(path("w5.png")).first, 640);
  EXPECT_GT(png_size(path("w5.png")).second, png_size(path("w2.png")).second);
}

TEST_F(PlotTest, SvgKeepsFeatureNamesAndNumbersAsText) {
  PlotOptions options;
  options.width = 900;
  plot_beeswarm(tabular(), options, path("beeswarm.svg"));
  std::string svg = read_text(path("beeswarm.svg"));
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_NE(svg.find("width=\"900\""), std::string::npos);
  for (const char* name :
       {"mean radius", "texture", "worst area", "symmetry", "concave points"}) {
    EXPECT_NE(svg.find(std::string(">") + name + "<"), std::string::npos)
        << name;
  }

  // The waterfall writes f(x) and E[f(X)] of the row with their numbers.
  PlotData d = tabular();
  d.values = torch::tensor({{1.5, -0.5, 0.0, 0.0, 0.0}}, torch::kFloat64);
  d.data = d.data.slice(0, 0, 1);
  d.base_values = torch::tensor({0.25}, torch::kFloat64);
  d.outputs = torch::tensor({1.25}, torch::kFloat64);
  plot_waterfall(d, options, path("waterfall.svg"));
  svg = read_text(path("waterfall.svg"));
  EXPECT_NE(svg.find("f(x) = 1.25"), std::string::npos);
  EXPECT_NE(svg.find("+1.5"), std::string::npos);
  EXPECT_NE(svg.find("-0.5"), std::string::npos);
}

TEST_F(PlotTest, ImageHeatMapIsRedWherePositiveAndBlueWhereNegative) {
  // Positive attributions on the left half of the digit, negative on the
  // right half.
  PlotData d;
  d.values = torch::ones({1, 1, 28, 28}, torch::kFloat64);
  d.values.narrow(3, 14, 14).fill_(-1.0);
  d.data = torch::zeros({1, 1, 28, 28}, torch::kFloat64);
  PlotOptions options;
  options.width = 800;
  plot_image(d, options, path("image.png"));

  int width = 0, height = 0, channels = 0;
  uint8_t* rgb =
      stbi_load(path("image.png").c_str(), &width, &height, &channels, 3);
  ASSERT_NE(rgb, nullptr);
  // The heat map is the right panel; the colour bar lies below the panels,
  // so the upper half of the figure holds panel pixels only.
  double red_x = 0, blue_x = 0;
  int64_t red = 0, blue = 0;
  for (int y = 0; y < height / 2; ++y) {
    for (int x = width / 2; x < width; ++x) {
      const uint8_t* p = rgb + 3 * (y * width + x);
      if (p[0] > 200 && p[1] < 80 && p[2] < 140) red_x += x, ++red;
      if (p[2] > 200 && p[0] < 60) blue_x += x, ++blue;
    }
  }
  stbi_image_free(rgb);
  ASSERT_GT(red, 1000);
  ASSERT_GT(blue, 1000);
  EXPECT_LT(red_x / red, blue_x / blue);
}

TEST_F(PlotTest, ReadsExplanationJsonWrittenByTheLibrary) {
  Attribution a;
  a.method = "kernelshap";
  a.values = torch::tensor({{{0.5, -1.0, 0.25}}, {{1.0, 0.0, -0.5}}});
  a.targets = torch::zeros({2, 1}, torch::kInt64);
  a.outputs = torch::tensor({{1.0}, {2.0}});
  a.base_values = torch::tensor({{0.25}, {1.5}});
  a.completeness_gap = torch::zeros({2, 1});
  ExplanationMeta meta;
  meta.feature_names = {"a", "b", "c"};
  meta.num_outputs = 2;
  meta.data = torch::tensor({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  write_explanation(dir_, a, meta);

  PlotData d = plot_data_from_explanation(path("explanation.json"));
  EXPECT_TRUE(test::all_close(d.values,
                              a.values.select(1, 0).to(torch::kFloat64), 1e-7));
  EXPECT_TRUE(test::all_close(d.base_values,
                              torch::tensor({0.25, 1.5}, torch::kFloat64)));
  EXPECT_EQ(d.feature_names, meta.feature_names);
  plot_waterfall(d, {}, path("waterfall.png"));
  EXPECT_EQ(png_size(path("waterfall.png")).first, 800);
}

TEST_F(PlotTest, BadRequestsAreRefusedAndWriteNothing) {
  EXPECT_EQ(error_message([&] { plot_bar(tabular(), {}, path("bar.jpg")); }),
            "cannot write plot " + path("bar.jpg") +
                ": unsupported format (use .png or .svg)");
  PlotOptions narrow;
  narrow.width = 10;
  EXPECT_NE(error_message([&] {
              plot_bar(tabular(), narrow, path("b.png"));
            }).find("width"),
            std::string::npos);
  EXPECT_EQ(error_message([] { plot_kind_from_string("violin"); }),
            "unknown plot kind 'violin' (use beeswarm, bar, waterfall or "
            "image)");
  // A waterfall needs base values.
  PlotData d = tabular();
  d.base_values = torch::Tensor();
  EXPECT_NE(error_message([&] { plot_waterfall(d, {}, path("w.png")); }),
            "<no exception>");
  EXPECT_FALSE(fs::exists(path("bar.jpg")));
  EXPECT_FALSE(fs::exists(path("b.png")));
  EXPECT_FALSE(fs::exists(path("w.png")));
  EXPECT_EQ(error_message([&] {
              plot_data_from_explanation(path("missing.json"));
            }).find("cannot read"),
            0u);
}

}  // namespace
}  // namespace xai
