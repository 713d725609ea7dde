// `lil guard`: Guardian's stop rule over recorded traces. For every trace it
// prints where the rule would have stopped the decode loop and the
// information curve it saw; then a summary of the tokens the stops save.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "command.hpp"
#include "flag_checks.hpp"
#include "deflate_flags.hpp"
#include "guard_analysis.hpp"
#include "guard_plot.hpp"
#include "guard_tokens.hpp"
#include "io.hpp"
#include "progress.hpp"
#include "lil/guardian/repetition.hpp"
#include "trace_reader.hpp"

namespace lil::cli {

namespace {

struct guard_settings {
  std::string input = "-";
  std::string format = "auto";
  std::string field = "response";
  std::string id_field = "id";
  std::string array_key;
  std::string tokenizer;
  std::size_t bytes_per_token = 0;
  deflate_flags deflate;
  std::uint32_t f = 250;
  double t = 20;
  std::uint32_t patience = 1;
  std::uint64_t warmup = 0;
  double relative = 0;
  std::uint32_t relative_checks = 4;
  std::string mode = "incremental";
  std::string plot;
  std::string plot_title;
  std::string rule = "guardian";
  std::uint32_t repeat_min = 1;
  std::uint32_t repeat_max = 0;
  std::uint32_t repeat_count = 0;
  std::uint64_t repeat_min_tokens = 0;
};

repetition_options to_repetition(const guard_settings& s) {
  repetition_options o;
  o.min_pattern_size = s.repeat_min;
  o.max_pattern_size = s.repeat_max;
  o.min_count = s.repeat_count;
  o.min_tokens = s.repeat_min_tokens;
  o.rollback_window = 0;
  if (s.rule != "guardian" && (s.repeat_max == 0 || s.repeat_count == 0))
    throw lil::error("--rule " + s.rule + " needs --repeat-max-size N and --repeat-count C");
  o.validate();
  return o;
}

// vLLM's repetition rule over a tokenized trace: ids when the tokenizer has
// them, else the tokens' texts.
std::uint64_t repetition_stop(const token_stream& t, const repetition_options& o) {
  repetition_detector d(o);
  for (std::size_t i = 0; i < t.size() && !d.stopped(); ++i) {
    if (t.ids.empty())
      d.accept(t.token(i));
    else
      d.accept_id(t.ids[i]);
  }
  return d.decision().stopped_at;
}

guardian_options to_options(const guard_settings& s) {
  guardian_options o;
  o.rule.check_every = s.f;
  o.rule.min_gain = s.t;
  o.rule.patience = s.patience;
  o.rule.warmup_tokens = s.warmup;
  o.rule.relative_gain = s.relative;
  o.rule.relative_checks = s.relative_checks;
  const auto d = s.deflate.to_options(false);
  o.level = d.level;
  o.profile = d.profile;
  o.validate();
  return o;
}

input_format to_format(const std::string& f) {
  if (f == "jsonl") return input_format::jsonl;
  if (f == "json") return input_format::json;
  if (f == "text") return input_format::text;
  return input_format::automatic;
}

std::string percent(double part, double whole) { return whole == 0 ? "0.0" : fmt::format("{:.1f}", 100 * part / whole); }

int run_guard(const guard_settings& s) {
  if (s.tokenizer.empty() == (s.bytes_per_token == 0))
    throw lil::error("give exactly one of --tokenizer PATH.model and --bytes-per-token N");
  const guardian_options opts = to_options(s);
  const repetition_options repeat = to_repetition(s);
  const bool use_guardian = s.rule != "repetition", use_repetition = s.rule != "guardian";
  const guard_mode mode = s.mode == "recompress" ? guard_mode::recompress : guard_mode::incremental;
  const std::unique_ptr<tokenizer> tok =
      s.tokenizer.empty() ? make_byte_chunker(s.bytes_per_token) : load_sentencepiece(s.tokenizer);

  input_spec spec;
  spec.format = to_format(s.format);
  spec.field = s.field;
  spec.id_field = s.id_field;
  spec.array_key = s.array_key;
  const input_file input(s.input);
  const std::string& name = input.name();
  trace_reader reader(input.get(), name, spec);

  // One record at a time: memory is bounded by the longest record. Each
  // line is flushed as it is done, so a consumer sees results as they come.
  std::size_t records = 0, failed = 0, stopped = 0;
  std::uint64_t all_tokens = 0, saved_tokens = 0;
  std::vector<trace_result> curves;
  {
    progress_bar bar("lil guard", input.size());
    trace_record r;
    while (reader.next(r)) {
      ++records;
      std::string error = std::move(r.error);
      trace_result result;
      const char* stop_by = "guardian";
      if (error.empty()) {
        try {
          const token_stream tokens = tok->tokenize(r.text);
          if (use_guardian) {
            result = analyse(tokens, *tok, opts, mode);
          } else {
            result.tokens = tokens.size();
          }
          if (use_repetition) {
            const std::uint64_t n = repetition_stop(tokens, repeat);
            if (n != 0 && (result.stop == 0 || n < result.stop)) {
              result.stop = n;
              stop_by = "repetition";
            }
          }
        } catch (const std::exception& e) {
          error = fmt::format("{}: {}", r.where, e.what());
        }
      }
      bar.update(reader.bytes_read());
      if (!error.empty()) {
        ++failed;
        fmt::print(stderr, "lil guard: {}\n", error);
        continue;
      }
      nlohmann::ordered_json line;
      line["index"] = r.index;
      if (r.id) line["id"] = std::move(*r.id);
      line["tokens"] = result.tokens;
      line["stop"] = result.stop == 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(result.stop);
      if (use_repetition) line["stop_by"] = result.stop == 0 ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(stop_by);
      auto& checks = line["checks"] = nlohmann::ordered_json::array();
      for (const auto& p : result.checks) checks.push_back({p.tokens, p.size});
      write_stdout(line.dump() + "\n");
      flush_stdout();

      all_tokens += result.tokens;
      if (result.stop != 0) {
        ++stopped;
        saved_tokens += result.tokens - result.stop;
      }
      if (!s.plot.empty()) curves.push_back(std::move(result));
    }
    bar.update(reader.bytes_read());
  }
  flush_stdout();

  if (!s.plot.empty()) {
    plot_settings ps;
    ps.title = s.plot_title.empty() ? fmt::format("Information curves of {}", name) : s.plot_title;
    ps.subtitle = fmt::format("f = {}, t = {:g}, level {}, profile {}; {} traces, {} stopped, {}% of tokens saved",
                              opts.rule.check_every, opts.rule.min_gain, opts.level,
                              deflate::profile_name(opts.profile), records - failed, stopped,
                              percent(static_cast<double>(saved_tokens), static_cast<double>(all_tokens)));
    const std::string svg = plot_information_curves(curves, ps);
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(std::fopen(s.plot.c_str(), "wb"), std::fclose);
    if (!out) throw io_error(fmt::format("--plot {}: cannot open for writing", s.plot));
    write_all(out.get(), s.plot, reinterpret_cast<const unsigned char*>(svg.data()), svg.size());
    if (std::fclose(out.release()) != 0) throw io_error(fmt::format("--plot {}: cannot write", s.plot));
  }

  const std::size_t analysed = records - failed;
  fmt::print(stderr, "lil guard: {} traces analysed ({} failed), {} stopped ({}%), tokens {} -> {} (savings {}%)\n",
             analysed, failed, stopped, percent(static_cast<double>(stopped), static_cast<double>(analysed)),
             all_tokens, all_tokens - saved_tokens,
             percent(static_cast<double>(saved_tokens), static_cast<double>(all_tokens)));
  return failed == 0 ? exit_ok : exit_bad_record;
}

}  // namespace

subcommand register_guard(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "guard",
      "Run Guardian's stop rule over recorded traces: one JSON line per trace with its stop point and checks, "
      "then a summary on stderr");
  auto s = std::make_shared<guard_settings>();
  cmd->add_option("input", s->input, "JSON Lines, a JSON document, or plain text; '-' reads stdin")
      ->capture_default_str();
  cmd->add_option("--format", s->format, "Input format (auto: '[' = JSON document, '{' = JSON Lines, else text)")
      ->check(CLI::IsMember({"auto", "jsonl", "json", "text"}))
      ->capture_default_str();
  cmd->add_option("--field", s->field, "Field of each record that holds the trace's text")->capture_default_str();
  cmd->add_option("--id-field", s->id_field, "Field copied to the output as \"id\" when present")
      ->capture_default_str();
  cmd->add_option("--array-key", s->array_key, "JSON document: the records are the array under this key");
  auto* tokenizer = cmd->add_option("--tokenizer", s->tokenizer,
                                    "Sentencepiece model: tokens are its ids, the text of n tokens is its decode");
  auto* chunks = cmd->add_option("--bytes-per-token", s->bytes_per_token,
                                 "Cut the UTF-8 text into chunks of N bytes instead of tokenizing")
                     ->check(integer_at_least(1));
  tokenizer->excludes(chunks);
  add_deflate_flags(*cmd, s->deflate);
  cmd->add_option("--f", s->f, "Tokens between checks")->check(integer_at_least(1))->capture_default_str();
  cmd->add_option("--t", s->t, "Stop when the last f tokens added fewer than this many compressed bytes")
      ->check(number_at_least(0))
      ->capture_default_str();
  cmd->add_option("--patience", s->patience, "Stop only after this many low-gain checks in a row")
      ->check(integer_at_least(1))
      ->capture_default_str();
  cmd->add_option("--warmup", s->warmup, "Never stop before this many tokens")
      ->check(integer_at_least(0))
      ->capture_default_str();
  cmd->add_option("--relative", s->relative,
                  "Also low-gain below this fraction of the slope of the first checks (0: off)")
      ->check(number_at_least(0))
      ->capture_default_str();
  cmd->add_option("--relative-checks", s->relative_checks, "Checks that measure the slope for --relative")
      ->check(integer_at_least(2))
      ->capture_default_str();
  cmd->add_option("--mode", s->mode,
                  "incremental (Guardian, as an engine runs it) or recompress (the paper's from-scratch baseline)")
      ->check(CLI::IsMember({"incremental", "recompress"}))
      ->capture_default_str();
  cmd->add_option("--rule", s->rule,
                  "guardian (the paper's rule), repetition (vLLM's: --repeat-*), or either (stop when either does)")
      ->check(CLI::IsMember({"guardian", "repetition", "either"}))
      ->capture_default_str();
  cmd->add_option("--repeat-min-size", s->repeat_min, "Repetition rule: smallest n-gram size (0 means 1)")
      ->check(integer_at_least(0))
      ->capture_default_str();
  cmd->add_option("--repeat-max-size", s->repeat_max, "Repetition rule: largest n-gram size")->check(integer_at_least(1));
  cmd->add_option("--repeat-count", s->repeat_count, "Repetition rule: repeats in a row that stop")->check(integer_at_least(2));
  cmd->add_option("--repeat-min-tokens", s->repeat_min_tokens, "Repetition rule: no check before this many tokens")
      ->check(integer_at_least(0))
      ->capture_default_str();
  cmd->add_option("--plot", s->plot, "Write the information curves with their stop points to this SVG file");
  cmd->add_option("--plot-title", s->plot_title, "Title of the plot (default: names the input)");
  return {cmd, [s] { return run_guard(*s); }};
}

}  // namespace lil::cli
