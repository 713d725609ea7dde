#include "guard_plot.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "svg_text.hpp"

namespace lil::cli {

namespace {

using svg::escape;
using svg::tick_label;
using svg::tick_step;

constexpr double width = 900, height = 560;
constexpr double left = 90, right = 30, top = 70, bottom = 60;

}  // namespace

std::string plot_information_curves(const std::vector<trace_result>& traces, const plot_settings& settings) {
  double max_n = 1, max_c = 1;
  std::size_t stopped = 0;
  for (const auto& t : traces) {
    for (const auto& p : t.checks) {
      max_n = std::max(max_n, static_cast<double>(p.tokens));
      max_c = std::max(max_c, static_cast<double>(p.size));
    }
    stopped += t.stop != 0;
  }
  const double x_step = tick_step(max_n), y_step = tick_step(max_c);
  max_n = std::ceil(max_n / x_step) * x_step;
  max_c = std::ceil(max_c / y_step) * y_step;
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  auto x = [&](double n) { return left + n / max_n * plot_w; };
  auto y = [&](double c) { return top + plot_h - c / max_c * plot_h; };

  std::string svg = lil::cli::svg::open_document(width, height, left, settings.title, settings.subtitle);

  // Grid and axes.
  for (double v = 0; v <= max_n + x_step / 2; v += x_step)
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#e4e4e4\"/>"
        "<text x=\"{0:.1f}\" y=\"{3:.1f}\" text-anchor=\"middle\" fill=\"#333\">{4}</text>\n",
        x(v), top, top + plot_h, top + plot_h + 18, tick_label(v));
  for (double v = 0; v <= max_c + y_step / 2; v += y_step)
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#e4e4e4\"/>"
        "<text x=\"{3:.1f}\" y=\"{4:.1f}\" text-anchor=\"end\" fill=\"#333\">{5}</text>\n",
        left, y(v), left + plot_w, left - 8, y(v) + 4, tick_label(v));
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", left, top,
                     plot_w, plot_h);
  svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">tokens n</text>\n", left + plot_w / 2,
                     height - 14);
  svg += fmt::format(
      "<text transform=\"translate(22 {:.1f}) rotate(-90)\" text-anchor=\"middle\">C(n): exact DEFLATE size of the "
      "first n tokens (bytes)</text>\n",
      top + plot_h / 2);

  // Curves: up to the stop in blue, the tokens a stop saves in pale blue;
  // traces that never stop in grey.
  auto polyline = [&](const std::vector<check_point>& pts, std::size_t from, std::size_t to, const char* style) {
    if (to - from < 2) return;
    svg += "<polyline fill=\"none\" ";
    svg += style;
    svg += " points=\"";
    for (std::size_t i = from; i < to; ++i)
      svg += fmt::format("{:.1f},{:.1f} ", x(static_cast<double>(pts[i].tokens)), y(static_cast<double>(pts[i].size)));
    svg += "\"/>\n";
  };
  for (const auto& t : traces) {
    if (t.stop == 0) {
      polyline(t.checks, 0, t.checks.size(), "stroke=\"#777\" stroke-opacity=\"0.45\"");
      continue;
    }
    // A repetition stop (lil guard --rule) may fall between checks: the
    // curve is cut at the first check at or after it.
    std::size_t at = 0;
    while (at < t.checks.size() && t.checks[at].tokens < t.stop) ++at;
    polyline(t.checks, 0, std::min(at + 1, t.checks.size()), "stroke=\"#2f6db5\" stroke-opacity=\"0.6\"");
    polyline(t.checks, at, t.checks.size(), "stroke=\"#2f6db5\" stroke-opacity=\"0.18\"");
  }
  for (const auto& t : traces) {
    if (t.stop == 0) continue;
    const auto p = std::find_if(t.checks.begin(), t.checks.end(), [&](const check_point& c) { return c.tokens >= t.stop; });
    if (p != t.checks.end())
      svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.2\" fill=\"#d62728\"/>\n",
                         x(static_cast<double>(p->tokens)), y(static_cast<double>(p->size)));
  }

  // Legend.
  const double lx = left + 14, ly = top + 18;
  svg += fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"250\" height=\"62\" fill=\"white\" fill-opacity=\"0.85\" "
      "stroke=\"#bbb\"/>\n",
      lx - 8, ly - 14);
  svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#2f6db5\"/>"
                     "<text x=\"{3:.1f}\" y=\"{4:.1f}\">stopped ({5}); pale: tokens saved</text>\n",
                     lx, ly, lx + 24, lx + 32, ly + 4, stopped);
  svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#777\"/>"
                     "<text x=\"{3:.1f}\" y=\"{4:.1f}\">never stopped ({5})</text>\n",
                     lx, ly + 18, lx + 24, lx + 32, ly + 22, traces.size() - stopped);
  svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.2\" fill=\"#d62728\"/>"
                     "<text x=\"{:.1f}\" y=\"{:.1f}\">stop point</text>\n",
                     lx + 12, ly + 36, lx + 32, ly + 40);
  svg += "</svg>\n";
  return svg;
}

}  // namespace lil::cli
