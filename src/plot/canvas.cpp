#include "plot/canvas.h"

#include <cairo.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "xai/error.h"

namespace xai::plotting {

Color Color::rgb(uint32_t hex, double alpha) {
  return {((hex >> 16) & 0xff) / 255.0, ((hex >> 8) & 0xff) / 255.0,
          (hex & 0xff) / 255.0, alpha};
}

Color Color::mix(const Color& from, const Color& to, double t) {
  t = std::clamp(t, 0.0, 1.0);
  auto lerp = [t](double a, double b) { return a + (b - a) * t; };
  return {lerp(from.r, to.r), lerp(from.g, to.g), lerp(from.b, to.b),
          lerp(from.a, to.a)};
}

const Color kRed = Color::rgb(0xff0051);
const Color kBlue = Color::rgb(0x008bfb);
const Color kText = Color::rgb(0x333333);
const Color kAxis = Color::rgb(0x555555);
const Color kGrid = Color::rgb(0xcccccc);
const Color kNoData = Color::rgb(0x888888);
const Color kWhite = Color::rgb(0xffffff);

namespace {

constexpr const char* kFont = "DejaVu Sans";

// Where the baseline lies below the vertical middle of digits and
// lower-case letters, as a share of the font size (DejaVu Sans).
constexpr double kMiddleToBaseline = 0.36;

void set_font(cairo_t* cr, const TextStyle& style) {
  cairo_select_font_face(
      cr, kFont, CAIRO_FONT_SLANT_NORMAL,
      style.bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, style.size);
}

// A context on a 1x1 surface for measuring text, one per thread.
class Measurer {
 public:
  Measurer() {
    surface_ = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, 1, 1);
    cr_ = cairo_create(surface_);
    cairo_font_options_t* options = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF);
    cairo_set_font_options(cr_, options);
    cairo_font_options_destroy(options);
  }
  ~Measurer() {
    cairo_destroy(cr_);
    cairo_surface_destroy(surface_);
  }
  Measurer(const Measurer&) = delete;
  Measurer& operator=(const Measurer&) = delete;

  double width(const std::string& text, const TextStyle& style) {
    set_font(cr_, style);
    cairo_text_extents_t extents;
    cairo_text_extents(cr_, text.c_str(), &extents);
    return extents.x_advance;
  }

 private:
  cairo_surface_t* surface_;
  cairo_t* cr_;
};

cairo_status_t append_to_string(void* closure, const unsigned char* data,
                                unsigned int length) {
  static_cast<std::string*>(closure)->append(
      reinterpret_cast<const char*>(data), length);
  return CAIRO_STATUS_SUCCESS;
}

// An ARGB32 surface (premultiplied, native-endian words) of `pixels`.
cairo_surface_t* surface_of(const Pixels& pixels) {
  cairo_surface_t* surface = cairo_image_surface_create(
      CAIRO_FORMAT_ARGB32, pixels.width, pixels.height);
  cairo_surface_flush(surface);
  unsigned char* base = cairo_image_surface_get_data(surface);
  const int stride = cairo_image_surface_get_stride(surface);
  for (int y = 0; y < pixels.height; ++y) {
    auto* row = reinterpret_cast<uint32_t*>(base + y * stride);
    for (int x = 0; x < pixels.width; ++x) {
      const uint8_t* p = &pixels.rgba[4 * (y * pixels.width + x)];
      const uint32_t a = p[3];
      auto pre = [a](uint32_t c) { return (c * a + 127) / 255; };
      row[x] = a << 24 | pre(p[0]) << 16 | pre(p[1]) << 8 | pre(p[2]);
    }
  }
  cairo_surface_mark_dirty(surface);
  return surface;
}

