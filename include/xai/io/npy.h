// Reading and writing NumPy .npy files.
#pragma once

#include <torch/torch.h>

#include <string>

namespace xai {

// Loads the array stored in the .npy file at `path` as a contiguous CPU
// tensor of the same shape.
//
// Accepts format versions 1.0, 2.0 and 3.0, either byte order, and C or
// Fortran order (a Fortran-order array comes back in C order, same values at
// the same indices). Dtypes: float32, float64, int8, int16, int32, int64,
// uint8 and bool keep their type; uint16, uint32 and uint64 become int64, and
// a uint64 value above 2^63 - 1 is refused.
//
// Throws IoError for a missing, unreadable, empty, truncated or corrupt file,
// and InvalidArgument for any other dtype (float16, complex, strings,
// objects, structured arrays), naming the dtype string found in the file.
torch::Tensor load_npy(const std::string& path);

// The .npy encoding of `tensor`: format version 1.0 (2.0 when the header
// exceeds 64 KiB), little-endian, C order. `tensor` may live on any device
// and need not be contiguous; it is copied to the CPU. Supported dtypes:
// float32, float64, int64, int32, uint8 and bool; InvalidArgument for others.
std::string npy_bytes(const torch::Tensor& tensor);

// Writes npy_bytes(tensor) to `path` with write_file_atomic(). Throws as
// npy_bytes() does, and IoError when the file cannot be written.
void save_npy(const std::string& path, const torch::Tensor& tensor);

}  // namespace xai
