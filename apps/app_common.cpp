#include "app_common.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "xai/error.h"

namespace xai::app {
namespace {

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

int report_parse_error(CLI::App& app, const CLI::ParseError& e) {
  // --help and --version are "errors" with exit code 0 in CLI11.
  if (e.get_exit_code() == 0) return app.exit(e);
  std::cerr << "error: " << e.what() << "\n"
            << "Run with --help for more information.\n";
  return 2;
}

// Joins `values` as "(a,b,c)".
std::string index_tuple(const std::vector<int64_t>& values) {
  std::string text = "(";
  for (size_t i = 0; i < values.size(); ++i) {
    text += (i ? "," : "") + std::to_string(values[i]);
  }
  return text + ")";
}

}  // namespace

void add_logging_flags(CLI::App& app, LoggingFlags& flags) {
  auto* verbose =
      app.add_flag("-v,--verbose", flags.verbose, "Log debug messages too");
  auto* quiet =
      app.add_flag("-q,--quiet", flags.quiet, "Log warnings and errors only");
  verbose->excludes(quiet);
}

void setup_logging(const LoggingFlags& flags) {
  auto logger = spdlog::stderr_color_mt("xai");
  logger->set_pattern("[%H:%M:%S.%e] %^%l%$: %v");
  logger->set_level(flags.verbose ? spdlog::level::debug
                    : flags.quiet ? spdlog::level::warn
                                  : spdlog::level::info);
  spdlog::set_default_logger(logger);
}

std::string exit_codes_help() {
  return "Exit codes:\n"
         "  0  success\n"
         "  1  unexpected internal error (a bug; please report it)\n"
         "  2  bad command line (unknown flag, missing or malformed value,\n"
         "     options that do not go together)\n"
         "  3  invalid input (shape, dtype, NaN, out-of-range option)\n"
         "  4  I/O error (missing, unreadable, corrupt or unwritable file)\n"
         "  5  unsupported model (not TorchScript, or refused by --strict)\n";
}

int run_main(CLI::App& app, const LoggingFlags& flags, int argc, char** argv,
             const std::function<void()>& body) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return report_parse_error(app, e);
  }
  setup_logging(flags);

  try {
    body();
    return 0;
  } catch (const CLI::ParseError& e) {
    return report_parse_error(app, e);
  } catch (const Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return exit_code(e.kind());
  } catch (const c10::Error& e) {
    // LibTorch checks its callers with TORCH_CHECK (the input is at fault)
    // and itself with internal assertions (a bug).
    std::string message = e.what_without_backtrace();
    std::cerr << "error: " << first_line(message) << "\n";
    return message.find("INTERNAL ASSERT FAILED") != std::string::npos ? 1 : 3;
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  }
}

void usage_error(const std::string& message) {
  throw CLI::ValidationError(message);
}

void print_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows,
                 const std::vector<bool>& right_align) {
  std::vector<size_t> width(header.size(), 0);
  auto widen = [&](const std::vector<std::string>& cells) {
    for (size_t i = 0; i < cells.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], cells[i].size());
    }
  };
  widen(header);
  for (const auto& row : rows) widen(row);

  auto print_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < width.size(); ++i) {
      std::string cell = i < cells.size() ? cells[i] : "";
      std::string pad(width[i] - cell.size(), ' ');
      bool right = i < right_align.size() && right_align[i];
      line += "  " + (right ? pad + cell : cell + pad);
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out << line << "\n";
  };
  print_row(header);
  for (const auto& row : rows) print_row(row);
}

RowRange parse_row_range(const std::string& spec) {
  auto bad = [&] {
    return InvalidArgument("invalid --rows: '" + spec +
                           "' (use A:B for rows A to B-1, A: or :B; rows "
                           "count from 0)");
  };
  auto colon = spec.find(':');
  if (colon == std::string::npos || spec == ":") throw bad();
  auto number = [&](const std::string& text, int64_t fallback) {
    if (text.empty()) return fallback;
    if (text.size() > 12 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
      throw bad();
    }
    return static_cast<int64_t>(std::stoll(text));
  };
  RowRange range;
  range.begin = number(spec.substr(0, colon), 0);
  range.end = number(spec.substr(colon + 1), -1);
  if (range.end >= 0 && range.end <= range.begin) throw bad();
  return range;
}

torch::Tensor slice_rows(const torch::Tensor& x, const RowRange& range,
                         const std::string& what) {
  int64_t rows = x.size(0);
  int64_t end = range.end < 0 ? rows : range.end;
  if (range.begin >= rows || end > rows) {
    throw InvalidArgument(
        "invalid --rows: " + std::to_string(range.begin) + ":" +
        (range.end < 0 ? std::string() : std::to_string(range.end)) + " (" +
        what + " has " + std::to_string(rows) + " rows, 0 to " +
        std::to_string(rows - 1) + ")");
  }
  return x.narrow(0, range.begin, end - range.begin);
}

torch::Tensor sample_rows(const torch::Tensor& x, int64_t n, uint64_t seed,
                          const std::string& what) {
  int64_t rows = x.size(0);
  if (n < 1 || n > rows) {
    throw InvalidArgument("cannot sample " + std::to_string(n) +
                          " background rows from " + what + ": it has " +
                          std::to_string(rows) + " rows (use 1 to " +
                          std::to_string(rows) + ")");
  }
  auto generator = at::detail::createCPUGenerator(seed);
  auto order = torch::randperm(rows, generator, torch::kLong);
  auto picked = std::get<0>(order.narrow(0, 0, n).sort());
  return x.index_select(0, picked);
}

