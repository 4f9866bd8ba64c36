#include "xai/io/data.h"

#include <caffe2/serialize/inline_container.h>
#include <stb_image.h>
#include <torch/serialize.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "xai/error.h"
#include "xai/io/file.h"
#include "xai/io/npy.h"

namespace xai {
namespace {

namespace fs = std::filesystem;

const char kSupported[] =
    "supported: .csv, .npy, .pt, .pth, .png, .jpg, .jpeg, or a directory of "
    "images";

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(c));
  return text;
}

std::string extension_of(const std::string& path) {
  return lower(fs::path(path).extension().string());
}

bool is_image_extension(const std::string& ext) {
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

// ---------------------------------------------------------------- numbers

std::string trim(const std::string& text) {
  size_t begin = text.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  size_t end = text.find_last_not_of(" \t");
  return text.substr(begin, end - begin + 1);
}

// Parses all of `text` (surrounding blanks aside) as a decimal number,
// including "nan" and "inf". Hexadecimal is refused.
bool parse_number(const std::string& text, double& value) {
  std::string t = trim(text);
  if (t.empty() || t.find_first_of("xX") != std::string::npos) return false;
  char* end = nullptr;
  errno = 0;
  value = std::strtod(t.c_str(), &end);
  // ERANGE for underflow still yields a usable (tiny or zero) value; overflow
  // yields infinity, refused later with the other non-finite values.
  return end == t.c_str() + t.size();
}

// A whole number that fits in int64.
bool as_integer(double value, int64_t& out) {
  if (!std::isfinite(value) || value != std::floor(value) ||
      value < -9223372036854775808.0 || value >= 9223372036854775808.0) {
    return false;
  }
  out = static_cast<int64_t>(value);
  return true;
}

// -------------------------------------------------------------------- CSV

// The records of a CSV text: fields split on commas, double-quoted fields
// may hold commas, newlines and doubled quotes (""), CRLF line ends are
// accepted, and blank lines are skipped.
std::vector<std::vector<std::string>> parse_csv(const std::string& text,
                                                const std::string& path) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> fields;
  std::string field;
  bool in_quotes = false;
  bool record_has_content = false;

  size_t pos = 0;
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) pos = 3;  // UTF-8 BOM
  auto end_record = [&] {
    if (record_has_content || !fields.empty()) {
      fields.push_back(std::move(field));
      records.push_back(std::move(fields));
    }
    fields.clear();
    field.clear();
    record_has_content = false;
  };

  for (; pos < text.size(); ++pos) {
    char c = text[pos];
    if (in_quotes) {
      if (c != '"') {
        field += c;
      } else if (pos + 1 < text.size() && text[pos + 1] == '"') {
        field += '"';
        ++pos;
      } else {
        in_quotes = false;
      }
    } else if (c == '"') {
      in_quotes = true;
      record_has_content = true;
    } else if (c == ',') {
      fields.push_back(std::move(field));
      field.clear();
    } else if (c == '\n') {
      end_record();
    } else if (c == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') {
      continue;
    } else {
      field += c;
      record_has_content = true;
    }
  }
  if (in_quotes) {
    std::string where = records.empty()
                            ? "the header"
                            : "row " + std::to_string(records.size());
    throw InvalidArgument("cannot load " + path + ": " + where +
                          " has a quoted field with no closing quote");
  }
  end_record();
  return records;
}

std::string join_names(const std::vector<std::string>& names) {
  const size_t shown = std::min<size_t>(names.size(), 20);
  std::string text;
  for (size_t i = 0; i < shown; ++i) {
    if (i > 0) text += ", ";
    text += names[i];
  }
  if (names.size() > shown) {
    text += ", ... (" + std::to_string(names.size() - shown) + " more)";
  }
  return text;
}

std::string csv_text(const std::string& path) {
  std::string text = read_file(path);
  if (text.empty()) {
    throw IoError("cannot load " + path + ": file is empty");
  }
  return text;
}

