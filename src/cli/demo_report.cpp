#include "demo_report.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>

#include "demo_plot.hpp"
#include "io.hpp"

namespace lil::cli {

namespace {

std::string budget_text(int budget) { return budget == 0 ? "-" : std::to_string(budget); }

std::string thousands(double value) {
  const std::string digits = fmt::format("{:.0f}", value);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') out += ',';
    out += digits[i];
  }
  return out;
}

std::string optional_fixed(const std::optional<double>& v, int decimals) {
  return v ? fmt::format("{:.{}f}", *v, decimals) : "-";
}

const std::map<std::string, std::string>& policy_colors() {
  static const std::map<std::string, std::string> colors = {
      {"full", "#444444"}, {"sink", "#1f77b4"},   {"h2o", "#ff7f0e"},
      {"quest", "#2ca02c"}, {"snapkv", "#9467bd"}, {"tova", "#d62728"}};
  return colors;
}

std::string color_of(const std::string& policy) {
  const auto it = policy_colors().find(policy);
  return it == policy_colors().end() ? "#8c564b" : it->second;
}

// The policies in the order the rows list them, and the budgets in increasing order.
std::vector<std::string> policies_of(const std::vector<demo_row>& rows) {
  std::vector<std::string> names;
  for (const auto& r : rows)
    if (std::find(names.begin(), names.end(), r.policy) == names.end()) names.push_back(r.policy);
  return names;
}

std::vector<double> budgets_of(const std::vector<demo_row>& rows) {
  std::vector<double> budgets;
  for (const auto& r : rows)
    if (r.budget != 0 && std::find(budgets.begin(), budgets.end(), r.budget) == budgets.end())
      budgets.push_back(r.budget);
  std::sort(budgets.begin(), budgets.end());
  return budgets;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw io_error(fmt::format("--plots: cannot open {} for writing", path));
  out << text;
  out.close();
  if (!out) throw io_error(fmt::format("--plots: cannot write {}", path));
}

// One line per budgeted policy (solid without Guardian, dashed with it) and
// the unbudgeted ones (full attention) as horizontal references.
template <class Value>
line_chart budget_chart(const std::vector<demo_row>& rows, Value value, Value value_guardian) {
  line_chart chart;
  chart.budgets = budgets_of(rows);
  chart.x_label = "KV budget (tokens kept / read per layer and head)";
  chart.notes = {"solid: without Guardian", "dashed, hollow: with Guardian"};
  for (const auto& policy : policies_of(rows)) {
    chart_series plain{policy, color_of(policy), false, true, {}};
    chart_series guarded{policy + " + Guardian", color_of(policy), true, false, {}};
    for (const auto& r : rows) {
      if (r.policy != policy) continue;
      if (r.budget == 0) {
        chart.references.push_back({policy + " attention", color_of(policy), false, value(r)});
        chart.references.push_back({policy + " + Guardian", color_of(policy), true, value_guardian(r)});
        continue;
      }
      plain.points.emplace_back(r.budget, value(r));
      guarded.points.emplace_back(r.budget, value_guardian(r));
    }
    if (plain.points.empty()) continue;
    chart.series.push_back(std::move(plain));
    chart.series.push_back(std::move(guarded));
  }
  return chart;
}

}  // namespace

nlohmann::ordered_json to_json(const demo_row& row) {
  nlohmann::ordered_json j;
  j["model"] = row.model;
  j["policy"] = row.policy;
  j["budget"] = row.budget == 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(row.budget);
  j["problems"] = row.problems;
  j["accuracy"] = row.accuracy ? nlohmann::ordered_json(*row.accuracy) : nlohmann::ordered_json(nullptr);
  j["accuracy_guardian"] =
      row.accuracy_guardian ? nlohmann::ordered_json(*row.accuracy_guardian) : nlohmann::ordered_json(nullptr);
  j["mean_tokens"] = row.mean_tokens;
  j["mean_tokens_guardian"] = row.mean_tokens_guardian;
  j["ms_per_token"] = row.ms_per_token;
  j["total_s"] = row.total_s;
  j["total_s_guardian"] = row.total_s_guardian;
  j["kv_bytes"] = row.kv_bytes;
  return j;
}