std::vector<int64_t> parse_shape(const std::string& spec, const char* flag) {
  std::vector<int64_t> shape;
  std::stringstream in(spec);
  std::string part;
  while (std::getline(in, part, ',')) {
    size_t used = 0;
    int64_t d = 0;
    try {
      d = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != part.size() || d < 1) {
      throw InvalidArgument("invalid " + std::string(flag) + ": " + spec +
                            " (positive sizes joined by commas, e.g. "
                            "1,28,28)");
    }
    shape.push_back(d);
  }
  if (shape.empty()) {
    throw InvalidArgument("invalid " + std::string(flag) + ": " + spec +
                          " (positive sizes joined by commas, e.g. 1,28,28)");
  }
  return shape;
}

void check_output_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code error;
  fs::path path = fs::absolute(dir, error);
  if (fs::exists(path, error) && !fs::is_directory(path, error)) {
    throw IoError("cannot create directory " + dir +
                  ": a file of that name exists");
  }

  fs::path existing = path;
  while (!existing.empty() && !fs::exists(existing, error)) {
    existing = existing.parent_path();
  }
  if (!fs::is_directory(existing, error)) {
    throw IoError("cannot create directory " + dir + ": " + existing.string() +
                  " is not a directory");
  }
  if (access(existing.c_str(), W_OK | X_OK) != 0) {
    throw IoError("cannot write to directory " + dir + ": " +
                  existing.string() + " is not writable");
  }
}

Dataset load_reference(const std::string& path,
                       const std::string& label_column) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  LoadOptions options;
  if (ext == ".csv") options.label_column = label_column;
  return load_data(path, options);
}

std::vector<std::string> feature_labels(c10::IntArrayRef row_shape,
                                        const std::vector<std::string>& names) {
  int64_t count = c10::multiply_integers(row_shape);
  if (static_cast<int64_t>(names.size()) == count) return names;

  std::vector<std::string> labels;
  labels.reserve(count);
  std::vector<int64_t> index(row_shape.size(), 0);
  for (int64_t flat = 0; flat < count; ++flat) {
    int64_t rest = flat;
    for (int64_t d = static_cast<int64_t>(row_shape.size()) - 1; d >= 0; --d) {
      index[d] = rest % row_shape[d];
      rest /= row_shape[d];
    }
    if (row_shape.size() == 1) {
      labels.push_back("feature " + std::to_string(flat));
    } else if (row_shape.size() == 3) {
      labels.push_back("pixel " + index_tuple(index));
    } else {
      labels.push_back("feature " + index_tuple(index));
    }
  }
  return labels;
}

void print_summary(std::ostream& out, const Attribution& a,
                   const std::string& method_str,
                   const std::vector<std::string>& labels, int64_t top) {
  int64_t rows = a.values.size(0);
  int64_t targets = a.values.size(1);
  out << "explained " << rows << " row" << (rows == 1 ? "" : "s") << " x "
      << targets << " target" << (targets == 1 ? "" : "s") << " with "
      << method_str << " in " << fmt::format("{:.3f}", a.seconds) << " s\n";

  // One row: say which outputs were explained and their values.
  for (int64_t t = 0; rows == 1 && t < targets; ++t) {
    out << "output " << a.targets[0][t].item<int64_t>() << ": "
        << fmt::format("{:.4g}", a.outputs[0][t].item<double>());
    if (a.base_values.defined()) {
      out << " (base value "
          << fmt::format("{:.4g}", a.base_values[0][t].item<double>()) << ")";
    }
    out << "\n";
  }

  if (a.completeness_gap.defined() && a.completeness_gap.numel() > 0) {
    auto gap = a.completeness_gap.to(torch::kFloat64).abs();
    out << "completeness gap |sum(values) - (output - base value)|: largest "
        << fmt::format("{:.3g}", gap.max().item<double>()) << ", mean "
        << fmt::format("{:.3g}", gap.mean().item<double>())
        << ", largest relative to max(1, |output|) "
        << fmt::format("{:.3g}", max_relative_gap(a)) << "\n";
  } else {
    out << "completeness gap: none (" << a.method
        << " has no completeness property)\n";
  }

  if (a.standard_errors.defined() && a.standard_errors.numel() > 0) {
    auto se = a.standard_errors.to(torch::kFloat64);
    out << "standard error of the values: largest "
        << fmt::format("{:.3g}", se.max().item<double>()) << ", mean "
        << fmt::format("{:.3g}", se.mean().item<double>()) << "\n";
  }

  // Mean over rows and targets of each feature's value.
  auto values = a.values.to(torch::kFloat64).flatten(2);
  const std::vector<int64_t> rows_and_targets = {0, 1};
  auto mean_abs = values.abs().mean(rows_and_targets);
  auto mean = values.mean(rows_and_targets);
  int64_t k = std::min<int64_t>(top, mean_abs.numel());
  auto best = std::get<1>(mean_abs.topk(k));

  std::vector<std::vector<std::string>> table;
  for (int64_t i = 0; i < k; ++i) {
    int64_t f = best[i].item<int64_t>();
    table.push_back({std::to_string(i + 1), labels.at(f),
                     fmt::format("{:.4g}", mean_abs[f].item<double>()),
                     fmt::format("{:.4g}", mean[f].item<double>())});
  }
  out << "top " << k << " features by mean |value| over rows and targets:\n";
  print_table(out, {"rank", "feature", "mean |value|", "mean value"}, table,
              {true, false, true, true});
}

}  // namespace xai::app
