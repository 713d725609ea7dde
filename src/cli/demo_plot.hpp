// `lil demo`'s SVG charts: a line chart over KV budgets (decode length,
// accuracy, perplexity against the budget, one line per policy, dashed with
// Guardian) and a grouped bar chart (tokens Guardian saves per policy and
// budget). Plain SVG text, no dependencies.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace lil::cli {

struct chart_series {
  std::string name;
  std::string color;  // any SVG colour
  bool dashed = false;
  bool in_legend = true;
  std::vector<std::pair<double, double>> points;  // (budget, value)
};

// A horizontal line across the chart (a policy without a budget, e.g. full attention).
struct chart_reference {
  std::string name;
  std::string color;
  bool dashed = false;
  double value = 0;
};

struct line_chart {
  std::string title, subtitle, x_label, y_label;
  std::vector<double> budgets;  // x positions, evenly spaced in this order (powers of two: a log scale)
  std::vector<chart_series> series;
  std::vector<chart_reference> references;
  std::vector<std::string> notes;  // extra legend lines (e.g. "dashed: with Guardian")
  double y_max = 0;                // 0: from the data
};

struct bar_chart {
  std::string title, subtitle, y_label;
  std::vector<std::string> groups;        // one group of bars per label (e.g. a budget)
  std::vector<std::string> series_names;  // one bar per series in each group
  std::vector<std::string> colors;        // per series
  std::vector<std::vector<double>> values;       // [series][group]; NaN: no bar
  std::vector<std::vector<std::string>> labels;  // [series][group]; text above the bar (may be empty)
};

// Both return a whole SVG document.
std::string render_line_chart(const line_chart& chart);
std::string render_bar_chart(const bar_chart& chart);

}  // namespace lil::cli
