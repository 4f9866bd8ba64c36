// xai-plot: draws an explanation.json written by xai-attribute as a
// beeswarm, bar, waterfall or image plot, in PNG or SVG.

#include <iostream>

#include "app_common.h"
#include "xai/error.h"
#include "xai/plot/plot.h"

namespace {

struct Args {
  std::string explanation;
  std::string kind;
  std::string target_column;  // empty: "all" for image plots, else 0
  std::string out;
  xai::PlotOptions options;
};

const char* kFooter = R"(Kinds:
  beeswarm   one row per feature, a dot per row at its attribution,
             coloured by the feature's value (blue low, red high)
  bar        mean |attribution| per feature
  waterfall  one row (--row) from the base value E[f(X)] to f(x)
  image      inputs beside heat maps (red positive, blue negative), rows
             --row to --row + --max-images - 1

Explanations of all targets (xai-attribute --target all) hold one column
per model output: --target-column picks one (default 0), or "all" for image
plots, which draw one heat map per output (their default).

Examples:
  xai-plot out/breast_cancer/explanation.json --kind beeswarm \
      --out beeswarm.png
  xai-plot out/breast_cancer/explanation.json --kind waterfall --row 3 \
      --max-features 12 --out waterfall.svg
  xai-plot out/mnist_digit/explanation.json --kind image --out digits.png

)";

int64_t target_column(const Args& a, xai::PlotKind kind) {
  if (a.target_column.empty()) {
    return kind == xai::PlotKind::kImage ? xai::kAllTargets : 0;
  }
  if (a.target_column == "all") return xai::kAllTargets;
  try {
    size_t used = 0;
    long long column = std::stoll(a.target_column, &used);
    if (used == a.target_column.size() && column >= 0) return column;
  } catch (const std::exception&) {
  }
  xai::app::usage_error("--target-column: '" + a.target_column +
                        "' is neither a column index (0, 1, ...) nor all");
}

void run(const Args& a) {
  const xai::PlotKind kind = xai::plot_kind_from_string(a.kind);
  const int64_t column = target_column(a, kind);
  const xai::PlotData data =
      xai::plot_data_from_explanation(a.explanation, column);
  xai::plot(kind, data, a.options, a.out);
  std::cout << "wrote " << a.out << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Draws an explanation.json written by xai-attribute as a beeswarm,\n"
      "bar, waterfall or image plot (PNG or SVG, from the --out extension).",
      "xai-plot"};
  Args args;
  xai::app::LoggingFlags logging;
  app.add_option("explanation", args.explanation,
                 "explanation.json written by xai-attribute")
      ->required();
  app.add_option("--kind", args.kind, "beeswarm, bar, waterfall or image")
      ->required()
      ->check(CLI::IsMember({"beeswarm", "bar", "waterfall", "image"}));
  app.add_option("--out", args.out, "Plot file: .png or .svg")->required();
  app.add_option("--row", args.options.row,
                 "waterfall: the row; image: the first row")
      ->capture_default_str();
  app.add_option("--target-column", args.target_column,
                 "Explanations of all targets: a column, or all (image)");
  app.add_option("--max-features", args.options.max_features,
                 "beeswarm, bar, waterfall: most features drawn")
      ->capture_default_str();
  app.add_option("--max-images", args.options.max_images,
                 "image: most rows drawn")
      ->capture_default_str();
  app.add_option("--clip-percentile", args.options.clip_percentile,
                 "image: the colour saturates at this percentile of |value|")
      ->capture_default_str();
  app.add_option("--width", args.options.width, "Width in pixels")
      ->capture_default_str();
  app.add_option("--height", args.options.height,
                 "Height in pixels (0: fit the content)")
      ->capture_default_str();
  xai::app::add_logging_flags(app, logging);
  app.footer(std::string(kFooter) + xai::app::exit_codes_help());
  return xai::app::run_main(app, logging, argc, argv, [&] { run(args); });
}
