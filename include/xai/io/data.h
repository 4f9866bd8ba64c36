// Loading the inputs to explain: CSV tables, NumPy arrays, tensors saved
// with torch.save, and images.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

namespace xai {

// Rows read from a file or directory. All tensors live on the CPU.
struct Dataset {
  // float32 [rows, ...]: [rows, columns] for a CSV file, the array's shape for
  // .npy and .pt files, [rows, channels, height, width] in [0, 1] for images.
  torch::Tensor x;
  // One name per column of a CSV file (the header, without the label
  // column); empty for other formats.
  std::vector<std::string> feature_names;
  // int64 [rows] from the CSV label column; undefined when there is none.
  torch::Tensor labels;
  // The image files in row order (images only; empty otherwise).
  std::vector<std::string> files;
};

struct LoadOptions {
  // CSV only: the column holding integer labels, moved from `x` to
  // `labels`. Default: empty, no label column.
  std::string label_column;
  // Images only: 0 keeps each file's channels (1 gray, 2 gray and alpha, 3
  // RGB, 4 RGBA), 1 converts to grayscale, 3 to RGB. Default: 0.
  int64_t channels = 0;
};

// Loads `path`, choosing the format by its extension (case-insensitive):
//   .csv         a header row of column names, then one numeric row per
//                line; fields may be quoted ("a,b" is one field)
//   .npy         a NumPy array (see load_npy())
//   .pt, .pth    one tensor saved with Python's torch.save
//   .png, .jpg, .jpeg
//                one image, as [1, channels, height, width] (16-bit PNGs
//                are reduced to 8 bits first)
//   a directory  every .png, .jpg and .jpeg file in it (not its
//                subdirectories), sorted by name; all of one size
// Integer and double data become float32.
//
// Throws IoError for a missing, unreadable, empty or corrupt file, and
// InvalidArgument for content that cannot be used: an unknown extension, a
// non-numeric or empty CSV cell, a row with the wrong number of fields, no
// data rows, a missing or non-integer label column, images of different
// sizes, NaN or infinity in `x`, or a .pt file that holds no tensor. Messages
// name the file and, for CSV, the 1-based data row and the column.
Dataset load_data(const std::string& path, const LoadOptions& options = {});

// Loads integer labels as int64 [rows] from a .npy file (integer dtype, or
// floating with integral values; shape [rows] or [rows, 1]) or a .csv file
// with one column and an optional header line. Throws as load_data() does.
torch::Tensor load_labels(const std::string& path);

}  // namespace xai