Dataset load_csv(const std::string& path, const std::string& label_column) {
  auto records = parse_csv(csv_text(path), path);
  if (records.empty()) {
    throw IoError("cannot load " + path + ": file is empty");
  }
  const std::vector<std::string> header = records[0];
  const int64_t rows = static_cast<int64_t>(records.size()) - 1;
  if (rows == 0) {
    throw InvalidArgument("cannot load " + path +
                          ": no data rows after the header");
  }

  // The label column, if any, and the feature columns.
  int64_t label = -1;
  if (!label_column.empty()) {
    auto it = std::find(header.begin(), header.end(), label_column);
    if (it == header.end()) {
      throw InvalidArgument("cannot load " + path + ": no column '" +
                            label_column + "' (columns: " + join_names(header) +
                            ")");
    }
    label = it - header.begin();
  }
  Dataset data;
  for (size_t c = 0; c < header.size(); ++c) {
    if (static_cast<int64_t>(c) != label) {
      data.feature_names.push_back(header[c]);
    }
  }
  const auto cols = static_cast<int64_t>(data.feature_names.size());
  if (cols == 0) {
    throw InvalidArgument("cannot load " + path +
                          ": no feature columns besides the label column '" +
                          label_column + "'");
  }

  data.x = torch::empty({rows, cols}, torch::kFloat32);
  if (label >= 0) data.labels = torch::empty({rows}, torch::kInt64);
  auto x = data.x.accessor<float, 2>();
  int64_t* labels = label >= 0 ? data.labels.data_ptr<int64_t>() : nullptr;
  for (int64_t r = 1; r <= rows; ++r) {
    const auto& fields = records[r];
    if (fields.size() != header.size()) {
      throw InvalidArgument(
          "cannot load " + path + ": row " + std::to_string(r) + " has " +
          std::to_string(fields.size()) + " fields, the header has " +
          std::to_string(header.size()));
    }

    int64_t col = 0;
    for (size_t c = 0; c < fields.size(); ++c) {
      auto where = [&] {
        return "cannot load " + path + ": row " + std::to_string(r) +
               ", column '" + header[c] + "'";
      };
      double value = 0;
      if (trim(fields[c]).empty()) {
        throw InvalidArgument(where() + " is empty");
      }
      if (!parse_number(fields[c], value)) {
        throw InvalidArgument(where() + ": '" + fields[c] +
                              "' is not a number");
      }
      if (static_cast<int64_t>(c) == label) {
        if (!as_integer(value, labels[r - 1])) {
          throw InvalidArgument(where() + ": label '" + fields[c] +
                                "' is not an integer");
        }
        continue;
      }
      if (!std::isfinite(value)) {
        throw InvalidArgument(where() + " is NaN or infinity ('" + fields[c] +
                              "')");
      }
      auto single = static_cast<float>(value);
      if (!std::isfinite(single)) {
        throw InvalidArgument(where() + ": " + fields[c] +
                              " is too large for float32");
      }
      x[r - 1][col++] = single;
    }
  }
  return data;
}

// ----------------------------------------------------- arrays and tensors

// The first row of `t` [rows, ...] holding NaN or infinity, or -1.
int64_t first_non_finite_row(const torch::Tensor& t) {
  if (t.numel() == 0 || !t.is_floating_point()) return -1;
  auto bad = t.isfinite().logical_not().reshape({t.size(0), -1}).any(1);
  auto rows = bad.nonzero();
  return rows.size(0) > 0 ? rows[0][0].item<int64_t>() : -1;
}

// Checks a tensor read from an array file and converts it to float32.
torch::Tensor array_to_x(const torch::Tensor& t, const std::string& path) {
  if (t.dim() == 0) {
    throw InvalidArgument("cannot load " + path +
                          ": it holds a single number; need an array of "
                          "shape [rows, ...]");
  }
  const auto type = t.scalar_type();
  if (!t.is_floating_point() && type != torch::kBool &&
      !c10::isIntegralType(type, /*includeBool=*/false)) {
    throw InvalidArgument("cannot load " + path + ": dtype " +
                          std::string(c10::toString(type)) +
                          " is not supported (use a floating or integer "
                          "type)");
  }

  auto fail = [&](int64_t row, const std::string& what) {
    throw InvalidArgument("cannot load " + path + ": row " +
                          std::to_string(row + 1) + " (index " +
                          std::to_string(row) + ") " + what);
  };
  int64_t row = first_non_finite_row(t);
  if (row >= 0) fail(row, "contains NaN or infinity");
  torch::Tensor x = t.to(torch::kFloat32).contiguous();
  row = first_non_finite_row(x);
  if (row >= 0) fail(row, "holds a value too large for float32");
  return x;
}

// The names of the records in a zip archive written by torch.save or
// torch.jit.save, without the archive's top folder.
std::vector<std::string> archive_records(const std::string& bytes,
                                         const std::string& path) {
  try {
    std::istringstream stream(bytes);
    caffe2::serialize::PyTorchStreamReader reader(&stream);
    return reader.getAllRecords();
  } catch (const c10::Error& e) {
    throw IoError("cannot load " + path + ": corrupt archive (" +
                  e.msg().substr(0, 200) + ")");
  }
}

