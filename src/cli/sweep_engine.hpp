// `lil sweep`'s engine: many stop rules over labelled traces, sharing work.
//
// A rule is Guardian with one setting of (f, t, level, patience, warm-up,
// relative threshold), vLLM's repetition rule with one setting, or a pair of
// the two (stop when either says stop). Per trace:
//   - the text is tokenized once;
//   - for each DEFLATE level in the grid, one incremental compressor pass
//     gives C(n) at every multiple of g, the gcd of the grid's f values: the
//     exact sizes a guardian with any of those f would see at its checks
//     (size_if_finished leaves the stream as it was, so asking more often
//     changes nothing). Every Guardian rule is then its detector run on that
//     curve - a few operations per check - so the grid's t, patience,
//     warm-up and relative threshold cost almost nothing;
//   - each repetition rule is the live detector run over the token ids;
//   - the answer spans of the text are found once; a cut at n tokens keeps
//     the spans that end inside its text (sweep_judge.hpp).
// Judging. The full trace's verdict is the input's correctness flag when the
// record has one, else the judge's. A cut trace is judged on the answer it
// keeps: the same answer as the full trace's (after normalisation) gets the
// full trace's verdict; another answer is compared with the reference; no
// answer is wrong. A trace the rule does not stop keeps its verdict.
// Traces are independent, so they are spread over threads; every result is
// stored by trace index and summed in that order, so the output does not
// depend on the number of threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "guard_tokens.hpp"
#include "lil/guardian/guardian.hpp"
#include "lil/guardian/repetition.hpp"
#include "sweep_judge.hpp"

namespace lil::cli {

enum class rule_kind { guardian, repetition, either };

struct sweep_rule {
  rule_kind kind = rule_kind::guardian;
  guardian_options guardian;     // kind guardian or either
  repetition_options repetition; // kind repetition or either
  bool paper_default = false;    // f 250, t 20, level 6, gzip, no extension

  std::string label() const;     // short, for the table and the plot
};

// The paper's rule, as lil's defaults have it.
sweep_rule paper_rule();
bool is_paper_rule(const sweep_rule& r);

struct labelled_trace {
  std::string text;
  std::string reference;             // the ground-truth answer
  std::optional<bool> correct_flag;  // the input's verdict on the full trace
};

struct trace_outcome {
  std::uint64_t tokens = 0;
  bool correct_before = false;
  bool judge_before = false;          // the judge's own verdict on the full trace (vs the flag)
  std::vector<std::uint64_t> stops;   // per rule: n of the stop, 0 = none
  std::vector<std::uint8_t> correct;  // per rule: the verdict after the rule
};

class sweep_engine {
 public:
  sweep_engine(std::vector<sweep_rule> rules, const tokenizer& tok, answer_extractor judge);

  const std::vector<sweep_rule>& rules() const noexcept { return rules_; }
  // One trace through every rule. Thread-safe (const; the tokenizer's
  // tokenize() must be too).
  trace_outcome run(const labelled_trace& trace) const;

 private:
  struct level_pass {
    int level = 6;
    deflate::profile profile = deflate::profile::gzip;
    std::uint64_t step = 0;             // gcd of the f values of the rules at this level
    std::vector<std::size_t> rules;     // guardian (and either) rules at this level
  };

  std::vector<sweep_rule> rules_;
  const tokenizer& tok_;
  answer_extractor judge_;
  std::vector<level_pass> passes_;
  std::vector<repetition_options> repetitions_;  // the distinct repetition settings
  std::vector<std::size_t> repetition_of_;       // per rule: its index in repetitions_
};

// Every trace not marked `skip` through every rule, on `threads` threads
// (0: one per core). outcomes[i] and errors[i] belong to traces[i]; errors[i]
// is set (and outcomes[i] empty) when the trace failed. `done` is called with
// the count of traces finished, under a lock, after each one.
void run_parallel(const sweep_engine& engine, const std::vector<labelled_trace>& traces, const std::vector<bool>& skip,
                  unsigned threads, std::vector<trace_outcome>& outcomes, std::vector<std::string>& errors,
                  const std::function<void(std::size_t)>& done = {});

struct rule_summary {
  std::size_t traces = 0, stopped = 0;
  std::uint64_t tokens = 0, kept = 0;
  std::size_t correct_before = 0, correct_after = 0, lost = 0, gained = 0;
  bool pareto = false;

  std::uint64_t saved() const noexcept { return tokens - kept; }
  double saved_fraction() const noexcept { return tokens == 0 ? 0 : static_cast<double>(saved()) / static_cast<double>(tokens); }
  double accuracy_before() const noexcept { return traces == 0 ? 0 : static_cast<double>(correct_before) / static_cast<double>(traces); }
  double accuracy_after() const noexcept { return traces == 0 ? 0 : static_cast<double>(correct_after) / static_cast<double>(traces); }
};

// Sums the outcomes (in their order) per rule and marks the Pareto-optimal
// rules: no other rule saves at least as many tokens with at least the
// accuracy, one of the two strictly more.
std::vector<rule_summary> summarise(const std::vector<trace_outcome>& outcomes, std::size_t rules);

}  // namespace lil::cli
