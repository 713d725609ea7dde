// `lil demo`'s outputs: the table, the JSON objects and the SVG plots of the
// measured rows (demo_measure.hpp).
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "demo_measure.hpp"

namespace lil::cli {

// One object with exactly the keys model, policy, budget, problems, accuracy,
// accuracy_guardian, mean_tokens, mean_tokens_guardian, ms_per_token,
// total_s, total_s_guardian, kv_bytes. budget is null for full attention,
// the accuracies are null for a model without answers (stories).
nlohmann::ordered_json to_json(const demo_row& row);

// The table of one model's rows (the reasoner's or the stories' columns).
std::string format_table(const std::vector<demo_row>& rows);

struct plot_context {
  std::string directory;
  std::string subtitle;  // the run's settings (problems, cap, Guardian's f and t)
};

// Writes <model>_length.svg, <model>_accuracy.svg (the reasoner) or
// <model>_perplexity.svg (stories), and <model>_guardian_savings.svg into the
// directory (created if missing); returns the paths written. Throws io_error.
std::vector<std::string> write_plots(const std::vector<demo_row>& rows, const plot_context& context);

}  // namespace lil::cli
