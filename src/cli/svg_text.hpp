// Text helpers the SVG plots of `lil guard` and `lil demo` share.
#pragma once

#include <fmt/core.h>

#include <cmath>
#include <string>

namespace lil::cli::svg {

// XML-escapes text for an SVG attribute or element.
inline std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
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
