#include "demo_plot.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>

#include "svg_text.hpp"

namespace lil::cli {

namespace {

std::string number(double v) { return svg::tick_label(v, 1e4); }
using svg::escape;
using svg::tick_step;

// The legend sits right of the plot area, so lines never hide behind it.
constexpr double width = 940, height = 540;
constexpr double left = 80, right = 210, top = 72, bottom = 58;
constexpr double plot_w = width - left - right, plot_h = height - top - bottom;

std::string header(const std::string& title, const std::string& subtitle) {
  return svg::open_document(width, height, left, title, subtitle);
}

// Horizontal grid lines with labels, the frame and the y axis title; returns y(value).
struct y_axis {
  double max;
  double to_y(double v) const { return top + plot_h - v / max * plot_h; }
};

y_axis draw_y_axis(std::string& svg, double data_max, double fixed_max, const std::string& label) {
  double max = fixed_max > 0 ? fixed_max : data_max;
  const double step = tick_step(max);
  if (fixed_max <= 0) max = std::max(step, std::ceil(max / step) * step);
  const y_axis axis{max};
  // A fixed maximum may leave headroom above the last tick (accuracy: ticks to 1, axis to 1.05).
  const double last_tick = fixed_max > 0 ? std::floor(max / step + 1e-9) * step : max;
  for (double v = 0; v <= last_tick + step / 2; v += step)
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"#e4e4e4\"/>"
        "<text x=\"{3:.1f}\" y=\"{4:.1f}\" text-anchor=\"end\" fill=\"#333\">{5}</text>\n",
        left, axis.to_y(v), left + plot_w, left - 8, axis.to_y(v) + 4, number(v));
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#333\"/>\n", left, top,
                     plot_w, plot_h);
  svg += fmt::format("<text transform=\"translate(22 {:.1f}) rotate(-90)\" text-anchor=\"middle\">{}</text>\n",
                     top + plot_h / 2, escape(label));
  return axis;
}

std::string dash(bool dashed) { return dashed ? " stroke-dasharray=\"7 4\"" : ""; }

void legend_line(std::string& svg, double y, const std::string& color, bool dashed, const std::string& text) {
  const double x = left + plot_w + 18;
  svg += fmt::format(
      "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"{3}\" stroke-width=\"2.2\"{4}/>"
      "<text x=\"{5:.1f}\" y=\"{6:.1f}\">{7}</text>\n",
      x, y, x + 28, color, dash(dashed), x + 36, y + 4, escape(text));
}

void legend_note(std::string& svg, double y, const std::string& text) {
  svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"#555\">{}</text>\n", left + plot_w + 18, y + 4, escape(text));
}

}  // namespace

std::string render_line_chart(const line_chart& chart) {
  std::string svg = header(chart.title, chart.subtitle);
  double data_max = 0;
  for (const auto& s : chart.series)
    for (const auto& p : s.points) data_max = std::max(data_max, p.second);
  for (const auto& r : chart.references) data_max = std::max(data_max, r.value);
  const y_axis axis = draw_y_axis(svg, data_max, chart.y_max, chart.y_label);

  // Budgets are evenly spaced, with half a step of margin at both ends.
  const std::size_t n = std::max<std::size_t>(1, chart.budgets.size());
  auto x_of = [&](double budget) {
    const auto at = std::find(chart.budgets.begin(), chart.budgets.end(), budget);
    const double i = static_cast<double>(at - chart.budgets.begin());
    return left + (i + 0.5) / static_cast<double>(n) * plot_w;
  };
  for (double b : chart.budgets)
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#eeeeee\"/>"
        "<text x=\"{0:.1f}\" y=\"{3:.1f}\" text-anchor=\"middle\" fill=\"#333\">{4}</text>\n",
        x_of(b), top, top + plot_h, top + plot_h + 18, number(b));
  svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\">{}</text>\n", left + plot_w / 2,
                     height - 14, escape(chart.x_label));

  for (const auto& r : chart.references)
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2:.1f}\" y2=\"{1:.1f}\" stroke=\"{3}\" stroke-width=\"1.6\"{4}/>\n",
        left, axis.to_y(r.value), left + plot_w, r.color, dash(r.dashed));
  for (const auto& s : chart.series) {
    std::string points;
    for (const auto& p : s.points)
      if (std::isfinite(p.second)) points += fmt::format("{:.1f},{:.1f} ", x_of(p.first), axis.to_y(p.second));
    svg += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2.2\"{} points=\"{}\"/>\n", s.color,
                       dash(s.dashed), points);
    // Dashed series get hollow markers, so both show where they coincide.
    const std::string marker = s.dashed ? fmt::format("r=\"2.6\" fill=\"white\" stroke=\"{}\"", s.color)
                                        : fmt::format("r=\"3.4\" fill=\"{}\"", s.color);
    for (const auto& p : s.points)
      if (std::isfinite(p.second))
        svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" {}/>\n", x_of(p.first), axis.to_y(p.second), marker);
  }

  double y = top + 10;
  for (const auto& r : chart.references) {
    legend_line(svg, y, r.color, r.dashed, r.name);
    y += 20;
  }
  for (const auto& s : chart.series) {
    if (!s.in_legend) continue;
    legend_line(svg, y, s.color, s.dashed, s.name);
    y += 20;
  }
  y += 6;
  for (const auto& note : chart.notes) {
    legend_note(svg, y, note);
    y += 18;
  }
  svg += "</svg>\n";
  return svg;
}

std::string render_bar_chart(const bar_chart& chart) {
  std::string svg = header(chart.title, chart.subtitle);
  double data_max = 0;
  for (const auto& row : chart.values)
    for (double v : row)
      if (std::isfinite(v)) data_max = std::max(data_max, v);
  const y_axis axis = draw_y_axis(svg, data_max, 0, chart.y_label);

  const std::size_t groups = std::max<std::size_t>(1, chart.groups.size());
  const std::size_t bars = std::max<std::size_t>(1, chart.series_names.size());
  const double group_w = plot_w / static_cast<double>(groups);
  const double bar_w = group_w * 0.8 / static_cast<double>(bars);
  for (std::size_t g = 0; g < chart.groups.size(); ++g) {
    const double gx = left + static_cast<double>(g) * group_w;
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" fill=\"#333\">{}</text>\n",
                       gx + group_w / 2, top + plot_h + 18, escape(chart.groups[g]));
    for (std::size_t s = 0; s < chart.series_names.size() && s < chart.values.size(); ++s) {
      if (g >= chart.values[s].size() || !std::isfinite(chart.values[s][g])) continue;
      const double v = std::max(0.0, chart.values[s][g]);
      const double x = gx + group_w * 0.1 + static_cast<double>(s) * bar_w;
      svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"{}\"/>\n", x,
                         axis.to_y(v), bar_w * 0.92, top + plot_h - axis.to_y(v), chart.colors[s]);
      if (s < chart.labels.size() && g < chart.labels[s].size() && !chart.labels[s][g].empty())
        svg += fmt::format(
            "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" font-size=\"9\" fill=\"#333\">{}</text>\n",
            x + bar_w * 0.46, axis.to_y(v) - 3, escape(chart.labels[s][g]));
    }
  }
  double y = top + 10;
  const double x = left + plot_w + 18;
  for (std::size_t s = 0; s < chart.series_names.size(); ++s) {
    svg += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"16\" height=\"12\" fill=\"{}\"/>"
        "<text x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n",
        x, y - 6, chart.colors[s], x + 24, y + 4, escape(chart.series_names[s]));
    y += 20;
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace lil::cli
