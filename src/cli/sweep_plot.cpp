#include "sweep_plot.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "svg_text.hpp"

namespace lil::cli {

namespace {

constexpr double width = 900, height = 580;
constexpr double left = 90, right = 30, top = 70, bottom = 60;

const char* colour(rule_kind k) {
  switch (k) {
    case rule_kind::guardian: return "#2f6db5";
    case rule_kind::repetition: return "#e07b00";
    case rule_kind::either: return "#3a9a3a";
  }
  return "#777";
}

}  // namespace

std::string plot_sweep(const std::vector<sweep_rule>& rules, const std::vector<rule_summary>& results,
                       const std::string& title, const std::string& subtitle) {
  // x: % of tokens saved; y: accuracy change in percentage points.
  double max_x = 1, min_y = 0, max_y = 0;
  for (const auto& r : results) {
    max_x = std::max(max_x, 100 * r.saved_fraction());
    const double dy = 100 * (r.accuracy_after() - r.accuracy_before());
    min_y = std::min(min_y, dy);
    max_y = std::max(max_y, dy);
  }
  const double x_step = svg::tick_step(max_x);
  max_x = std::ceil(max_x / x_step) * x_step;
  const double span = std::max(1.0, max_y - min_y);
  const double y_step = svg::tick_step(span);
  min_y = std::floor(min_y / y_step) * y_step;
  max_y = std::max(y_step, std::ceil(max_y / y_step) * y_step);
  const double plot_w = width - left - right, plot_h = height - top - bottom;
  auto x = [&](double v) { return left + v / max_x * plot_w; };
  auto y = [&](double v) { return top + (max_y - v) / (max_y - min_y) * plot_h; };

  std::string svg = lil::cli::svg::open_document(width, height, left, title, subtitle);
  for (double v = 0; v <= max_x + x_step / 2; v += x_step)
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#e4e4e4\"/>"
        "<text x=\"{0:.1f}\" y=\"{3:.1f}\" text-anchor=\"middle\" fill=\"#333\">{4}%</text>\n",
        x(v), top, top + plot_h, top + plot_h + 18, svg::tick_label(v));
  for (double v = min_y; v <= max_y + y_step / 2; v += y_step)
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"{5}\"/>"
        "<text x=\"{3:.1f}\" y=\"{4:.1f}\" text-anchor=\"end\" fill=\"#333\">{6:+g}</text>\n",
        left, y(v), left + plot_w, left - 8, y(v) + 4, std::fabs(v) < y_step / 1e6 ? "#999" : "#e4e4e4",
        std::fabs(v) < y_step / 1e6 ? 0.0 : v);
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", left, top,
                     plot_w, plot_h);
  svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">tokens saved (% of all tokens)</text>\n",
                     left + plot_w / 2, height - 14);
  svg += fmt::format(
      "<text transform=\"translate(22 {:.1f}) rotate(-90)\" text-anchor=\"middle\">accuracy change (percentage "
      "points)</text>\n",
      top + plot_h / 2);

  // The frontier: the Pareto rules by tokens saved, as a staircase from the
  // no-stop point (0, 0).
  std::vector<std::size_t> front;
  for (std::size_t i = 0; i < results.size(); ++i)
    if (results[i].pareto) front.push_back(i);
  std::sort(front.begin(), front.end(), [&](std::size_t a, std::size_t b) { return results[a].saved() < results[b].saved(); });
  if (!front.empty()) {
    svg += "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"1.5\" points=\"";
    double prev_y = y(0);
    svg += fmt::format("{:.1f},{:.1f} ", x(0), prev_y);
    for (std::size_t i : front) {
      const double px = x(100 * results[i].saved_fraction());
      const double py = y(100 * (results[i].accuracy_after() - results[i].accuracy_before()));
      svg += fmt::format("{:.1f},{:.1f} {:.1f},{:.1f} ", px, prev_y, px, py);
      prev_y = py;
    }
    svg += "\"/>\n";
  }
  for (std::size_t i = 0; i < results.size(); ++i) {
    const double px = x(100 * results[i].saved_fraction());
    const double py = y(100 * (results[i].accuracy_after() - results[i].accuracy_before()));
    svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{}\" fill=\"{}\" fill-opacity=\"0.65\"><title>{}</title></circle>\n",
                       px, py, results[i].pareto ? 4 : 3, colour(rules[i].kind), svg::escape(rules[i].label()));
  }
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (!rules[i].paper_default) continue;
    const double px = x(100 * results[i].saved_fraction());
    const double py = y(100 * (results[i].accuracy_after() - results[i].accuracy_before()));
    svg += fmt::format("<circle cx=\"{0:.1f}\" cy=\"{1:.1f}\" r=\"8\" fill=\"none\" stroke=\"black\" stroke-width=\"2\"/>"
                       "<text x=\"{2:.1f}\" y=\"{3:.1f}\" font-weight=\"bold\">paper's rule (f 250, t 20)</text>\n",
                       px, py, px + 11, py - 9);
  }

  const double lx = left + plot_w - 250, ly = top + 18;
  svg += fmt::format(
      "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"240\" height=\"80\" fill=\"white\" fill-opacity=\"0.85\" stroke=\"#bbb\"/>\n",
      lx - 8, ly - 14);
  const std::pair<rule_kind, const char*> kinds[] = {{rule_kind::guardian, "Guardian (f, t, level, k, w, r)"},
                                                     {rule_kind::repetition, "repetition (vLLM's rule)"},
                                                     {rule_kind::either, "either of the two"}};
  double row = ly;
  for (const auto& [k, name] : kinds) {
    svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"4\" fill=\"{}\"/><text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n",
                       lx + 6, row, colour(k), lx + 18, row + 4, name);
    row += 16;
  }
  svg += fmt::format("<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#d62728\" stroke-width=\"1.5\"/>"
                     "<text x=\"{3:.1f}\" y=\"{4:.1f}\">Pareto frontier</text>\n",
                     lx, row, lx + 14, lx + 18, row + 4);
  svg += "</svg>\n";
  return svg;
}

}  // namespace lil::cli
