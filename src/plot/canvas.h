// The drawing surface behind the plots: a few primitives with two back
// ends, Cairo for PNG and a small SVG writer that keeps text as <text>
// elements (Cairo's own SVG surface turns text into glyph outlines, which
// cannot be searched). Internal to libxai.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace xai::plotting {

struct Color {
  double r = 0, g = 0, b = 0;  // each in [0, 1]
  double a = 1;                // opacity in [0, 1]

  static Color rgb(uint32_t hex, double alpha = 1);
  Color with_alpha(double alpha) const { return {r, g, b, alpha}; }
  // The colour t of the way from `from` to `to`, t in [0, 1].
  static Color mix(const Color& from, const Color& to, double t);
};

// SHAP's colours.
extern const Color kRed;        // #ff0051, positive values and high data
extern const Color kBlue;       // #008bfb, negative values and low data
extern const Color kText;       // labels
extern const Color kAxis;       // axis lines and ticks
extern const Color kGrid;       // light guide lines
extern const Color kNoData;     // dots without a feature value
extern const Color kWhite;

enum class Align { kLeft, kCenter, kRight };

struct TextStyle {
  double size = 13;  // font size in pixels
  Color color = kText;
  Align align = Align::kLeft;
  bool bold = false;
  bool vertical = false;  // rotated 90 degrees counter-clockwise
};

// A picture of width x height pixels, row-major RGBA bytes, straight
// (not premultiplied) alpha.
struct Pixels {
  int width = 0, height = 0;
  std::vector<uint8_t> rgba;
};

enum class Format { kPng, kSvg };

// Coordinates are in pixels from the top-left corner. Text is placed by its
// anchor point: x at the side given by Align, y at the vertical middle of
// a line of digits and lower-case letters.
class Canvas {
 public:
  virtual ~Canvas() = default;

  virtual void rect(double x, double y, double w, double h, Color fill) = 0;
  virtual void line(double x1, double y1, double x2, double y2, Color color,
                    double width, bool dashed = false) = 0;
  virtual void circle(double cx, double cy, double r, Color fill) = 0;
  // A closed polygon of (x, y) pairs.
  virtual void polygon(const std::vector<double>& xy, Color fill) = 0;
  virtual void text(double x, double y, const std::string& text,
                    const TextStyle& style) = 0;
  // `pixels` scaled to the box without smoothing.
  virtual void image(double x, double y, double w, double h,
                     const Pixels& pixels) = 0;
  // A left-to-right (or bottom-to-top when `vertical`) gradient through
  // `stops`, evenly spaced.
  virtual void gradient(double x, double y, double w, double h,
                        const std::vector<Color>& stops, bool vertical) = 0;

  // The file's bytes; the canvas must not be used afterwards.
  virtual std::string finish() = 0;
};

// A blank white canvas of `width` x `height` pixels.
std::unique_ptr<Canvas> make_canvas(Format format, int width, int height);

// The width in pixels of `text` drawn in `style` (DejaVu Sans).
double text_width(const std::string& text, const TextStyle& style);

// `text`, shortened with "..." to at most `max_width` pixels.
std::string fit_text(const std::string& text, const TextStyle& style,
                     double max_width);

// The format named by the extension of `path`; throws InvalidArgument
// "cannot write plot <path>: unsupported format (use .png or .svg)".
Format format_of(const std::string& path);

// `pixels` as PNG bytes.
std::string png_bytes(const Pixels& pixels);

}  // namespace xai::plotting