std::string kind_of(const c10::IValue& value) {
  if (value.isGenericDict()) return "a dict";
  if (value.isList()) return "a list";
  if (value.isTuple()) return "a tuple";
  if (value.isObject()) return "an object";
  if (value.isNone()) return "None";
  return "a " + std::string(value.tagKind());
}

torch::Tensor load_pt(const std::string& path) {
  const std::string bytes = read_file(path);
  if (bytes.empty()) {
    throw IoError("cannot load " + path + ": file is empty");
  }
  if (bytes.compare(0, 4, "PK\x03\x04") != 0) {
    throw IoError("cannot load " + path +
                  ": not a zip archive written by torch.save (files saved "
                  "by PyTorch before 1.6 or with "
                  "_use_new_zipfile_serialization=False must be saved "
                  "again with a current torch.save)");
  }

  // A TorchScript model is a zip archive too: recognise it by its code.
  for (const auto& record : archive_records(bytes, path)) {
    if (record == "constants.pkl" || record.rfind("code/", 0) == 0) {
      throw InvalidArgument("cannot load " + path +
                            ": it is a TorchScript model, not a tensor "
                            "(save the inputs with torch.save(tensor, "
                            "path))");
    }
  }

  // LibTorch reads tensors, tuples and lists, but not every Python object
  // (a dict or an OrderedDict fails), so a failure here most often means the
  // file holds something else than one tensor.
  const char hint[] = "save one tensor with torch.save(tensor, path)";
  c10::IValue value;
  try {
    value = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  } catch (const c10::Error& e) {
    std::string why = e.msg().substr(0, e.msg().find('\n'));
    throw InvalidArgument("cannot load " + path +
                          ": LibTorch cannot read its contents as a tensor (" +
                          hint + "); LibTorch says: " + why);
  }
  if (!value.isTensor()) {
    throw InvalidArgument("cannot load " + path + ": it holds " +
                          kind_of(value) + ", not a tensor (" + hint + ")");
  }
  // Known gap: a tensor saved while on a CUDA device is restored onto that
  // device, which a CPU-only LibTorch refuses; such files need
  // torch.save(tensor.cpu(), path).
  torch::Tensor t = value.toTensor();
  if (t.layout() != torch::kStrided) {
    throw InvalidArgument("cannot load " + path +
                          ": sparse tensors are not supported (save "
                          "tensor.to_dense())");
  }
  return t;
}

// ---------------------------------------------------------------- images

struct Image {
  torch::Tensor pixels;  // float32 [channels, height, width] in [0, 1]
  int width = 0, height = 0, channels = 0;
};

Image load_image(const std::string& path, int64_t channels) {
  int width = 0, height = 0, in_file = 0;
  unsigned char* data = stbi_load(path.c_str(), &width, &height, &in_file,
                                  static_cast<int>(channels));
  if (data == nullptr) {
    const char* reason = stbi_failure_reason();
    throw IoError("cannot load " + path + ": " +
                  (reason ? reason : "unreadable image"));
  }

  Image image;
  image.width = width;
  image.height = height;
  image.channels = channels > 0 ? static_cast<int>(channels) : in_file;
  // from_blob does not own `data`: the float copy does, before it is freed.
  image.pixels =
      torch::from_blob(data, {height, width, image.channels}, torch::kUInt8)
          .permute({2, 0, 1})
          .to(torch::kFloat32)
          .div_(255.0f)
          .contiguous();
  stbi_image_free(data);
  return image;
}

std::string image_size(const Image& image) {
  return std::to_string(image.width) + "x" + std::to_string(image.height) +
         " with " + std::to_string(image.channels) + " channel" +
         (image.channels == 1 ? "" : "s");
}

Dataset load_image_directory(const std::string& dir, int64_t channels) {
  Dataset data;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    if (entry.is_regular_file() &&
        is_image_extension(extension_of(entry.path().string()))) {
      data.files.push_back(entry.path().string());
    }
  }
  if (error) {
    throw IoError("cannot read " + dir + ": " + error.message());
  }
  if (data.files.empty()) {
    throw InvalidArgument("cannot load " + dir +
                          ": no .png, .jpg or .jpeg files in the directory");
  }
  std::sort(data.files.begin(), data.files.end());

  std::vector<torch::Tensor> pixels;
  Image first;
  for (size_t i = 0; i < data.files.size(); ++i) {
    Image image = load_image(data.files[i], channels);
    if (i == 0) {
      first = image;
    } else if (image.width != first.width || image.height != first.height ||
               image.channels != first.channels) {
      throw InvalidArgument("cannot load " + dir + ": " +
                            fs::path(data.files[i]).filename().string() +
                            " is " + image_size(image) + ", unlike " +
                            fs::path(data.files[0]).filename().string() + " (" +
                            image_size(first) +
                            "); all images must have the same size");
    }
    pixels.push_back(image.pixels);
  }
  data.x = torch::stack(pixels);
  return data;
}

}  // namespace

