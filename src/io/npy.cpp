#include "xai/io/npy.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "xai/error.h"
#include "xai/io/file.h"

namespace xai {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

bool host_is_little_endian() {
  const uint16_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

// Reverses the bytes of each `item`-byte element of `data`.
void swap_bytes(char* data, size_t count, size_t item) {
  if (item == 1) return;
  for (size_t i = 0; i < count; ++i) {
    std::reverse(data + i * item, data + (i + 1) * item);
  }
}

// The dtype of a .npy header, from its descr string such as "<f4".
struct Dtype {
  std::string descr;
  char kind = 0;    // 'f', 'i', 'u' or 'b'
  size_t size = 0;  // bytes per element
  bool big_endian = false;
};

// What the header of a .npy file says.
struct Header {
  Dtype dtype;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  size_t data_offset = 0;  // where the array data starts in the file
};

// A cursor over the Python dict literal that makes up a .npy header, e.g.
// "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }".
class HeaderParser {
 public:
  HeaderParser(const std::string& text, const std::string& path)
      : text_(text), path_(path) {}

  Header parse() {
    Header header;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (!consume('}')) {
      std::string key = parse_string();
      expect(':');
      if (key == "descr") {
        header.dtype.descr = parse_descr();
        have_descr = true;
      } else if (key == "fortran_order") {
        header.fortran_order = parse_bool();
        have_order = true;
      } else if (key == "shape") {
        header.shape = parse_shape();
        have_shape = true;
      } else {
        fail("unknown key '" + key + "'");
      }
      if (!consume(',')) {
        expect('}');
        break;
      }
    }
    if (!have_descr) fail("no 'descr' key");
    if (!have_order) fail("no 'fortran_order' key");
    if (!have_shape) fail("no 'shape' key");
    return header;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw IoError("cannot load " + path_ + ": corrupt header (" + why + ")");
  }

  void skip_space() {
    while (pos_ < text_.size() &&
           std::isspace(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
  }

  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  void expect(char c) {
    if (!consume(c)) fail(std::string("expected '") + c + "'");
  }

  std::string parse_string() {
    skip_space();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      fail("expected a quoted string");
    }
    char quote = text_[pos_++];
    auto end = text_.find(quote, pos_);
    if (end == std::string::npos) fail("unterminated string");
    std::string value = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return value;
  }

  // A string such as '<f4', or the raw text of a structured dtype (a list),
  // kept only to name it in the error message.
  std::string parse_descr() {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == '[') {
      size_t begin = pos_;
      int depth = 0;
      for (; pos_ < text_.size(); ++pos_) {
        if (text_[pos_] == '[') ++depth;
        if (text_[pos_] == ']' && --depth == 0) break;
      }
      if (pos_ >= text_.size()) fail("unterminated descr list");
      ++pos_;
      return text_.substr(begin, pos_ - begin);
    }
    return parse_string();
  }

  bool parse_bool() {
    skip_space();
    for (const char* word : {"True", "False"}) {
      size_t n = std::strlen(word);
      if (text_.compare(pos_, n, word) == 0) {
        pos_ += n;
        return word[0] == 'T';
      }
    }
    fail("fortran_order is neither True nor False");
  }

  std::vector<int64_t> parse_shape() {
    std::vector<int64_t> shape;
    expect('(');
    while (!consume(')')) {
      skip_space();
      size_t begin = pos_;
      int64_t dim = 0;
      while (pos_ < text_.size() &&
             std::isdigit(static_cast<unsigned char>(text_[pos_]))) {
        if (dim > (std::numeric_limits<int64_t>::max() - 9) / 10) {
          fail("dimension too large");
        }
        dim = dim * 10 + (text_[pos_++] - '0');
      }
      if (pos_ == begin) fail("expected a non-negative integer in 'shape'");
      consume('L');  // written by Python 2 for long integers
      shape.push_back(dim);
      if (!consume(',')) {
        expect(')');
        break;
      }
    }
    return shape;
  }

  const std::string& text_;
  const std::string& path_;
  size_t pos_ = 0;
};

// Fills kind, size and byte order from dtype.descr; InvalidArgument when
// the dtype is not one load_npy() takes.
void resolve_dtype(Dtype& dtype, const std::string& path) {
  const std::string& d = dtype.descr;
  auto refuse = [&] {
    throw InvalidArgument("cannot load " + path + ": dtype '" + d +
                          "' is not supported (use float32, float64 or an "
                          "integer type)");
  };
  if (d.size() < 3 || std::string("<>|=").find(d[0]) == std::string::npos) {
    refuse();
  }
  std::string digits = d.substr(2);
  if (digits.size() > 1 ||
      !std::isdigit(static_cast<unsigned char>(digits[0]))) {
    refuse();
  }
  dtype.kind = d[1];
  dtype.size = static_cast<size_t>(digits[0] - '0');
  dtype.big_endian = d[0] == '>' || (d[0] == '=' && !host_is_little_endian());

  bool ok = false;
  switch (dtype.kind) {
    case 'f':
      ok = dtype.size == 4 || dtype.size == 8;
      break;
    case 'i':
    case 'u':
      ok = dtype.size == 1 || dtype.size == 2 || dtype.size == 4 ||
           dtype.size == 8;
      break;
    case 'b':
      ok = dtype.size == 1;
      break;
  }
  if (!ok) refuse();
}

Header parse_header(const std::string& bytes, const std::string& path) {
  if (bytes.empty()) {
    throw IoError("cannot load " + path + ": file is empty");
  }
  if (bytes.size() < kMagicSize ||
      bytes.compare(0, kMagicSize, kMagic, kMagicSize) != 0) {
    throw IoError("cannot load " + path +
                  ": not a .npy file (it does not start with the NumPy "
                  "magic string)");
  }
  if (bytes.size() < kMagicSize + 2) {
    throw IoError("cannot load " + path + ": file is truncated in the header");
  }

  // Version 1.0 has a 2-byte header length; 2.0 and 3.0 have 4 bytes.
  auto major = static_cast<unsigned char>(bytes[kMagicSize]);
  auto minor = static_cast<unsigned char>(bytes[kMagicSize + 1]);
  if ((major != 1 && major != 2 && major != 3) || minor != 0) {
    throw IoError("cannot load " + path + ": .npy format version " +
                  std::to_string(major) + "." + std::to_string(minor) +
                  " is not supported (supported: 1.0, 2.0, 3.0)");
  }
  size_t length_bytes = major == 1 ? 2 : 4;
  size_t prefix = kMagicSize + 2 + length_bytes;
  if (bytes.size() < prefix) {
    throw IoError("cannot load " + path + ": file is truncated in the header");
  }
  size_t header_size = 0;
  for (size_t i = 0; i < length_bytes; ++i) {
    auto byte = static_cast<unsigned char>(bytes[kMagicSize + 2 + i]);
    header_size |= static_cast<size_t>(byte) << (8 * i);
  }
  if (bytes.size() - prefix < header_size) {
    throw IoError("cannot load " + path + ": file is truncated in the header");
  }

  std::string text = bytes.substr(prefix, header_size);
  Header header = HeaderParser(text, path).parse();
  header.data_offset = prefix + header_size;
  resolve_dtype(header.dtype, path);
  return header;
}

// Number of elements, checked against the bytes present.
size_t element_count(const Header& header, size_t available,
                     const std::string& path) {
  size_t count = 1;
  const size_t limit = std::numeric_limits<size_t>::max() / 16;
  for (int64_t dim : header.shape) {
    if (dim != 0 && count > limit / static_cast<size_t>(dim)) {
      throw IoError("cannot load " + path +
                    ": corrupt header (shape too large)");
    }
    count *= static_cast<size_t>(dim);
  }
  size_t needed = count * header.dtype.size;
  if (available < needed) {
    throw IoError("cannot load " + path + ": file is truncated (the header " +
                  "promises " + std::to_string(needed) + " bytes of data, " +
                  std::to_string(available) + " are present)");
  }
  return count;
}

torch::ScalarType scalar_type_of(const Dtype& dtype) {
  switch (dtype.kind) {
    case 'f':
      return dtype.size == 4 ? torch::kFloat32 : torch::kFloat64;
    case 'b':
      return torch::kBool;
    case 'u':
      return dtype.size == 1 ? torch::kUInt8 : torch::kInt64;
  }
  switch (dtype.size) {
    case 1:
      return torch::kInt8;
    case 2:
      return torch::kInt16;
    case 4:
      return torch::kInt32;
  }
  return torch::kInt64;
}

// uint16/32/64 elements, already in host byte order, widened to int64.
void widen_unsigned(const char* data, size_t count, size_t size, int64_t* out,
                    const std::string& path) {
  for (size_t i = 0; i < count; ++i) {
    uint64_t value = 0;
    if (size == 2) {
      uint16_t v;
      std::memcpy(&v, data + i * 2, 2);
      value = v;
    } else if (size == 4) {
      uint32_t v;
      std::memcpy(&v, data + i * 4, 4);
      value = v;
    } else {
      std::memcpy(&value, data + i * 8, 8);
    }
    if (value > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw InvalidArgument("cannot load " + path + ": uint64 value " +
                            std::to_string(value) + " does not fit in int64");
    }
    out[i] = static_cast<int64_t>(value);
  }
}

// The little-endian descr string for a tensor dtype; InvalidArgument for
// others, starting with `failure` ("cannot write x.npy").
std::string descr_of(torch::ScalarType type, const std::string& failure) {
  switch (type) {
    case torch::kFloat32:
      return "<f4";
    case torch::kFloat64:
      return "<f8";
    case torch::kInt64:
      return "<i8";
    case torch::kInt32:
      return "<i4";
    case torch::kUInt8:
      return "|u1";
    case torch::kBool:
      return "|b1";
    default:
      throw InvalidArgument(failure + ": dtype " + c10::toString(type) +
                            " is not supported (use float32, float64, int64, "
                            "int32, uint8 or bool)");
  }
}

std::string shape_literal(torch::IntArrayRef sizes) {
  std::string text = "(";
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(sizes[i]);
  }
  if (sizes.size() == 1) text += ",";
  return text + ")";
}

// npy_bytes(), with errors starting with `failure`.
std::string encode(const torch::Tensor& tensor, const std::string& failure) {
  if (!tensor.defined()) {
    throw InvalidArgument(failure + ": the tensor is undefined");
  }
  const std::string descr = descr_of(tensor.scalar_type(), failure);
  torch::Tensor cpu = tensor.detach().to(torch::kCPU).contiguous();

  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, " +
                     "'shape': " + shape_literal(cpu.sizes()) + ", }";
  // The header (magic, version, length, dict, padding, newline) fills a
  // multiple of 64 bytes, as NumPy writes it. Version 1.0 stores the dict's
  // length in 2 bytes, 2.0 in 4.
  auto padded = [&](size_t length_bytes) {
    size_t total = kMagicSize + 2 + length_bytes + dict.size() + 1;
    return dict.size() + 1 + (64 - total % 64) % 64;
  };
  const size_t length_bytes = padded(2) <= 65535 ? 2 : 4;
  dict.append(padded(length_bytes) - dict.size() - 1, ' ');
  dict += '\n';

  std::string bytes(kMagic, kMagicSize);
  bytes += static_cast<char>(length_bytes == 2 ? 1 : 2);
  bytes += '\0';
  for (size_t i = 0; i < length_bytes; ++i) {
    bytes += static_cast<char>((dict.size() >> (8 * i)) & 0xff);
  }
  bytes += dict;

  size_t data_size = static_cast<size_t>(cpu.numel()) * cpu.element_size();
  size_t data_offset = bytes.size();
  bytes.append(static_cast<const char*>(cpu.data_ptr()), data_size);
  if (!host_is_little_endian()) {
    swap_bytes(&bytes[data_offset], static_cast<size_t>(cpu.numel()),
               cpu.element_size());
  }
  return bytes;
}

}  // namespace