class CairoCanvas : public Canvas {
 public:
  CairoCanvas(int width, int height) {
    surface_ = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cr_ = cairo_create(surface_);
    if (cairo_status(cr_) != CAIRO_STATUS_SUCCESS) {
      std::string why = cairo_status_to_string(cairo_status(cr_));
      cairo_destroy(cr_);
      cairo_surface_destroy(surface_);
      throw InvalidArgument("cannot draw a plot of " + std::to_string(width) +
                            "x" + std::to_string(height) + " pixels: " + why);
    }
    cairo_font_options_t* options = cairo_font_options_create();
    cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF);
    cairo_set_font_options(cr_, options);
    cairo_font_options_destroy(options);
    cairo_set_source_rgb(cr_, 1, 1, 1);
    cairo_paint(cr_);
  }
  ~CairoCanvas() override {
    cairo_destroy(cr_);
    cairo_surface_destroy(surface_);
  }
  CairoCanvas(const CairoCanvas&) = delete;
  CairoCanvas& operator=(const CairoCanvas&) = delete;

  void rect(double x, double y, double w, double h, Color fill) override {
    source(fill);
    cairo_rectangle(cr_, x, y, w, h);
    cairo_fill(cr_);
  }

  void line(double x1, double y1, double x2, double y2, Color color,
            double width, bool dashed) override {
    // Thin vertical and horizontal lines on the pixel grid stay sharp.
    if (std::lround(width) % 2 == 1) {
      if (x1 == x2) x1 = x2 = std::floor(x1) + 0.5;
      if (y1 == y2) y1 = y2 = std::floor(y1) + 0.5;
    }
    source(color);
    cairo_set_line_width(cr_, width);
    const double dash[] = {4 * width, 3 * width};
    cairo_set_dash(cr_, dash, dashed ? 2 : 0, 0);
    cairo_move_to(cr_, x1, y1);
    cairo_line_to(cr_, x2, y2);
    cairo_stroke(cr_);
  }

  void circle(double cx, double cy, double r, Color fill) override {
    source(fill);
    cairo_new_sub_path(cr_);
    cairo_arc(cr_, cx, cy, r, 0, 2 * M_PI);
    cairo_fill(cr_);
  }

  void polygon(const std::vector<double>& xy, Color fill) override {
    if (xy.size() < 6) return;
    source(fill);
    cairo_move_to(cr_, xy[0], xy[1]);
    for (size_t i = 2; i + 1 < xy.size(); i += 2) {
      cairo_line_to(cr_, xy[i], xy[i + 1]);
    }
    cairo_close_path(cr_);
    cairo_fill(cr_);
  }

  void text(double x, double y, const std::string& text,
            const TextStyle& style) override {
    set_font(cr_, style);
    cairo_text_extents_t extents;
    cairo_text_extents(cr_, text.c_str(), &extents);
    double shift = 0;
    if (style.align == Align::kCenter) shift = extents.x_advance / 2;
    if (style.align == Align::kRight) shift = extents.x_advance;

    cairo_save(cr_);
    cairo_translate(cr_, x, y);
    if (style.vertical) cairo_rotate(cr_, -M_PI / 2);
    source(style.color);
    cairo_move_to(cr_, -shift, kMiddleToBaseline * style.size);
    cairo_show_text(cr_, text.c_str());
    cairo_restore(cr_);
  }

  void image(double x, double y, double w, double h,
             const Pixels& pixels) override {
    if (pixels.width <= 0 || pixels.height <= 0) return;
    cairo_surface_t* picture = surface_of(pixels);
    cairo_save(cr_);
    cairo_translate(cr_, x, y);
    cairo_scale(cr_, w / pixels.width, h / pixels.height);
    cairo_set_source_surface(cr_, picture, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr_), CAIRO_FILTER_NEAREST);
    cairo_rectangle(cr_, 0, 0, pixels.width, pixels.height);
    cairo_fill(cr_);
    cairo_restore(cr_);
    cairo_surface_destroy(picture);
  }

  void gradient(double x, double y, double w, double h,
                const std::vector<Color>& stops, bool vertical) override {
    cairo_pattern_t* pattern =
        vertical ? cairo_pattern_create_linear(0, y + h, 0, y)
                 : cairo_pattern_create_linear(x, 0, x + w, 0);
    for (size_t i = 0; i < stops.size(); ++i) {
      const Color& c = stops[i];
      double at = stops.size() > 1 ? double(i) / (stops.size() - 1) : 0;
      cairo_pattern_add_color_stop_rgba(pattern, at, c.r, c.g, c.b, c.a);
    }
    cairo_set_source(cr_, pattern);
    cairo_rectangle(cr_, x, y, w, h);
    cairo_fill(cr_);
    cairo_pattern_destroy(pattern);
  }

  std::string finish() override {
    cairo_surface_flush(surface_);
    std::string bytes;
    cairo_status_t status = cairo_surface_write_to_png_stream(
        surface_, append_to_string, &bytes);
    if (status != CAIRO_STATUS_SUCCESS) {
      throw InvalidArgument(std::string("cannot encode plot as PNG: ") +
                            cairo_status_to_string(status));
    }
    return bytes;
  }

 private:
  void source(const Color& c) {
    cairo_set_source_rgba(cr_, c.r, c.g, c.b, c.a);
  }

  cairo_surface_t* surface_;
  cairo_t* cr_;
};

