#include "xai/io/npy.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "test_util.h"
#include "xai/error.h"
#include "xai/io/file.h"

namespace xai {
namespace {

namespace fs = std::filesystem;
using test::error_message;

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// A .npy file made by hand: `dict` is the header text before padding.
std::string npy_with_header(const std::string& dict, const std::string& data,
                            int major = 1) {
  std::string header = dict;
  const size_t length_bytes = major == 1 ? 2 : 4;
  size_t total = 8 + length_bytes + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';

  std::string bytes = "\x93NUMPY";
  bytes += static_cast<char>(major);
  bytes += '\0';
  for (size_t i = 0; i < length_bytes; ++i) {
    bytes += static_cast<char>((header.size() >> (8 * i)) & 0xff);
  }
  return bytes + header + data;
}

std::string npy_raw(const std::string& descr, const std::string& shape,
                    const std::string& data, bool fortran = false,
                    int major = 1) {
  return npy_with_header("{'descr': '" + descr + "', 'fortran_order': " +
                             (fortran ? "True" : "False") +
                             ", 'shape': " + shape + ", }",
                         data, major);
}

// The bytes of `values` as stored in memory, optionally reversed per element.
template <typename T>
std::string raw(const std::vector<T>& values, bool big_endian = false) {
  std::string bytes;
  for (T v : values) {
    std::string one(reinterpret_cast<const char*>(&v), sizeof(T));
    if (big_endian) one.assign(one.rbegin(), one.rend());
    bytes += one;
  }
  return bytes;
}

class NpyTest : public test::Seeded {
 protected:
  void SetUp() override {
    test::Seeded::SetUp();
    dir_ = test::temp_dir("xai-npy");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes `bytes` to a file in the temporary directory; returns its path.
  std::string file(const std::string& name, const std::string& bytes) {
    std::string path = dir_ + "/" + name;
    write_bytes(path, bytes);
    return path;
  }

  std::string dir_;
};

TEST_F(NpyTest, SaveThenLoadIsExactForEveryWritableDtype) {
  std::vector<torch::Tensor> tensors = {
      torch::randn({3, 4}),
      torch::randn({2, 3, 5}, torch::kFloat64),
      torch::randint(-1000000, 1000000, {7}, torch::kInt64),
      torch::randint(-1000, 1000, {2, 2}, torch::kInt32),
      torch::randint(0, 256, {4, 1}, torch::kUInt8),
      torch::rand({5}) > 0.5,
      torch::tensor(3.5),    // 0-d
      torch::empty({0, 3}),  // no rows
  };
  for (size_t i = 0; i < tensors.size(); ++i) {
    std::string path = dir_ + "/t" + std::to_string(i) + ".npy";
    save_npy(path, tensors[i]);
    torch::Tensor back = load_npy(path);
    EXPECT_EQ(back.scalar_type(), tensors[i].scalar_type()) << i;
    EXPECT_EQ(back.sizes(), tensors[i].sizes()) << i;
    EXPECT_TRUE(torch::equal(back, tensors[i])) << i;
  }
}

TEST_F(NpyTest, SaveWritesNonContiguousTensorsInLogicalOrder) {
  torch::Tensor t = torch::arange(12, torch::kFloat32).reshape({3, 4}).t();
  save_npy(dir_ + "/t.npy", t);
  EXPECT_TRUE(torch::equal(load_npy(dir_ + "/t.npy"), t));
}

TEST_F(NpyTest, BytesMatchWhatNumpyWrites) {
  // np.save(f, np.arange(6, dtype='<f4').reshape(2, 3)): a 128-byte header.
  std::string dict =
      "{'descr': '<f4', 'fortran_order': False, "
      "'shape': (2, 3), }";
  std::string expected = std::string("\x93NUMPY\x01\x00", 8) + "\x76" +
                         std::string(1, '\0') + dict +
                         std::string(118 - dict.size() - 1, ' ') + "\n" +
                         raw<float>({0, 1, 2, 3, 4, 5});
  EXPECT_EQ(npy_bytes(torch::arange(6, torch::kFloat32).reshape({2, 3})),
            expected);
}

TEST_F(NpyTest, ReadsBigEndianFloats) {
  std::string path = file("be.npy", npy_raw(">f4", "(3,)",
                                            raw<float>({1.5f, -2, 1e-3f},
                                                       /*big_endian=*/true)));
  torch::Tensor t = load_npy(path);
  EXPECT_EQ(t.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::equal(t, torch::tensor({1.5f, -2.0f, 1e-3f})));
}

TEST_F(NpyTest, ReadsBigEndianInt64) {
  std::string path = file(
      "be.npy", npy_raw(">i8", "(2,)", raw<int64_t>({-5, 1LL << 40}, true)));
  EXPECT_TRUE(torch::equal(load_npy(path),
                           torch::tensor({int64_t{-5}, int64_t{1} << 40})));
}

TEST_F(NpyTest, ReadsFortranOrderAsTheSameLogicalArray) {
  // Element (i, j) of [[0, 1, 2], [3, 4, 5]] stored at j * 2 + i.
  std::string path =
      file("f.npy", npy_raw("<i4", "(2, 3)", raw<int32_t>({0, 3, 1, 4, 2, 5}),
                            /*fortran=*/true));
  torch::Tensor t = load_npy(path);
  EXPECT_EQ(t.scalar_type(), torch::kInt32);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_TRUE(torch::equal(t, torch::arange(6, torch::kInt32).reshape({2, 3})));
}

TEST_F(NpyTest, ReadsFortranOrderWithThreeDimensions) {
  torch::Tensor expected =
      torch::arange(24, torch::kFloat64).reshape({2, 3, 4});
  // Fortran order is C order of the transposed array.
  torch::Tensor stored = expected.permute({2, 1, 0}).contiguous();
  std::vector<double> data(stored.data_ptr<double>(),
                           stored.data_ptr<double>() + 24);
  std::string path =
      file("f3.npy", npy_raw("<f8", "(2, 3, 4)", raw(data), true));
  EXPECT_TRUE(torch::equal(load_npy(path), expected));
}

TEST_F(NpyTest, ReadsFormatVersions2And3) {
  for (int major : {2, 3}) {
    std::string path = file(
        "v.npy", npy_raw("<i2", "(2,)", raw<int16_t>({-7, 300}), false, major));
    torch::Tensor t = load_npy(path);
    EXPECT_EQ(t.scalar_type(), torch::kInt16) << major;
    EXPECT_TRUE(torch::equal(t, torch::tensor({-7, 300}).to(torch::kInt16)))
        << major;
  }
}

TEST_F(NpyTest, ReadsSmallIntegerDtypes) {
  torch::Tensor i8 =
      load_npy(file("a.npy", npy_raw("|i1", "(2,)", "\xff\x05")));
  EXPECT_EQ(i8.scalar_type(), torch::kInt8);
  EXPECT_TRUE(torch::equal(i8, torch::tensor({-1, 5}).to(torch::kInt8)));

  torch::Tensor u8 =
      load_npy(file("b.npy", npy_raw("|u1", "(2,)", "\xff\x05")));
  EXPECT_EQ(u8.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(torch::equal(u8, torch::tensor({255, 5}).to(torch::kUInt8)));
}

TEST_F(NpyTest, WidensWideUnsignedIntegersToInt64) {
  torch::Tensor u16 = load_npy(
      file("a.npy", npy_raw("<u2", "(2,)", raw<uint16_t>({65535, 1}))));
  torch::Tensor u32 = load_npy(file(
      "b.npy", npy_raw(">u4", "(2,)", raw<uint32_t>({4294967295u, 2}, true))));
  torch::Tensor u64 = load_npy(file(
      "c.npy",
      npy_raw("<u8", "(1,)",
              raw<uint64_t>({uint64_t{std::numeric_limits<int64_t>::max()}}))));
  EXPECT_EQ(u16.scalar_type(), torch::kInt64);
  EXPECT_TRUE(torch::equal(u16, torch::tensor({int64_t{65535}, int64_t{1}})));
  EXPECT_TRUE(
      torch::equal(u32, torch::tensor({int64_t{4294967295}, int64_t{2}})));
  EXPECT_EQ(u64.item<int64_t>(), std::numeric_limits<int64_t>::max());
}

TEST_F(NpyTest, RefusesUint64ValuesAboveInt64Max) {
  std::string path =
      file("u.npy", npy_raw("<u8", "(2,)", raw<uint64_t>({1, 1ULL << 63})));
  EXPECT_EQ(error_message([&] { load_npy(path); }),
            "cannot load " + path +
                ": uint64 value 9223372036854775808 does not fit in int64");
}

TEST_F(NpyTest, ReadsBoolTreatingAnyNonZeroByteAsTrue) {
  torch::Tensor t =
      load_npy(file("b.npy", npy_raw("|b1", "(3,)", std::string("\0\1\2", 3))));
  EXPECT_EQ(t.scalar_type(), torch::kBool);
  EXPECT_TRUE(torch::equal(t, torch::tensor({false, true, true})));
}

TEST_F(NpyTest, RefusesUnsupportedDtypesNamingThem) {
  struct Case {
    std::string descr, data;
  };
  std::vector<Case> cases = {
      {"<c8", std::string(8, '\0')},   // complex64
      {"<f2", std::string(2, '\0')},   // float16
      {"|O", std::string(8, '\0')},    // Python objects
      {"<U3", std::string(12, '\0')},  // unicode strings
      {"|S4", std::string(4, '\0')},   // byte strings
      {"<M8[ns]", std::string(8, '\0')},
  };
  for (const auto& c : cases) {
    std::string path = file("x.npy", npy_raw(c.descr, "(1,)", c.data));
    EXPECT_EQ(error_message([&] { load_npy(path); }),
              "cannot load " + path + ": dtype '" + c.descr +
                  "' is not supported (use float32, float64 or an integer "
                  "type)");
  }
}

TEST_F(NpyTest, RefusesStructuredDtypesNamingThem) {
  std::string path =
      file("s.npy", npy_with_header("{'descr': [('a', '<f4'), ('b', '<i4')], "
                                    "'fortran_order': False, 'shape': (1,), }",
                                    std::string(8, '\0')));
  EXPECT_EQ(error_message([&] { load_npy(path); }),
            "cannot load " + path +
                ": dtype '[('a', '<f4'), ('b', '<i4')]' is not supported "
                "(use float32, float64 or an integer type)");
}

TEST_F(NpyTest, UnsupportedDtypeIsAnInvalidArgument) {
  std::string path = file("c.npy", npy_raw("<c8", "(1,)", std::string(8, 0)));
  EXPECT_THROW(load_npy(path), InvalidArgument);
}

TEST_F(NpyTest, MissingFileIsAnIoError) {
  std::string path = dir_ + "/missing.npy";
  EXPECT_EQ(error_message([&] { load_npy(path); }),
            "cannot read " + path + ": no such file");
  EXPECT_THROW(load_npy(path), IoError);
}

TEST_F(NpyTest, EmptyFileIsAnIoError) {
  std::string path = file("empty.npy", "");
  EXPECT_EQ(error_message([&] { load_npy(path); }),
            "cannot load " + path + ": file is empty");
  EXPECT_THROW(load_npy(path), IoError);
}

TEST_F(NpyTest, FileWithoutMagicIsAnIoError) {
  std::string path = file("text.npy", "a,b\n1,2\n");
  EXPECT_EQ(error_message([&] { load_npy(path); }),
            "cannot load " + path +
                ": not a .npy file (it does not start with the NumPy magic "
                "string)");
  EXPECT_THROW(load_npy(path), IoError);
}

TEST_F(NpyTest, TruncatedDataIsAnIoError) {
  std::string path =
      file("short.npy", npy_raw("<f4", "(2, 3)", raw<float>({1, 2, 3})));
  EXPECT_EQ(error_message([&] { load_npy(path); }),
            "cannot load " + path +
                ": file is truncated (the header promises 24 bytes of data, "
                "12 are present)");
  EXPECT_THROW(load_npy(path), IoError);
}

TEST_F(NpyTest, TruncatedHeaderIsAnIoError) {
  std::string whole = npy_raw("<f4", "(2,)", raw<float>({1, 2}));
  std::string path = file("cut.npy", whole.substr(0, 40));
  EXPECT_EQ(error_message([&] { load_npy(path); }),
            "cannot load " + path + ": file is truncated in the header");
}

TEST_F(NpyTest, HeaderWithoutShapeIsCorrupt) {
  std::string path = file(
      "h.npy", npy_with_header("{'descr': '<f4', 'fortran_order': False, }",
                               raw<float>({1})));
  EXPECT_EQ(error_message([&] { load_npy(path); }),
            "cannot load " + path + ": corrupt header (no 'shape' key)");
  EXPECT_THROW(load_npy(path), IoError);
}

TEST_F(NpyTest, UnknownFormatVersionIsRefused) {
  std::string bytes = npy_raw("<f4", "(1,)", raw<float>({1}));
  bytes[6] = 4;
  std::string path = file("v4.npy", bytes);
  EXPECT_EQ(error_message([&] { load_npy(path); }),
            "cannot load " + path +
                ": .npy format version 4.0 is not supported (supported: "
                "1.0, 2.0, 3.0)");
}

TEST_F(NpyTest, NpyBytesRefusesOtherDtypes) {
  EXPECT_EQ(error_message([] { npy_bytes(torch::zeros({2}, torch::kHalf)); }),
            "cannot encode a tensor as .npy: dtype Half is not supported "
            "(use float32, float64, int64, int32, uint8 or bool)");
}

TEST_F(NpyTest, SaveNpyNamesThePathAndWritesNothingOnRefusal) {
  std::string path = dir_ + "/short.npy";
  EXPECT_EQ(
      error_message([&] { save_npy(path, torch::zeros({2}, torch::kInt16)); }),
      "cannot write " + path +
          ": dtype Short is not supported (use float32, float64, "
          "int64, int32, uint8 or bool)");
  EXPECT_TRUE(fs::is_empty(dir_));
}

TEST_F(NpyTest, LargeHeadersUseFormatVersion2) {
  // 25000 dimensions of size 1 do not fit in a 64 KiB version 1.0 header.
  std::vector<int64_t> shape(25000, 1);
  torch::Tensor t = torch::empty(shape);
  t.data_ptr<float>()[0] = 7;
  std::string bytes = npy_bytes(t);
  ASSERT_EQ(bytes[6], 2);
  size_t header = static_cast<uint8_t>(bytes[8]) |
                  static_cast<uint8_t>(bytes[9]) << 8 |
                  static_cast<uint8_t>(bytes[10]) << 16;
  EXPECT_EQ((12 + header) % 64, 0u);

  torch::Tensor back = load_npy(file("big.npy", bytes));
  EXPECT_EQ(back.sizes(), t.sizes());
  EXPECT_EQ(back.data_ptr<float>()[0], 7);
}

// write_file_atomic() and read_file(), which save_npy() relies on.

TEST_F(NpyTest, AtomicWriteReplacesTheFileAndLeavesNoTemporaryFile) {
  std::string path = dir_ + "/out.txt";
  write_file_atomic(path, "first");
  write_file_atomic(path, "second, longer");
  EXPECT_EQ(read_file(path), "second, longer");

  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"out.txt"});
}

TEST_F(NpyTest, AtomicWriteToMissingDirectoryNamesThePath) {
  std::string path = dir_ + "/nowhere/out.txt";
  EXPECT_EQ(error_message([&] { write_file_atomic(path, "x"); }),
            "cannot write " + path +
                ": no such file (creating a temporary "
                "file in " +
                dir_ + "/nowhere)");
  EXPECT_THROW(write_file_atomic(path, "x"), IoError);
}

TEST_F(NpyTest, FailedAtomicWriteRemovesTheTemporaryFile) {
  // Renaming a file over a non-empty directory fails after the data is
  // written.
  std::string path = dir_ + "/taken";
  fs::create_directories(path + "/inside");
  EXPECT_EQ(error_message([&] { write_file_atomic(path, "data"); }),
            "cannot write " + path + ": is a directory");

  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    names.push_back(entry.path().filename().string());
  }
  EXPECT_EQ(names, std::vector<std::string>{"taken"});
}

TEST_F(NpyTest, ReadFileOfADirectoryIsAnIoError) {
  EXPECT_EQ(error_message([&] { read_file(dir_); }),
            "cannot read " + dir_ + ": it is a directory");
  EXPECT_THROW(read_file(dir_), IoError);
}

}  // namespace
}  // namespace xai