std::string format_table(const std::vector<demo_row>& rows) {
  if (rows.empty()) return {};
  const bool stories = rows.front().repetition.has_value();
  std::string out;
  if (!stories) {
    out += fmt::format("{:<7} {:>6} {:>8} {:>8} {:>8} {:>7} {:>8} {:>7} {:>6} {:>8} {:>8} {:>8} {:>10}\n", "policy",
                       "budget", "problems", "accuracy", "+Guard", "tokens", "+Guard", "stopped", "capped", "ms/token",
                       "total s", "+Guard", "KV bytes");
    for (const auto& r : rows)
      out += fmt::format("{:<7} {:>6} {:>8} {:>8} {:>8} {:>7.1f} {:>8.1f} {:>7} {:>6} {:>8.3f} {:>8.2f} {:>8.2f} {:>10}\n",
                         r.policy, budget_text(r.budget), r.problems, optional_fixed(r.accuracy, 3),
                         optional_fixed(r.accuracy_guardian, 3), r.mean_tokens, r.mean_tokens_guardian, r.stopped,
                         r.capped, r.ms_per_token, r.total_s, r.total_s_guardian, thousands(r.kv_bytes));
    return out;
  }
  out += fmt::format("{:<7} {:>6} {:>7} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6} {:>8} {:>7} {:>7} {:>9}\n", "policy",
                     "budget", "prompts", "tokens", "+Guard", "stopped", "capped", "rep4", "+Guard", "ppl", "+Guard",
                     "ms/token", "total s", "+Guard", "KV bytes");
  for (const auto& r : rows)
    out += fmt::format(
        "{:<7} {:>6} {:>7} {:>7.1f} {:>7.1f} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6} {:>8.3f} {:>7.2f} {:>7.2f} {:>9}\n", r.policy,
        budget_text(r.budget), r.problems, r.mean_tokens, r.mean_tokens_guardian, r.stopped, r.capped,
        optional_fixed(r.repetition, 3), optional_fixed(r.repetition_guardian, 3), optional_fixed(r.perplexity, 2),
        optional_fixed(r.perplexity_guardian, 2), r.ms_per_token, r.total_s, r.total_s_guardian, thousands(r.kv_bytes));
  return out;
}

std::vector<std::string> write_plots(const std::vector<demo_row>& rows, const plot_context& context) {
  std::vector<std::string> written;
  if (rows.empty()) return written;
  std::error_code ec;
  std::filesystem::create_directories(context.directory, ec);
  if (ec) throw io_error(fmt::format("--plots {}: cannot create the directory: {}", context.directory, ec.message()));
  const std::string model = rows.front().model;
  const bool stories = rows.front().repetition.has_value();
  auto save = [&](const std::string& name, const std::string& svg) {
    const std::string path = (std::filesystem::path(context.directory) / (model + "_" + name + ".svg")).string();
    write_text(path, svg);
    written.push_back(path);
  };

  using getter = double (*)(const demo_row&);
  line_chart length = budget_chart<getter>(
      rows, [](const demo_row& r) { return r.mean_tokens; }, [](const demo_row& r) { return r.mean_tokens_guardian; });
  length.title = fmt::format("{}: decode length vs KV budget", model);
  length.subtitle = context.subtitle;
  length.y_label = stories ? "mean generated tokens per story" : "mean generated tokens per problem";
  save("length", render_line_chart(length));

  if (!stories) {
    line_chart accuracy = budget_chart<getter>(
        rows, [](const demo_row& r) { return r.accuracy.value_or(0); },
        [](const demo_row& r) { return r.accuracy_guardian.value_or(0); });
    accuracy.title = fmt::format("{}: accuracy vs KV budget", model);
    accuracy.subtitle = context.subtitle;
    accuracy.y_label = "accuracy (share of problems answered right)";
    accuracy.y_max = 1.05;  // headroom, so that a line at 1 (full attention) stays visible
    save("accuracy", render_line_chart(accuracy));
  } else {
    line_chart perplexity = budget_chart<getter>(
        rows, [](const demo_row& r) { return r.perplexity.value_or(0); },
        [](const demo_row& r) { return r.perplexity_guardian.value_or(0); });
    perplexity.title = fmt::format("{}: dense-model perplexity of the generated text vs KV budget", model);
    perplexity.subtitle = context.subtitle;
    perplexity.y_label = "perplexity under dense attention (lower: more fluent)";
    save("perplexity", render_line_chart(perplexity));
  }

  bar_chart savings;
  savings.title = fmt::format("{}: tokens Guardian saves", model);
  savings.subtitle = context.subtitle;
  savings.y_label = stories ? "tokens saved per story (mean)" : "tokens saved per problem (mean)";
  const auto policies = policies_of(rows);
  const auto budgets = budgets_of(rows);
  const bool has_unbudgeted = std::any_of(rows.begin(), rows.end(), [](const demo_row& r) { return r.budget == 0; });
  if (has_unbudgeted) savings.groups.push_back("no budget");
  for (double b : budgets) savings.groups.push_back(fmt::format("budget {:g}", b));
  for (const auto& policy : policies) {
    savings.series_names.push_back(policy);
    savings.colors.push_back(color_of(policy));
    std::vector<double> values(savings.groups.size(), std::numeric_limits<double>::quiet_NaN());
    std::vector<std::string> labels(savings.groups.size());
    for (const auto& r : rows) {
      if (r.policy != policy) continue;
      std::size_t g = 0;
      if (r.budget != 0)
        g = static_cast<std::size_t>(std::find(budgets.begin(), budgets.end(), r.budget) - budgets.begin()) +
            (has_unbudgeted ? 1 : 0);
      values[g] = r.mean_tokens - r.mean_tokens_guardian;
      labels[g] = r.mean_tokens > 0 ? fmt::format("{:.0f}%", 100 * values[g] / r.mean_tokens) : "";
    }
    savings.values.push_back(std::move(values));
    savings.labels.push_back(std::move(labels));
  }
  save("guardian_savings", render_bar_chart(savings));
  return written;
}

}  // namespace lil::cli
