// The error model of libxai, in one place.
//
// Every function of the library reports failure by throwing one of the
// types below (LibTorch's own c10::Error may also escape from tensor
// operations). Messages share one shape: "cannot <verb> <object>: <why>",
// followed where possible by what to do next. The apps catch these in main()
// and map each kind to a documented exit code (see exit_code()).
#pragma once

#include <stdexcept>
#include <string>

namespace xai {

enum class ErrorKind {
  kInvalidArgument,   // bad option, shape, dtype or value
  kIo,                // a file is missing, unreadable, corrupt or unwritable
  kUnsupportedModel,  // not TorchScript, or an op a strict method refuses
};

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }

 private:
  ErrorKind kind_;
};

class InvalidArgument : public Error {
 public:
  explicit InvalidArgument(const std::string& message)
      : Error(ErrorKind::kInvalidArgument, message) {}
};

class IoError : public Error {
 public:
  explicit IoError(const std::string& message)
      : Error(ErrorKind::kIo, message) {}
};

class UnsupportedModel : public Error {
 public:
  explicit UnsupportedModel(const std::string& message)
      : Error(ErrorKind::kUnsupportedModel, message) {}
};

// Exit codes of every app:
//   0 success
//   1 unexpected internal error (a bug; please report it)
//   2 bad command line (unknown flag, missing or malformed value)
//   3 invalid input (shape, dtype, NaN, out-of-range option)
//   4 I/O error (missing, unreadable, corrupt or unwritable file)
//   5 unsupported model (not TorchScript, or refused by --strict)
inline int exit_code(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument:
      return 3;
    case ErrorKind::kIo:
      return 4;
    case ErrorKind::kUnsupportedModel:
      return 5;
  }
  return 1;
}

}  // namespace xai