Dataset load_data(const std::string& path, const LoadOptions& options) {
  std::error_code error;
  const auto status = fs::status(path, error);
  if (!fs::exists(status)) {
    throw IoError("cannot read " + path + ": no such file");
  }
  if (options.channels != 0 && options.channels != 1 && options.channels != 3) {
    throw InvalidArgument("cannot load " + path +
                          ": channels must be 0, 1 or 3 (got " +
                          std::to_string(options.channels) + ")");
  }

  const std::string ext = extension_of(path);
  const bool is_dir = fs::is_directory(status);
  if (ext == ".csv" && !is_dir) return load_csv(path, options.label_column);

  if (!options.label_column.empty()) {
    throw InvalidArgument("cannot load " + path +
                          ": a label column applies to CSV files only");
  }
  Dataset data;
  if (is_dir) {
    data = load_image_directory(path, options.channels);
  } else if (ext == ".npy") {
    data.x = array_to_x(load_npy(path), path);
  } else if (ext == ".pt" || ext == ".pth") {
    data.x = array_to_x(load_pt(path), path);
  } else if (is_image_extension(ext)) {
    data.x = load_image(path, options.channels).pixels.unsqueeze(0);
    data.files.push_back(path);
  } else if (ext.empty()) {
    throw InvalidArgument("cannot load " + path + ": no file extension (" +
                          kSupported + ")");
  } else {
    throw InvalidArgument("cannot load " + path + ": unknown extension '" +
                          ext + "' (" + kSupported + ")");
  }
  return data;
}

torch::Tensor load_labels(const std::string& path) {
  std::error_code error;
  if (!fs::exists(fs::status(path, error))) {
    throw IoError("cannot read " + path + ": no such file");
  }
  const std::string ext = extension_of(path);

  if (ext == ".npy") {
    torch::Tensor t = load_npy(path);
    if (t.dim() == 2 && t.size(1) == 1) t = t.squeeze(1);
    if (t.dim() != 1) {
      throw InvalidArgument("cannot load " + path +
                            ": labels must have shape [rows] or [rows, 1], "
                            "got " +
                            c10::str(t.sizes()));
    }
    if (t.is_floating_point()) {
      auto fractional = t.isfinite().logical_not() | (t != t.floor()) |
                        (t.abs() >= 9223372036854775808.0);
      auto bad = fractional.nonzero();
      if (bad.size(0) > 0) {
        int64_t row = bad[0][0].item<int64_t>();
        throw InvalidArgument("cannot load " + path + ": row " +
                              std::to_string(row + 1) + " (index " +
                              std::to_string(row) +
                              ") holds a label that is not an integer");
      }
    }
    return t.to(torch::kInt64);
  }

  if (ext != ".csv") {
    throw InvalidArgument("cannot load " + path + ": unknown extension '" +
                          ext + "' for labels (supported: .npy, .csv)");
  }
  auto records = parse_csv(csv_text(path), path);
  // A first line that is not a number is a header.
  double value = 0;
  size_t first = 0;
  if (!records.empty() && records[0].size() == 1 &&
      !parse_number(records[0][0], value)) {
    first = 1;
  }
  if (records.size() <= first) {
    throw InvalidArgument("cannot load " + path + ": no labels");
  }

  auto labels = torch::empty({static_cast<int64_t>(records.size() - first)},
                             torch::kInt64);
  auto out = labels.accessor<int64_t, 1>();
  for (size_t r = first; r < records.size(); ++r) {
    const std::string row = "row " + std::to_string(r - first + 1);
    if (records[r].size() != 1) {
      throw InvalidArgument("cannot load " + path + ": " + row + " has " +
                            std::to_string(records[r].size()) +
                            " fields; a labels file has one column");
    }
    int64_t label = 0;
    if (!parse_number(records[r][0], value) || !as_integer(value, label)) {
      throw InvalidArgument("cannot load " + path + ": " + row + ": label '" +
                            records[r][0] + "' is not an integer");
    }
    out[r - first] = label;
  }
  return labels;
}

}  // namespace xai