torch::Tensor load_npy(const std::string& path) {
  const std::string bytes = read_file(path);
  const Header header = parse_header(bytes, path);
  const Dtype& dtype = header.dtype;
  size_t count = element_count(header, bytes.size() - header.data_offset, path);

  // The raw elements in host byte order.
  std::string data = bytes.substr(header.data_offset, count * dtype.size);
  if (dtype.big_endian == host_is_little_endian()) {
    swap_bytes(data.data(), count, dtype.size);
  }

  // A Fortran-order array is the C-order array of the reversed shape,
  // transposed.
  std::vector<int64_t> stored_shape = header.shape;
  if (header.fortran_order) {
    std::reverse(stored_shape.begin(), stored_shape.end());
  }

  torch::Tensor tensor;
  if (dtype.kind == 'u' && dtype.size > 1) {
    tensor = torch::empty(stored_shape, torch::kInt64);
    widen_unsigned(data.data(), count, dtype.size, tensor.data_ptr<int64_t>(),
                   path);
  } else if (dtype.kind == 'b') {
    // Any non-zero byte is true, as in NumPy.
    tensor = torch::empty(stored_shape, torch::kUInt8);
    std::memcpy(tensor.data_ptr(), data.data(), count);
    tensor = tensor.ne(0);
  } else {
    tensor = torch::empty(stored_shape, scalar_type_of(dtype));
    if (count > 0) std::memcpy(tensor.data_ptr(), data.data(), data.size());
  }

  if (header.fortran_order && tensor.dim() > 1) {
    std::vector<int64_t> order(tensor.dim());
    for (int64_t i = 0; i < tensor.dim(); ++i) {
      order[i] = tensor.dim() - 1 - i;
    }
    tensor = tensor.permute(order).contiguous();
  }
  return tensor;
}

std::string npy_bytes(const torch::Tensor& tensor) {
  return encode(tensor, "cannot encode a tensor as .npy");
}

void save_npy(const std::string& path, const torch::Tensor& tensor) {
  write_file_atomic(path, encode(tensor, "cannot write " + path));
}

}  // namespace xai
