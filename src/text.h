// Small helpers for messages and logs: shapes and numbers as text, and a
// wall-time stopwatch. Internal to libxai.
#pragma once

#include <c10/util/ArrayRef.h>

#include <chrono>
#include <cstdint>
#include <sstream>
#include <string>

namespace xai::detail {

// "[2, 3, 4]"; an unknown size (negative) shows as "*".
inline std::string shape_str(c10::IntArrayRef shape) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    out << (i ? ", " : "");
    if (shape[i] < 0) {
      out << "*";
    } else {
      out << shape[i];
    }
  }
  out << "]";
  return out.str();
}

// A double as the shortest usual text: 0.1, 2.5e-05, 1000.
inline std::string number_str(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

// Seconds since construction.
class Stopwatch {
 public:
  double seconds() const {
    return std::chrono::duration<double>(Clock::now() - start_).count();
  }

 private:
  using Clock = std::chrono::steady_clock;
  Clock::time_point start_ = Clock::now();
};

}  // namespace xai::detail
