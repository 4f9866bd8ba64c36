// Plot kinds, dispatch and the printing of options.

#include "xai/plot/plot.h"

#include "plot/common.h"
#include "xai/error.h"

namespace xai {

std::string to_string(const PlotOptions& o) {
  return "PlotOptions(width=" + std::to_string(o.width) + ", height=" +
         (o.height == 0 ? std::string("auto") : std::to_string(o.height)) +
         ", max_features=" + std::to_string(o.max_features) +
         ", row=" + std::to_string(o.row) +
         ", max_images=" + std::to_string(o.max_images) +
         ", clip_percentile=" + plotting::format_number(o.clip_percentile) +
         ")";
}

PlotKind plot_kind_from_string(const std::string& name) {
  if (name == "beeswarm") return PlotKind::kBeeswarm;
  if (name == "bar") return PlotKind::kBar;
  if (name == "waterfall") return PlotKind::kWaterfall;
  if (name == "image") return PlotKind::kImage;
  throw InvalidArgument("unknown plot kind '" + name +
                        "' (use beeswarm, bar, waterfall or image)");
}

std::string to_string(PlotKind kind) {
  switch (kind) {
    case PlotKind::kBeeswarm:
      return "beeswarm";
    case PlotKind::kBar:
      return "bar";
    case PlotKind::kWaterfall:
      return "waterfall";
    case PlotKind::kImage:
      return "image";
  }
  return "unknown";
}

void plot(PlotKind kind, const PlotData& data, const PlotOptions& options,
          const std::string& path) {
  switch (kind) {
    case PlotKind::kBeeswarm:
      return plot_beeswarm(data, options, path);
    case PlotKind::kBar:
      return plot_bar(data, options, path);
    case PlotKind::kWaterfall:
      return plot_waterfall(data, options, path);
    case PlotKind::kImage:
      return plot_image(data, options, path);
  }
}

}  // namespace xai
