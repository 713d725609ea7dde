// The SVG picture of a sweep: each rule a point (tokens saved, accuracy
// change), coloured by kind, the Pareto frontier drawn through the points
// that no other rule beats on both axes, the paper's rule ringed.
#pragma once

#include <string>
#include <vector>

#include "sweep_engine.hpp"

namespace lil::cli {

std::string plot_sweep(const std::vector<sweep_rule>& rules, const std::vector<rule_summary>& results,
                       const std::string& title, const std::string& subtitle);

}  // namespace lil::cli