// Coordinates with at most two decimals, without trailing zeros.
std::string num(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f", v);
  std::string text = buffer;
  while (text.back() == '0') text.pop_back();
  if (text.back() == '.') text.pop_back();
  return text == "-0" ? "0" : text;
}

std::string hex(const Color& c) {
  auto byte = [](double v) {
    return static_cast<int>(std::lround(std::clamp(v, 0.0, 1.0) * 255));
  };
  char buffer[8];
  std::snprintf(buffer, sizeof(buffer), "#%02x%02x%02x", byte(c.r),
                byte(c.g), byte(c.b));
  return buffer;
}

std::string escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default:
        // Control characters are not allowed in XML 1.0.
        if (static_cast<unsigned char>(ch) >= 0x20 || ch == '\t') out += ch;
    }
  }
  return out;
}

std::string base64(const std::string& bytes) {
  static const char* kDigits =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t n = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) n |= static_cast<uint8_t>(bytes[i + 2]);
    out += kDigits[(n >> 18) & 63];
    out += kDigits[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kDigits[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? kDigits[n & 63] : '=';
  }
  return out;
}

class SvgCanvas : public Canvas {
 public:
  SvgCanvas(int width, int height) {
    const std::string w = std::to_string(width), h = std::to_string(height);
    out_ =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<svg xmlns=\"http://www.w3.org/2000/svg\" "
        "xmlns:xlink=\"http://www.w3.org/1999/xlink\" width=\"" +
        w + "\" height=\"" + h + "\" viewBox=\"0 0 " + w + " " + h +
        "\">\n<g font-family=\"DejaVu Sans, Verdana, sans-serif\">\n"
        "<rect width=\"" +
        w + "\" height=\"" + h + "\" fill=\"#ffffff\"/>\n";
  }

  void rect(double x, double y, double w, double h, Color fill) override {
    out_ += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" +
            num(w) + "\" height=\"" + num(h) + "\"" + paint("fill", fill) +
            "/>\n";
  }

  void line(double x1, double y1, double x2, double y2, Color color,
            double width, bool dashed) override {
    out_ += "<line x1=\"" + num(x1) + "\" y1=\"" + num(y1) + "\" x2=\"" +
            num(x2) + "\" y2=\"" + num(y2) + "\"" + paint("stroke", color) +
            " stroke-width=\"" + num(width) + "\"";
    if (dashed) {
      out_ += " stroke-dasharray=\"" + num(4 * width) + " " +
              num(3 * width) + "\"";
    }
    out_ += "/>\n";
  }

  void circle(double cx, double cy, double r, Color fill) override {
    out_ += "<circle cx=\"" + num(cx) + "\" cy=\"" + num(cy) + "\" r=\"" +
            num(r) + "\"" + paint("fill", fill) + "/>\n";
  }

  void polygon(const std::vector<double>& xy, Color fill) override {
    out_ += "<polygon points=\"";
    for (size_t i = 0; i + 1 < xy.size(); i += 2) {
      out_ += (i ? " " : "") + num(xy[i]) + "," + num(xy[i + 1]);
    }
    out_ += "\"" + paint("fill", fill) + "/>\n";
  }

  void text(double x, double y, const std::string& text,
            const TextStyle& style) override {
    const char* anchor = style.align == Align::kLeft     ? "start"
                         : style.align == Align::kCenter ? "middle"
                                                         : "end";
    out_ += "<text";
    if (style.vertical) {
      out_ += " transform=\"translate(" + num(x) + " " + num(y) +
              ") rotate(-90)\" x=\"0\" y=\"" +
              num(kMiddleToBaseline * style.size) + "\"";
    } else {
      out_ += " x=\"" + num(x) + "\" y=\"" +
              num(y + kMiddleToBaseline * style.size) + "\"";
    }
    out_ += " font-size=\"" + num(style.size) + "\"" +
            paint("fill", style.color) + " text-anchor=\"" + anchor + "\"";
    if (style.bold) out_ += " font-weight=\"bold\"";
    out_ += ">" + escape(text) + "</text>\n";
  }

