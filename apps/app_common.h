// What the command-line apps share: logging set-up, the mapping of errors to
// exit codes, text tables, and the small steps between a command line and
// the library (row ranges, background sampling, feature labels, the summary
// of an explanation).
//
// Everything here runs in the apps only; the library never configures
// logging and never prints.
#pragma once

#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "xai/attribution/attribution.h"
#include "xai/io/data.h"

namespace xai::app {

// -v and -q, which every app takes.
struct LoggingFlags {
  bool verbose = false;  // -v: debug messages as well
  bool quiet = false;    // -q: warnings and errors only
};

// Adds -v/--verbose and -q/--quiet (mutually exclusive) to `app`; the
// parsed values land in `flags`, which must outlive the parse.
void add_logging_flags(CLI::App& app, LoggingFlags& flags);

// Sends spdlog's default logger to stderr at debug (-v), warn (-q) or info
// level.
void setup_logging(const LoggingFlags& flags);

// The "Exit codes:" paragraph of a --help footer, matching xai::exit_code().
std::string exit_codes_help();

// Parses the command line into `app`, sets up logging from `flags`, runs
// `body` and returns the process exit code: 0 on success (and for --help),
// 2 for a command line CLI11 refuses (its message), xai::exit_code() of an
// xai::Error, 3 for a c10::Error raised by LibTorch on the input (1 for one
// of its internal assertions), 1 for any other exception. Failures print
// "error: <message>" (first line only for c10::Error) to stderr.
int run_main(CLI::App& app, const LoggingFlags& flags, int argc, char** argv,
             const std::function<void()>& body);

// Refuses a combination of options: throws CLI::ValidationError, so
// run_main() exits with 2 like for any other bad command line.
[[noreturn]] void usage_error(const std::string& message);

// Prints `rows` under `header`, each column padded to its widest cell and
// indented by two spaces. Column i is right-aligned when right_align[i] is
// true (missing entries: left-aligned).
void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows,
                 const std::vector<bool>& right_align = {});

// A half-open range of rows [begin, end); end < 0 means "to the last row".
struct RowRange {
  int64_t begin = 0;
  int64_t end = -1;
};

// Parses "A:B", "A:" or ":B" (0-based, B excluded). Throws InvalidArgument
// "invalid --rows: '<spec>' (...)" for anything else.
RowRange parse_row_range(const std::string& spec);

// The rows of `x` [rows, ...] in `range`. Throws InvalidArgument naming
// `what` when the range is empty or reaches past the last row.
torch::Tensor slice_rows(const torch::Tensor& x, const RowRange& range,
                         const std::string& what);

// `n` distinct rows of `x` [rows, ...], drawn without replacement by a CPU
// generator seeded with `seed` and kept in their original order. Throws
// InvalidArgument naming `what` when n < 1 or n > rows.
torch::Tensor sample_rows(const torch::Tensor& x, int64_t n, uint64_t seed,
                          const std::string& what);

// Parses a shape written as positive sizes joined by commas ("1,28,28").
// Throws InvalidArgument "invalid <flag>: <spec> (...)" otherwise.
std::vector<int64_t> parse_shape(const std::string& spec, const char* flag);

// Throws IoError when `dir` cannot become an output directory: it is a file,
// or its nearest existing ancestor is not a directory or not writable.
// Creates nothing.
void check_output_dir(const std::string& dir);

// Loads a background or baseline file with xai::load_data(), applying
// `label_column` to CSV files only (so a CSV input may take a .npy
// background). Throws as load_data() does.
Dataset load_reference(const std::string& path,
                       const std::string& label_column);

// A label for every element of one input row of shape `row_shape`, in
// row-major order: `names` when it has one per element (CSV columns), else
// "feature i" for rows of rank 1, "pixel (c,h,w)" for rank 3 (images), and
// "feature (i,j,...)" otherwise.
std::vector<std::string> feature_labels(c10::IntArrayRef row_shape,
                                        const std::vector<std::string>& names);

// Prints to `out` the number of rows and the method, the completeness gap
// (largest and mean |gap|, largest relative gap) or "no completeness
// property", and the `top` features with the largest mean |value| over rows
// and targets. `labels` has one entry per element of an input row.
void print_summary(std::ostream& out, const Attribution& a,
                   const std::string& method_str,
                   const std::vector<std::string>& labels, int64_t top = 10);

}  // namespace xai::app
