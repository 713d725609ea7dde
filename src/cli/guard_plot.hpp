// `lil guard --plot`: the information curves C(n) of the traces as an SVG,
// with each trace's stop point marked.
#pragma once

#include <string>
#include <vector>

#include "guard_analysis.hpp"

namespace lil::cli {

struct plot_settings {
  std::string title;
  std::string subtitle;
};

// Returns the SVG document.
std::string plot_information_curves(const std::vector<trace_result>& traces, const plot_settings& settings);

}  // namespace lil::cli
