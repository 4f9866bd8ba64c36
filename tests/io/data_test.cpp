#include "xai/io/data.h"

#include <gtest/gtest.h>
#include <stb_image_write.h>
#include <torch/script.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "test_util.h"
#include "xai/error.h"
#include "xai/io/npy.h"

namespace xai {
namespace {

namespace fs = std::filesystem;
using test::error_message;

const char kSupported[] =
    "(supported: .csv, .npy, .pt, .pth, .png, .jpg, .jpeg, or a directory "
    "of images)";

class DataTest : public test::Seeded {
 protected:
  void SetUp() override {
    test::Seeded::SetUp();
    dir_ = test::temp_dir("xai-data");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes `text` to `name` in the temporary directory; returns its path.
  std::string file(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  // Writes a PNG of `channels` x `height` x `width` bytes, each pixel value
  // (c, y, x) being `base` + 10 * c + 3 * y + x.
  std::string png(const std::string& name, int width, int height, int channels,
                  int base = 0) {
    std::vector<unsigned char> pixels(width * height * channels);
    for (int y = 0; y < height; ++y) {
      for (int x = 0; x < width; ++x) {
        for (int c = 0; c < channels; ++c) {
          pixels[(y * width + x) * channels + c] =
              static_cast<unsigned char>(base + 10 * c + 3 * y + x);
        }
      }
    }
    std::string path = dir_ + "/" + name;
    fs::create_directories(fs::path(path).parent_path());
    EXPECT_NE(stbi_write_png(path.c_str(), width, height, channels,
                             pixels.data(), width * channels),
              0);
    return path;
  }

  std::string dir_;
};

// CSV

TEST_F(DataTest, CsvHeaderNamesFeaturesAndQuotedFieldsKeepCommas) {
  std::string path = file("t.csv",
                          "\"size, mm\",weight,\"say \"\"hi\"\"\"\n"
                          "1.5,\"2\",-3e2\n"
                          "4,5,6\n");
  Dataset data = load_data(path);
  EXPECT_EQ(data.feature_names,
            (std::vector<std::string>{"size, mm", "weight", "say \"hi\""}));
  EXPECT_EQ(data.x.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(
      data.x, torch::tensor({{1.5f, 2.0f, -300.0f}, {4.0f, 5.0f, 6.0f}})));
  EXPECT_FALSE(data.labels.defined());
  EXPECT_TRUE(data.files.empty());
}

TEST_F(DataTest, CsvAcceptsCrlfByteOrderMarkBlanksAndBlankLines) {
  std::string path = file("t.CSV",
                          "\xEF\xBB\xBF"
                          "a,b\r\n 1 , 2\r\n\r\n3,4\r\n\r\n");
  Dataset data = load_data(path);
  EXPECT_EQ(data.feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(
      torch::equal(data.x, torch::tensor({{1.0f, 2.0f}, {3.0f, 4.0f}})));
}

TEST_F(DataTest, CsvLabelColumnMovesToLabels) {
  std::string path = file("t.csv", "a,target,b\n1,0,2\n3,1,4\n5,2,6\n");
  LoadOptions options;
  options.label_column = "target";
  Dataset data = load_data(path, options);
  EXPECT_EQ(data.feature_names, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(torch::equal(
      data.x, torch::tensor({{1.0f, 2.0f}, {3.0f, 4.0f}, {5.0f, 6.0f}})));
  EXPECT_EQ(data.labels.scalar_type(), torch::kInt64);
  EXPECT_TRUE(
      torch::equal(data.labels, torch::tensor({0, 1, 2}).to(torch::kInt64)));
}

TEST_F(DataTest, CsvMissingLabelColumnListsTheColumns) {
  std::string path = file("t.csv", "a,b,label\n1,2,0\n");
  LoadOptions options;
  options.label_column = "y";
  EXPECT_EQ(error_message([&] { load_data(path, options); }),
            "cannot load " + path + ": no column 'y' (columns: a, b, label)");
}

TEST_F(DataTest, CsvNonIntegerLabelNamesRowAndColumn) {
  std::string path = file("t.csv", "a,label\n1,0\n2,1.5\n");
  LoadOptions options;
  options.label_column = "label";
  EXPECT_EQ(error_message([&] { load_data(path, options); }),
            "cannot load " + path +
                ": row 2, column 'label': label '1.5' is not an integer");
}

TEST_F(DataTest, CsvNonNumericCellNamesRowAndColumn) {
  std::string path = file("t.csv", "a,b\n1,2\n3,abc\n");
  EXPECT_EQ(error_message([&] { load_data(path); }),
            "cannot load " + path +
                ": row 2, column 'b': 'abc' is not a "
                "number");
  EXPECT_THROW(load_data(path), InvalidArgument);
}

TEST_F(DataTest, CsvEmptyCellNamesRowAndColumn) {
  std::string path = file("t.csv", "a,b\n1,\n");
  EXPECT_EQ(error_message([&] { load_data(path); }),
            "cannot load " + path + ": row 1, column 'b' is empty");
}

TEST_F(DataTest, CsvRaggedRowIsNamed) {
  std::string path = file("t.csv", "a,b,c\n1,2,3\n4,5\n");
  EXPECT_EQ(error_message([&] { load_data(path); }),
            "cannot load " + path + ": row 2 has 2 fields, the header has 3");
}

TEST_F(DataTest, CsvNanCellIsRefusedNamingItsRow) {
  std::string path = file("t.csv", "a,b\n1,2\n3,NaN\n");
  EXPECT_EQ(
      error_message([&] { load_data(path); }),
      "cannot load " + path + ": row 2, column 'b' is NaN or infinity ('NaN')");
}

TEST_F(DataTest, CsvValueBeyondFloat32IsRefused) {
  std::string path = file("t.csv", "a\n1e39\n");
  EXPECT_EQ(error_message([&] { load_data(path); }),
            "cannot load " + path +
                ": row 1, column 'a': 1e39 is too large for float32");
}

TEST_F(DataTest, CsvUnclosedQuoteIsNamed) {
  std::string path = file("t.csv", "a,b\n1,\"2\n");
  EXPECT_EQ(error_message([&] { load_data(path); }),
            "cannot load " + path +
                ": row 1 has a quoted field with no closing quote");
}

TEST_F(DataTest, CsvWithOnlyTheLabelColumnIsRefused) {
  std::string path = file("t.csv", "y\n1\n");
  LoadOptions options;
  options.label_column = "y";
  EXPECT_EQ(error_message([&] { load_data(path, options); }),
            "cannot load " + path +
                ": no feature columns besides the label column 'y'");
}

TEST_F(DataTest, CsvHeaderOnlyIsRefused) {
  std::string path = file("t.csv", "a,b\n");
  EXPECT_EQ(error_message([&] { load_data(path); }),
            "cannot load " + path + ": no data rows after the header");
  EXPECT_THROW(load_data(path), InvalidArgument);
}

TEST_F(DataTest, EmptyCsvIsAnIoError) {
  std::string path = file("t.csv", "");
  EXPECT_EQ(error_message([&] { load_data(path); }),
            "cannot load " + path + ": file is empty");
  EXPECT_THROW(load_data(path), IoError);
}

TEST_F(DataTest, BundledBreastCancerCsvLoads) {
  LoadOptions options;
  options.label_column = "target";
  Dataset data =
      load_data(test::source_path("models/data/breast_cancer.csv"), options);
  EXPECT_EQ(data.x.sizes(), (std::vector<int64_t>{569, 30}));
  EXPECT_EQ(data.feature_names.size(), 30u);
  EXPECT_EQ(data.labels.sizes(), (std::vector<int64_t>{569}));
  EXPECT_EQ(data.labels.min().item<int64_t>(), 0);
  EXPECT_EQ(data.labels.max().item<int64_t>(), 1);
}

// Paths and extensions

TEST_F(DataTest, MissingPathIsAnIoError) {
  std::string path = dir_ + "/absent.csv";
  EXPECT_EQ(error_message([&] { load_data(path); }),
            "cannot read " + path + ": no such file");
  EXPECT_THROW(load_data(path), IoError);
}

TEST_F(DataTest, UnknownExtensionListsSupportedOnes) {
  std::string path = file("t.txt", "1 2 3\n");
  EXPECT_EQ(error_message([&] { load_data(path); }),
            "cannot load " + path + ": unknown extension '.txt' " + kSupported);
  EXPECT_THROW(load_data(path), InvalidArgument);
}

TEST_F(DataTest, LabelColumnOnNonCsvIsRefused) {
  std::string path = dir_ + "/x.npy";
  save_npy(path, torch::zeros({2, 2}));
  LoadOptions options;
  options.label_column = "target";
  EXPECT_EQ(
      error_message([&] { load_data(path, options); }),
      "cannot load " + path + ": a label column applies to CSV files only");
}

// NumPy

TEST_F(DataTest, IntegerNpyBecomesFloat32) {
  std::string path = dir_ + "/x.NPY";
  save_npy(path, torch::arange(6, torch::kInt64).reshape({2, 3}));
  Dataset data = load_data(path);
  EXPECT_EQ(data.x.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(
      torch::equal(data.x, torch::arange(6, torch::kFloat32).reshape({2, 3})));
  EXPECT_TRUE(data.feature_names.empty());
}

TEST_F(DataTest, NpyWithNanNamesTheFirstRowWithOne) {
  torch::Tensor x = torch::zeros({4, 2, 2}, torch::kFloat64);
  x[2][1][0] = std::numeric_limits<double>::infinity();
  x[3][0][0] = std::nan("");
  std::string path = dir_ + "/x.npy";
  save_npy(path, x);
  EXPECT_EQ(
      error_message([&] { load_data(path); }),
      "cannot load " + path + ": row 3 (index 2) contains NaN or infinity");
}

TEST_F(DataTest, Float64BeyondFloat32IsRefused) {
  std::string path = dir_ + "/x.npy";
  save_npy(path, torch::tensor({{1.0}, {1e300}}, torch::kFloat64));
  EXPECT_EQ(error_message([&] { load_data(path); }),
            "cannot load " + path +
                ": row 2 (index 1) holds a value too large for float32");
}

TEST_F(DataTest, ZeroDimensionalNpyIsRefused) {
  std::string path = dir_ + "/x.npy";
  save_npy(path, torch::tensor(1.0f));
  EXPECT_EQ(error_message([&] { load_data(path); }),
            "cannot load " + path +
                ": it holds a single number; need an array of shape "
                "[rows, ...]");
}

// torch.save files. The fixtures in tests/data were made with python3-torch
// 1.13:
//   import torch
//   torch.save(torch.arange(12, dtype=torch.float32).reshape(3, 4) / 4,
//              'tensor_3x4.pt')
//   torch.save(torch.arange(6).reshape(2, 3), 'int64_2x3.pt')
//   torch.save(torch.arange(10, dtype=torch.float64)[4:].reshape(2, 3),
//              'view_offset.pt')
//   torch.save({'weight': torch.zeros(2)}, 'state_dict.pt')
//   torch.save((torch.zeros(2), torch.ones(2)), 'tuple.pt')
//   torch.save(torch.zeros(2), 'legacy_format.pt',
//              _use_new_zipfile_serialization=False)

TEST_F(DataTest, TorchSaveTensorLoads) {
  Dataset data = load_data(test::source_path("tests/data/tensor_3x4.pt"));
  EXPECT_TRUE(torch::equal(
      data.x, torch::arange(12, torch::kFloat32).reshape({3, 4}) / 4));
}

TEST_F(DataTest, TorchSaveIntegerTensorBecomesFloat32) {
  Dataset data = load_data(test::source_path("tests/data/int64_2x3.pt"));
  EXPECT_EQ(data.x.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(
      torch::equal(data.x, torch::arange(6, torch::kFloat32).reshape({2, 3})));
}

TEST_F(DataTest, TorchSaveViewKeepsItsStorageOffset) {
  Dataset data = load_data(test::source_path("tests/data/view_offset.pt"));
  EXPECT_TRUE(torch::equal(
      data.x, torch::arange(4, 10, torch::kFloat32).reshape({2, 3})));
}

TEST_F(DataTest, PthExtensionIsATorchSaveFile) {
  std::string path = dir_ + "/x.pth";
  fs::copy_file(test::source_path("tests/data/tensor_3x4.pt"), path);
  EXPECT_EQ(load_data(path).x.sizes(), (std::vector<int64_t>{3, 4}));
}

TEST_F(DataTest, TorchSaveTupleIsRefused) {
  std::string path = test::source_path("tests/data/tuple.pt");
  EXPECT_EQ(error_message([&] { load_data(path); }),
            "cannot load " + path +
                ": it holds a tuple, not a tensor (save one tensor with "
                "torch.save(tensor, path))");
  EXPECT_THROW(load_data(path), InvalidArgument);
}

TEST_F(DataTest, TorchSaveDictIsRefused) {
  // LibTorch cannot unpickle a Python dict; the message passes on its reason.
  std::string path = test::source_path("tests/data/state_dict.pt");
  std::string message = error_message([&] { load_data(path); });
  std::string expected = "cannot load " + path +
                         ": LibTorch cannot read its contents as a tensor "
                         "(save one tensor with torch.save(tensor, path)); "
                         "LibTorch says: ";
  EXPECT_EQ(message.substr(0, expected.size()), expected);
  EXPECT_THROW(load_data(path), InvalidArgument);
}

TEST_F(DataTest, LegacyTorchSaveFormatIsRefused) {
  std::string path = test::source_path("tests/data/legacy_format.pt");
  EXPECT_EQ(error_message([&] { load_data(path); }),
            "cannot load " + path +
                ": not a zip archive written by torch.save (files saved by "
                "PyTorch before 1.6 or with "
                "_use_new_zipfile_serialization=False must be saved again "
                "with a current torch.save)");
  EXPECT_THROW(load_data(path), IoError);
}

TEST_F(DataTest, TorchScriptModelIsNotData) {
  torch::jit::Module module("Identity");
  module.define("def forward(self, x):\n  return x\n");
  std::string path = dir_ + "/model.pt";
  module.save(path);
  EXPECT_EQ(error_message([&] { load_data(path); }),
            "cannot load " + path +
                ": it is a TorchScript model, not a tensor (save the inputs "
                "with torch.save(tensor, path))");
}

TEST_F(DataTest, EmptyPtIsAnIoError) {
  std::string path = file("x.pt", "");
  EXPECT_EQ(error_message([&] { load_data(path); }),
            "cannot load " + path + ": file is empty");
}

// Images

TEST_F(DataTest, PngBecomesOneRowInUnitRange) {
  std::string path = png("one.png", 4, 3, 3);
  Dataset data = load_data(path);
  ASSERT_EQ(data.x.sizes(), (std::vector<int64_t>{1, 3, 3, 4}));
  EXPECT_EQ(data.x.scalar_type(), torch::kFloat32);
  // Pixel (c=2, y=1, x=3) was 10 * 2 + 3 * 1 + 3 = 26.
  EXPECT_FLOAT_EQ(data.x[0][2][1][3].item<float>(), 26.0f / 255.0f);
  EXPECT_EQ(data.files, std::vector<std::string>{path});
  EXPECT_TRUE(data.feature_names.empty());
}

TEST_F(DataTest, JpegExtensionInAnyCaseIsAnImage) {
  std::vector<unsigned char> gray(8 * 4, 128);
  std::string path = dir_ + "/photo.JPEG";
  ASSERT_NE(stbi_write_jpg(path.c_str(), 8, 4, 1, gray.data(), 90), 0);
  // stbi_write_jpg stores three channels even for gray input.
  LoadOptions options;
  options.channels = 1;
  Dataset data = load_data(path, options);
  EXPECT_EQ(data.x.sizes(), (std::vector<int64_t>{1, 1, 4, 8}));
  EXPECT_NEAR(data.x.mean().item<float>(), 128.0f / 255.0f, 2.0f / 255.0f);
}

TEST_F(DataTest, ImageDirectoryLoadsFilesSortedByName) {
  png("imgs/b.PNG", 4, 3, 3, /*base=*/100);
  png("imgs/a.png", 4, 3, 3, /*base=*/0);
  file("imgs/notes.txt", "not an image");
  Dataset data = load_data(dir_ + "/imgs");
  ASSERT_EQ(data.x.sizes(), (std::vector<int64_t>{2, 3, 3, 4}));
  EXPECT_EQ(data.files, (std::vector<std::string>{dir_ + "/imgs/a.png",
                                                  dir_ + "/imgs/b.PNG"}));
  EXPECT_FLOAT_EQ(data.x[0][0][0][0].item<float>(), 0.0f);
  EXPECT_FLOAT_EQ(data.x[1][0][0][0].item<float>(), 100.0f / 255.0f);
}

TEST_F(DataTest, ChannelsOptionConvertsToGrayscaleOrRgb) {
  std::string rgb = png("rgb.png", 2, 2, 3);
  std::string gray = png("gray.png", 2, 2, 1);
  LoadOptions options;
  options.channels = 1;
  EXPECT_EQ(load_data(rgb, options).x.sizes(),
            (std::vector<int64_t>{1, 1, 2, 2}));
  options.channels = 3;
  Dataset data = load_data(gray, options);
  ASSERT_EQ(data.x.sizes(), (std::vector<int64_t>{1, 3, 2, 2}));
  EXPECT_TRUE(torch::equal(data.x[0][0], data.x[0][2]));
  options.channels = 0;
  EXPECT_EQ(load_data(gray, options).x.sizes(),
            (std::vector<int64_t>{1, 1, 2, 2}));
}

TEST_F(DataTest, ImagesOfDifferentSizesNameTheFirstThatDiffers) {
  png("imgs/a.png", 4, 3, 3);
  png("imgs/b.png", 4, 3, 3);
  png("imgs/c.png", 5, 3, 3);
  png("imgs/d.png", 6, 3, 3);
  std::string dir = dir_ + "/imgs";
  EXPECT_EQ(error_message([&] { load_data(dir); }),
            "cannot load " + dir +
                ": c.png is 5x3 with 3 channels, unlike a.png (4x3 with 3 "
                "channels); all images must have the same size");
}

TEST_F(DataTest, DirectoryWithoutImagesIsRefused) {
  file("empty/readme.md", "#");
  std::string dir = dir_ + "/empty";
  EXPECT_EQ(
      error_message([&] { load_data(dir); }),
      "cannot load " + dir + ": no .png, .jpg or .jpeg files in the directory");
}

TEST_F(DataTest, CorruptImageIsAnIoErrorNamingTheFile) {
  std::string path = file("bad.jpg", "not a jpeg at all");
  std::string message = error_message([&] { load_data(path); });
  EXPECT_EQ(message.rfind("cannot load " + path + ": ", 0), 0u) << message;
  EXPECT_THROW(load_data(path), IoError);
}

TEST_F(DataTest, UnsupportedChannelCountIsRefused) {
  std::string path = png("one.png", 2, 2, 3);
  LoadOptions options;
  options.channels = 2;
  EXPECT_EQ(error_message([&] { load_data(path, options); }),
            "cannot load " + path + ": channels must be 0, 1 or 3 (got 2)");
}

// Labels

TEST_F(DataTest, LabelsCsvWithOrWithoutHeader) {
  torch::Tensor expected = torch::tensor({2, 0, 1}).to(torch::kInt64);
  EXPECT_TRUE(
      torch::equal(load_labels(file("a.csv", "label\n2\n0\n1\n")), expected));
  EXPECT_TRUE(
      torch::equal(load_labels(file("b.csv", "2\n0\n1.0\n")), expected));
}

TEST_F(DataTest, LabelsNpyOfIntegersOrIntegralFloats) {
  std::string a = dir_ + "/a.npy", b = dir_ + "/b.npy";
  save_npy(a, torch::tensor({3, 1}).to(torch::kInt32));
  save_npy(b, torch::tensor({{3.0}, {1.0}}));
  torch::Tensor expected = torch::tensor({3, 1}).to(torch::kInt64);
  EXPECT_TRUE(torch::equal(load_labels(a), expected));
  EXPECT_TRUE(torch::equal(load_labels(b), expected));
}

TEST_F(DataTest, LabelsMustBeIntegers) {
  std::string path = file("l.csv", "label\n1\n0.5\n");
  EXPECT_EQ(error_message([&] { load_labels(path); }),
            "cannot load " + path + ": row 2: label '0.5' is not an integer");

  std::string npy = dir_ + "/l.npy";
  save_npy(npy, torch::tensor({1.0, 2.5}));
  EXPECT_EQ(error_message([&] { load_labels(npy); }),
            "cannot load " + npy +
                ": row 2 (index 1) holds a label that is not an integer");
}

TEST_F(DataTest, LabelsCsvWithSeveralColumnsIsRefused) {
  std::string path = file("l.csv", "1,2\n");
  EXPECT_EQ(error_message([&] { load_labels(path); }),
            "cannot load " + path +
                ": row 1 has 2 fields; a labels file has one column");
}

}  // namespace
}  // namespace xai