  void image(double x, double y, double w, double h,
             const Pixels& pixels) override {
    out_ += "<image x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" +
            num(w) + "\" height=\"" + num(h) +
            "\" preserveAspectRatio=\"none\" image-rendering=\"optimizeSpeed\""
            " style=\"image-rendering:pixelated\" xlink:href=\"data:image/"
            "png;base64," +
            base64(png_bytes(pixels)) + "\"/>\n";
  }

  void gradient(double x, double y, double w, double h,
                const std::vector<Color>& stops, bool vertical) override {
    const std::string id = "gradient" + std::to_string(gradients_++);
    out_ += "<defs><linearGradient id=\"" + id + "\" " +
            (vertical ? "x1=\"0\" y1=\"1\" x2=\"0\" y2=\"0\""
                      : "x1=\"0\" y1=\"0\" x2=\"1\" y2=\"0\"") +
            ">";
    for (size_t i = 0; i < stops.size(); ++i) {
      double at = stops.size() > 1 ? double(i) / (stops.size() - 1) : 0;
      out_ += "<stop offset=\"" + num(at) + "\" stop-color=\"" +
              hex(stops[i]) + "\"";
      if (stops[i].a < 1) out_ += " stop-opacity=\"" + num(stops[i].a) + "\"";
      out_ += "/>";
    }
    out_ += "</linearGradient></defs>\n<rect x=\"" + num(x) + "\" y=\"" +
            num(y) + "\" width=\"" + num(w) + "\" height=\"" + num(h) +
            "\" fill=\"url(#" + id + ")\"/>\n";
  }

  std::string finish() override { return out_ + "</g>\n</svg>\n"; }

 private:
  static std::string paint(const char* what, const Color& c) {
    std::string text = std::string(" ") + what + "=\"" + hex(c) + "\"";
    if (c.a < 1) text += std::string(" ") + what + "-opacity=\"" + num(c.a) +
                         "\"";
    return text;
  }

  std::string out_;
  int gradients_ = 0;
};

}  // namespace

std::unique_ptr<Canvas> make_canvas(Format format, int width, int height) {
  if (format == Format::kSvg) {
    return std::make_unique<SvgCanvas>(width, height);
  }
  return std::make_unique<CairoCanvas>(width, height);
}

double text_width(const std::string& text, const TextStyle& style) {
  thread_local Measurer measurer;
  return measurer.width(text, style);
}

std::string fit_text(const std::string& text, const TextStyle& style,
                     double max_width) {
  if (text_width(text, style) <= max_width) return text;
  std::string cut = text;
  while (!cut.empty()) {
    cut.pop_back();
    // Never end inside a UTF-8 sequence.
    while (!cut.empty() && (static_cast<unsigned char>(cut.back()) & 0xc0) ==
                               0x80) {
      cut.pop_back();
    }
    if (!cut.empty() && static_cast<unsigned char>(cut.back()) >= 0xc0) {
      cut.pop_back();
    }
    if (text_width(cut + "...", style) <= max_width) return cut + "...";
  }
  return "...";
}

Format format_of(const std::string& path) {
  std::string ext;
  auto dot = path.rfind('.');
  auto slash = path.rfind('/');
  if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) {
    ext = path.substr(dot);
  }
  for (char& ch : ext) ch = static_cast<char>(std::tolower(ch));
  if (ext == ".png") return Format::kPng;
  if (ext == ".svg") return Format::kSvg;
  throw InvalidArgument("cannot write plot " + path +
                        ": unsupported format (use .png or .svg)");
}

std::string png_bytes(const Pixels& pixels) {
  cairo_surface_t* surface = surface_of(pixels);
  std::string bytes;
  cairo_status_t status =
      cairo_surface_write_to_png_stream(surface, append_to_string, &bytes);
  cairo_surface_destroy(surface);
  if (status != CAIRO_STATUS_SUCCESS) {
    throw InvalidArgument(std::string("cannot encode image as PNG: ") +
                          cairo_status_to_string(status));
  }
  return bytes;
}

}  // namespace xai::plotting
