// Text helpers the SVG plots of `lil guard`, `lil sweep` and `lil demo` share.
#pragma once

#include <fmt/core.h>

#include <cmath>
#include <string>
#include <string_view>

#include "utf8.hpp"

namespace lil::cli::svg {

// Text as XML character data (for an SVG attribute or element): the markup
// characters escaped, and what XML 1.0 cannot hold at all (control
// characters other than tab and newlines, U+FFFE/U+FFFF, bytes that are not
// UTF-8) replaced by U+FFFD, so that a title taken from a flag or a file name
// cannot make the document unparsable.
inline std::string escape(std::string_view s) {
  constexpr std::string_view replacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(s.size());
  while (!s.empty()) {
    const std::size_t bad = first_invalid_utf8(s);
    const std::string_view valid = s.substr(0, bad == std::string_view::npos ? s.size() : bad);
    for (std::size_t i = 0; i < valid.size(); ++i) {
      const char c = valid[i];
      const auto u = static_cast<unsigned char>(c);
      if (u == 0xEF && valid.substr(i, 3) >= "\xEF\xBF\xBE" && valid.substr(i, 3) <= "\xEF\xBF\xBF") {
        out += replacement;
        i += 2;
        continue;
      }
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&quot;"; break;
        default:
          if ((u < 0x20 && c != '\t' && c != '\n' && c != '\r') || u == 0x7F)
            out += replacement;
          else
            out += c;
      }
    }
    if (bad == std::string_view::npos) break;
    out += replacement;
    s.remove_prefix(bad + 1);
  }
  return out;
}

// The opening of every plot: the document on a white page, its title and the
// subtitle beneath, set from x = left (the plot area's left edge).
inline std::string open_document(double width, double height, double left, std::string_view title,
                                 std::string_view subtitle) {
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
      "font-family=\"sans-serif\" font-size=\"12\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, height);
  svg += fmt::format("<text x=\"{}\" y=\"28\" font-size=\"16\" font-weight=\"bold\">{}</text>\n", left,
                     escape(title));
  svg += fmt::format("<text x=\"{}\" y=\"48\" fill=\"#555\">{}</text>\n", left, escape(subtitle));
  return svg;
}

// A round step (1, 2, 2.5 or 5 times a power of ten) that cuts [0, max]
// into about five intervals.
inline double tick_step(double max) {
  if (!(max > 0)) return 1;
  const double raw = max / 5;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * magnitude >= raw) return m * magnitude;
  return 10 * magnitude;
}

// An axis label: 12k, 1.5M; plain below `thousands_from`.
inline std::string tick_label(double v, double thousands_from = 1e3) {
  if (std::fabs(v) >= 1e6) return fmt::format("{:g}M", v / 1e6);
  if (std::fabs(v) >= thousands_from) return fmt::format("{:g}k", v / 1e3);
  return fmt::format("{:g}", v);
}

}  // namespace lil::cli::svg
