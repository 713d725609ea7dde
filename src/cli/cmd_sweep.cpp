// `lil sweep`: a grid of stop rules over labelled traces. For every rule:
// traces stopped, tokens saved, accuracy before and after; the Pareto-optimal
// rules marked (JSON lines, a table, an SVG plot). See sweep_engine.hpp for
// how the work is shared and sweep_judge.hpp for how answers are judged.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "command.hpp"
#include "flag_checks.hpp"
#include "guard_tokens.hpp"
#include "io.hpp"
#include "progress.hpp"
#include "sweep_engine.hpp"
#include "sweep_plot.hpp"
#include "trace_reader.hpp"

namespace lil::cli {

namespace {

struct sweep_settings {
  std::vector<std::string> inputs;
  std::string format = "auto";
  std::string field = "response";
  std::string id_field = "id";
  std::string answer_field = "answer";
  std::string correct_field = "is_correct";
  std::string array_key;
  std::string answer_regex;
  std::string tokenizer;
  std::size_t bytes_per_token = 0;
  std::vector<std::uint32_t> f{100, 250, 500};
  std::vector<double> t{5, 10, 20, 40};
  std::vector<int> level{6};
  std::string profile = "gzip";
  std::vector<std::uint32_t> patience{1, 2};
  std::vector<std::uint64_t> warmup{0, 2000};
  std::vector<double> relative{0};
  std::uint32_t relative_checks = 4;
  std::vector<std::uint32_t> repeat_min{1};
  std::vector<std::uint32_t> repeat_max{4, 16, 64};
  std::vector<std::uint32_t> repeat_count{4, 8, 16};
  std::uint64_t repeat_min_tokens = 0;
  bool no_guardian = false, no_repetition = false, combine = false;
  unsigned threads = 0;
  std::string json_path, per_trace_path, plot, plot_title, table = "pareto";
  bool progress = false;
};

input_format to_format(const std::string& f) {
  if (f == "jsonl") return input_format::jsonl;
  if (f == "json") return input_format::json;
  if (f == "text") return input_format::text;
  return input_format::automatic;
}

std::vector<sweep_rule> build_grid(const sweep_settings& s) {
  std::vector<sweep_rule> guardians, repetitions, out;
  if (!s.no_guardian) {
    for (int level : s.level)
      for (std::uint32_t f : s.f)
        for (double t : s.t)
          for (std::uint32_t k : s.patience)
            for (std::uint64_t w : s.warmup)
              for (double r : s.relative) {
                sweep_rule rule;
                auto& g = rule.guardian;
                g.level = level;
                g.profile = s.profile == "zlib" ? deflate::profile::zlib : deflate::profile::gzip;
                g.rule.check_every = f;
                g.rule.min_gain = t;
                g.rule.patience = k;
                g.rule.warmup_tokens = w;
                g.rule.relative_gain = r;
                g.rule.relative_checks = s.relative_checks;
                rule.paper_default = is_paper_rule(rule);
                guardians.push_back(rule);
              }
  }
  if (!s.no_repetition) {
    for (std::uint32_t lo : s.repeat_min)
      for (std::uint32_t hi : s.repeat_max)
        for (std::uint32_t c : s.repeat_count) {
          if (std::max<std::uint32_t>(lo, 1) > hi) continue;
          sweep_rule rule;
          rule.kind = rule_kind::repetition;
          rule.repetition.min_pattern_size = lo;
          rule.repetition.max_pattern_size = hi;
          rule.repetition.min_count = c;
          rule.repetition.min_tokens = s.repeat_min_tokens;
          rule.repetition.rollback_window = 0;
          repetitions.push_back(rule);
        }
  }
  // The paper's rule is always swept: it is the reference point of the plot.
  if (std::none_of(guardians.begin(), guardians.end(), [](const sweep_rule& r) { return r.paper_default; }))
    guardians.insert(guardians.begin(), paper_rule());
  out = guardians;
  out.insert(out.end(), repetitions.begin(), repetitions.end());
  if (s.combine)
    for (const auto& g : guardians)
      for (const auto& r : repetitions) {
        sweep_rule both = g;
        both.kind = rule_kind::either;
        both.paper_default = false;
        both.repetition = r.repetition;
        out.push_back(both);
      }
  return out;
}

// The reference answer and the correctness flag of a record, or why not.
std::string take_labels(trace_record& r, const sweep_settings& s, labelled_trace& t) {
  const auto& rec = r.record;
  const auto a = rec.find(s.answer_field);
  if (a == rec.end()) return fmt::format("{}: no field \"{}\" (the reference answer; see --answer-field)", r.where, s.answer_field);
  if (a->is_string())
    t.reference = a->get<std::string>();
  else if (a->is_number())
    t.reference = a->dump();
  else
    return fmt::format("{}: field \"{}\" is a {}, not a string or a number", r.where, s.answer_field, a->type_name());
  if (const auto c = rec.find(s.correct_field); c != rec.end() && !c->is_null()) {
    if (!c->is_boolean())
      return fmt::format("{}: field \"{}\" is a {}, not true or false", r.where, s.correct_field, c->type_name());
    t.correct_flag = c->get<bool>();
  }
  t.text = std::move(r.text);
  return {};
}

nlohmann::ordered_json rule_json(const sweep_rule& r) {
  nlohmann::ordered_json j;
  j["kind"] = r.kind == rule_kind::guardian ? "guardian" : r.kind == rule_kind::repetition ? "repetition" : "either";
  j["label"] = r.label();
  if (r.kind != rule_kind::repetition) {
    j["f"] = r.guardian.rule.check_every;
    j["t"] = r.guardian.rule.min_gain;
    j["level"] = r.guardian.level;
    j["profile"] = deflate::profile_name(r.guardian.profile);
    j["patience"] = r.guardian.rule.patience;
    j["warmup"] = r.guardian.rule.warmup_tokens;
    j["relative"] = r.guardian.rule.relative_gain;
    j["relative_checks"] = r.guardian.rule.relative_checks;
  }
  if (r.kind != rule_kind::guardian) {
    j["min_pattern_size"] = r.repetition.smallest();
    j["max_pattern_size"] = r.repetition.max_pattern_size;
    j["min_count"] = r.repetition.min_count;
    j["min_tokens"] = r.repetition.min_tokens;
  }
  return j;
}

void write_text(const std::string& path, const std::string& flag, const std::string& text) {
  if (path == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return;
  }
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> out(std::fopen(path.c_str(), "wb"), std::fclose);
  if (!out) throw io_error(fmt::format("{} {}: cannot open for writing", flag, path));
  write_all(out.get(), path, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  if (std::fclose(out.release()) != 0) throw io_error(fmt::format("{} {}: cannot write", flag, path));
}

std::string pct(double v) { return fmt::format("{:.1f}", 100 * v); }

int run_sweep(const sweep_settings& s) {
  if (s.tokenizer.empty() == (s.bytes_per_token == 0))
    throw lil::error("give exactly one of --tokenizer PATH.model and --bytes-per-token N");
  if (s.no_guardian && s.no_repetition) throw lil::error("--no-guardian and --no-repetition leave no rule to sweep");
  const std::unique_ptr<tokenizer> tok =
      s.tokenizer.empty() ? make_byte_chunker(s.bytes_per_token) : load_sentencepiece(s.tokenizer);
  answer_extractor judge = s.answer_regex.empty() ? answer_extractor() : answer_extractor(s.answer_regex);
  const sweep_engine engine(build_grid(s), *tok, std::move(judge));
  const auto& rules = engine.rules();

  input_spec spec;
  spec.format = to_format(s.format);
  spec.field = s.field;
  spec.id_field = s.id_field;
  spec.array_key = s.array_key;
  spec.keep_record = true;
  // The inputs are read one record at a time (trace_reader); only each
  // record's text and labels are kept.
  std::vector<trace_record> records;
  std::vector<labelled_trace> traces;
  std::vector<std::string> errors;
  for (const auto& path : s.inputs) {
    const input_file input(path);
    trace_reader reader(input.get(), input.name(), spec);
    trace_record r;
    while (reader.next(r)) {
      if (s.inputs.size() > 1) r.where = input.name() + ": " + r.where;
      r.index = records.size();
      labelled_trace t;
      std::string error = std::move(r.error);
      if (error.empty()) error = take_labels(r, s, t);
      r.record = nullptr;
      r.text.clear();
      records.push_back(std::move(r));
      traces.push_back(std::move(t));
      errors.push_back(std::move(error));
    }
  }

  std::vector<trace_outcome> outcomes;
  {
    std::vector<bool> skip(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) skip[i] = !errors[i].empty();
    progress_bar bar("lil sweep", records.size(), s.progress);
    std::vector<std::string> run_errors;
    run_parallel(engine, traces, skip, s.threads, outcomes, run_errors, [&](std::size_t done) { bar.update(done); });
    for (std::size_t i = 0; i < records.size(); ++i)
      if (!run_errors[i].empty()) errors[i] = fmt::format("{}: {}", records[i].where, run_errors[i]);
  }

  std::size_t failed = 0, disagree = 0, flagged = 0;
  std::vector<trace_outcome> good;
  std::string per_trace;
  for (std::size_t i = 0; i < records.size(); ++i) {
    if (!errors[i].empty()) {
      ++failed;
      fmt::print(stderr, "lil sweep: {}\n", errors[i]);
      continue;
    }
    if (traces[i].correct_flag) {
      ++flagged;
      disagree += *traces[i].correct_flag != outcomes[i].judge_before;
    }
    if (!s.per_trace_path.empty()) {
      nlohmann::ordered_json line;
      line["index"] = records[i].index;
      if (records[i].id) line["id"] = *records[i].id;
      line["tokens"] = outcomes[i].tokens;
      line["correct"] = outcomes[i].correct_before;
      line["stops"] = outcomes[i].stops;
      line["correct_after"] = std::vector<bool>(outcomes[i].correct.begin(), outcomes[i].correct.end());
      per_trace += line.dump() + "\n";
    }
    good.push_back(std::move(outcomes[i]));
  }
  const std::vector<rule_summary> results = summarise(good, rules.size());

  std::string json;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& r = results[i];
    auto j = rule_json(rules[i]);
    j["paper_default"] = rules[i].paper_default;
    j["pareto"] = r.pareto;
    j["traces"] = r.traces;
    j["stopped"] = r.stopped;
    j["tokens"] = r.tokens;
    j["tokens_kept"] = r.kept;
    j["tokens_saved"] = r.saved();
    j["saved_fraction"] = r.saved_fraction();
    j["correct_before"] = r.correct_before;
    j["correct_after"] = r.correct_after;
    j["accuracy_before"] = r.accuracy_before();
    j["accuracy_after"] = r.accuracy_after();
    j["accuracy_change"] = r.accuracy_after() - r.accuracy_before();
    j["lost"] = r.lost;
    j["gained"] = r.gained;
    json += j.dump() + "\n";
  }
  if (!s.json_path.empty()) write_text(s.json_path, "--json", json);
  if (!s.per_trace_path.empty()) write_text(s.per_trace_path, "--per-trace", per_trace);

  // The table: the Pareto rules and the paper's (or all), by tokens saved.
  std::vector<std::size_t> shown;
  for (std::size_t i = 0; i < rules.size(); ++i)
    if (s.table == "all" || results[i].pareto || rules[i].paper_default) shown.push_back(i);
  std::stable_sort(shown.begin(), shown.end(), [&](std::size_t a, std::size_t b) { return results[a].saved() < results[b].saved(); });
  std::string table = fmt::format("{:<44} {:>8} {:>8} {:>8} {:>8} {:>8} {:>5} {:>6}  {}\n", "rule", "stopped", "saved%",
                                  "acc%", "after%", "change", "lost", "gained", "");
  // Rules with the same outcome (common: a t that no trace's gain falls
  // between) share a row, which says how many it stands for.
  for (std::size_t at = 0; at < shown.size();) {
    const std::size_t i = shown[at];
    const auto& r = results[i];
    std::size_t same = 1;
    auto equal = [&](std::size_t j) {
      const auto& q = results[j];
      return q.stopped == r.stopped && q.kept == r.kept && q.correct_after == r.correct_after && q.lost == r.lost &&
             q.pareto == r.pareto && !rules[j].paper_default && !rules[i].paper_default;
    };
    if (s.table != "all")
      while (at + same < shown.size() && equal(shown[at + same])) ++same;
    std::string mark = r.pareto ? "pareto" : "";
    if (rules[i].paper_default) mark += mark.empty() ? "paper" : ", paper";
    if (same > 1) mark += fmt::format(" (+{} rules alike)", same - 1);
    table += fmt::format("{:<44} {:>8} {:>8} {:>8} {:>8} {:>+8.1f} {:>5} {:>6}  {}\n", rules[i].label(), r.stopped,
                         pct(r.saved_fraction()), pct(r.accuracy_before()), pct(r.accuracy_after()),
                         100 * (r.accuracy_after() - r.accuracy_before()), r.lost, r.gained, mark);
    at += same;
  }
  if (s.json_path != "-" && s.per_trace_path != "-") std::fputs(table.c_str(), stdout);
  if (std::fflush(stdout) != 0 || std::ferror(stdout)) throw io_error("cannot write <stdout>");

  const std::size_t analysed = records.size() - failed;
  if (!s.plot.empty()) {
    const std::string title = s.plot_title.empty() ? "Stop rules: tokens saved against accuracy" : s.plot_title;
    const std::string subtitle =
        fmt::format("{} rules over {} traces ({}); accuracy without a stop {}%", rules.size(), analysed,
                    s.tokenizer.empty() ? fmt::format("{} bytes per token", s.bytes_per_token) : "sentencepiece tokens",
                    results.empty() ? "0" : pct(results[0].accuracy_before()));
    write_text(s.plot, "--plot", plot_sweep(rules, results, title, subtitle));
  }
  fmt::print(stderr, "lil sweep: {} rules over {} traces ({} failed)", rules.size(), analysed, failed);
  if (flagged != 0)
    fmt::print(stderr, "; the judge agrees with \"{}\" on {} of {} full traces", s.correct_field, flagged - disagree,
               flagged);
  fmt::print(stderr, "\n");
  return failed == 0 ? exit_ok : exit_bad_record;
}

}  // namespace

subcommand register_sweep(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "sweep",
      "Apply a grid of stop rules (Guardian, vLLM's repetition rule, both) to labelled traces: per rule the traces "
      "stopped, tokens saved and accuracy before and after; the Pareto-optimal rules marked");
  auto s = std::make_shared<sweep_settings>();
  cmd->add_option("inputs", s->inputs, "JSON Lines or JSON documents of traces with reference answers; '-' reads stdin")
      ->required();
  cmd->add_option("--format", s->format, "Input format (auto: '[' = JSON document, '{' = JSON Lines)")
      ->check(CLI::IsMember({"auto", "jsonl", "json"}))
      ->capture_default_str();
  cmd->add_option("--field", s->field, "Field that holds the trace's text")->capture_default_str();
  cmd->add_option("--id-field", s->id_field, "Field copied to --per-trace lines as \"id\"")->capture_default_str();
  cmd->add_option("--answer-field", s->answer_field, "Field that holds the reference answer")->capture_default_str();
  cmd->add_option("--correct-field", s->correct_field,
                  "Field with the full trace's correctness (true/false), trusted over the judge when present")
      ->capture_default_str();
  cmd->add_option("--array-key", s->array_key, "JSON document: the records are the array under this key");
  cmd->add_option("--answer-regex", s->answer_regex,
                  "Extract answers with this ECMAScript regex (group 1, else the match) instead of the last \\boxed{}");
  auto* tokenizer = cmd->add_option("--tokenizer", s->tokenizer, "Sentencepiece model: tokens are its ids");
  auto* chunks = cmd->add_option("--bytes-per-token", s->bytes_per_token, "Cut the text into N-byte tokens instead")
                     ->check(integer_at_least(1));
  tokenizer->excludes(chunks);
  cmd->add_option("--f", s->f, "Guardian: tokens between checks (comma-separated list)")
      ->delimiter(',')
      ->check(integer_at_least(1))
      ->capture_default_str();
  cmd->add_option("--t", s->t, "Guardian: gain thresholds in bytes (list)")->delimiter(',')->check(number_at_least(0))->capture_default_str();
  cmd->add_option("--level", s->level, "Guardian: DEFLATE levels (list)")->delimiter(',')->check(CLI::Range(1, 9))->capture_default_str();
  cmd->add_option("--profile", s->profile, "Guardian: gzip or zlib")->check(CLI::IsMember({"gzip", "zlib"}))->capture_default_str();
  cmd->add_option("--patience", s->patience, "Guardian: low-gain checks in a row (list)")
      ->delimiter(',')
      ->check(integer_at_least(1))
      ->capture_default_str();
  cmd->add_option("--warmup", s->warmup, "Guardian: no stop before this many tokens (list)")->delimiter(',')->capture_default_str();
  cmd->add_option("--relative", s->relative, "Guardian: relative thresholds, 0 = off (list)")
      ->delimiter(',')
      ->check(number_at_least(0))
      ->capture_default_str();
  cmd->add_option("--relative-checks", s->relative_checks, "Guardian: checks that measure the slope for --relative")
      ->check(integer_at_least(2))
      ->capture_default_str();
  cmd->add_option("--repeat-min-size", s->repeat_min, "Repetition: smallest n-gram sizes (list; 0 means 1)")->delimiter(',')->capture_default_str();
  cmd->add_option("--repeat-max-size", s->repeat_max, "Repetition: largest n-gram sizes (list)")
      ->delimiter(',')
      ->check(integer_at_least(1))
      ->capture_default_str();
  cmd->add_option("--repeat-count", s->repeat_count, "Repetition: repeats in a row that stop (list)")
      ->delimiter(',')
      ->check(integer_at_least(2))
      ->capture_default_str();
  cmd->add_option("--repeat-min-tokens", s->repeat_min_tokens, "Repetition: no check before this many tokens")->capture_default_str();
  cmd->add_flag("--no-guardian", s->no_guardian, "Sweep no Guardian rule except the paper's (the reference)");
  cmd->add_flag("--no-repetition", s->no_repetition, "Sweep no repetition rule");
  cmd->add_flag("--combine", s->combine, "Also every Guardian rule paired with every repetition rule (stop when either does)");
  cmd->add_option("--threads", s->threads, "Worker threads (0: one per core); results do not depend on it")->capture_default_str();
  cmd->add_option("--json", s->json_path, "Write one JSON line per rule to this file ('-': stdout, no table)");
  cmd->add_option("--per-trace", s->per_trace_path, "Write one JSON line per trace: its stop and verdict per rule");
  cmd->add_option("--plot", s->plot, "Write the SVG plot of tokens saved against accuracy change to this file");
  cmd->add_option("--plot-title", s->plot_title, "Title of the plot");
  cmd->add_option("--table", s->table, "Rows of the table on stdout: pareto (the frontier and the paper's rule) or all")
      ->check(CLI::IsMember({"pareto", "all"}))
      ->capture_default_str();
  cmd->add_flag("--progress", s->progress, "Draw the progress bar even when stderr is not a terminal");
  return {cmd, [s] { return run_sweep(*s); }};
}

}  // namespace lil::cli
