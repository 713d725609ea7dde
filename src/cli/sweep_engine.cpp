#include "sweep_engine.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <numeric>

#include "lil/deflate/compressor.hpp"

namespace lil::cli {

namespace {

std::string guardian_label(const guardian_options& g) {
  std::string s = fmt::format("f{} t{:g} L{}", g.rule.check_every, g.rule.min_gain, g.level);
  if (g.profile != deflate::profile::gzip) s += fmt::format(" {}", deflate::profile_name(g.profile));
  if (g.rule.patience != 1) s += fmt::format(" k{}", g.rule.patience);
  if (g.rule.warmup_tokens != 0) s += fmt::format(" w{}", g.rule.warmup_tokens);
  if (g.rule.relative_gain != 0) s += fmt::format(" r{:g}/{}", g.rule.relative_gain, g.rule.relative_checks);
  return s;
}

std::string repetition_label(const repetition_options& r) {
  std::string s = fmt::format("rep {}..{} x{}", r.smallest(), r.max_pattern_size, r.min_count);
  if (r.min_tokens != 0) s += fmt::format(" min{}", r.min_tokens);
  return s;
}

// The first stop of the plateau rule on a curve sampled every `step` tokens.
std::uint64_t plateau_stop(const plateau_options& rule, const std::vector<std::uint64_t>& sizes, std::uint64_t step,
                           const token_stream& s) {
  plateau_detector d(rule);
  const std::uint64_t f = rule.check_every;
  for (std::uint64_t n = f; n <= s.size(); n += f) {
    check_point p;
    p.tokens = n;
    p.bytes = s.ends[n - 1];
    p.size = sizes[n / step];
    if (d.observe(p).action == verdict::stop) return n;
  }
  return 0;
}

}  // namespace

std::string sweep_rule::label() const {
  switch (kind) {
    case rule_kind::guardian: return guardian_label(guardian);
    case rule_kind::repetition: return repetition_label(repetition);
    case rule_kind::either: return guardian_label(guardian) + " | " + repetition_label(repetition);
  }
  return {};
}

sweep_rule paper_rule() {
  sweep_rule r;
  r.kind = rule_kind::guardian;
  r.paper_default = true;
  return r;
}

bool is_paper_rule(const sweep_rule& r) {
  const guardian_options d;
  const auto& g = r.guardian;
  return r.kind == rule_kind::guardian && g.rule.check_every == d.rule.check_every &&
         g.rule.min_gain == d.rule.min_gain && g.level == d.level && g.profile == d.profile &&
         g.rule.patience == d.rule.patience && g.rule.warmup_tokens == d.rule.warmup_tokens &&
         g.rule.relative_gain == d.rule.relative_gain;
}

sweep_engine::sweep_engine(std::vector<sweep_rule> rules, const tokenizer& tok, answer_extractor judge)
    : rules_(std::move(rules)), tok_(tok), judge_(std::move(judge)) {
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    auto& r = rules_[i];
    if (r.kind != rule_kind::repetition) r.guardian.validate();
    if (r.kind != rule_kind::guardian) {
      r.repetition.validate();
      if (!r.repetition.enabled()) detail::throw_error("a repetition rule needs max_pattern_size >= 1");
    }
    repetition_of_.push_back(0);
    if (r.kind != rule_kind::guardian) {
      auto same = std::find_if(repetitions_.begin(), repetitions_.end(), [&](const repetition_options& o) {
        return o.smallest() == r.repetition.smallest() && o.max_pattern_size == r.repetition.max_pattern_size &&
               o.min_count == r.repetition.min_count && o.min_tokens == r.repetition.min_tokens;
      });
      repetition_of_.back() = static_cast<std::size_t>(same - repetitions_.begin());
      if (same == repetitions_.end()) repetitions_.push_back(r.repetition);
    }
    if (r.kind == rule_kind::repetition) continue;
    auto pass = std::find_if(passes_.begin(), passes_.end(), [&](const level_pass& p) {
      return p.level == r.guardian.level && p.profile == r.guardian.profile;
    });
    if (pass == passes_.end()) {
      passes_.push_back({r.guardian.level, r.guardian.profile, 0, {}});
      pass = passes_.end() - 1;
    }
    pass->step = std::gcd(pass->step, std::uint64_t{r.guardian.rule.check_every});
    pass->rules.push_back(i);
  }
}

trace_outcome sweep_engine::run(const labelled_trace& trace) const {
  const token_stream s = tok_.tokenize(trace.text);
  trace_outcome out;
  out.tokens = s.size();
  out.stops.assign(rules_.size(), 0);
  out.correct.assign(rules_.size(), 0);

  // Guardian: one compressor pass per level; C at every multiple of the step.
  std::vector<std::uint64_t> guardian_stop(rules_.size(), 0);
  std::vector<std::uint64_t> sizes;
  std::string tail;
  for (const level_pass& pass : passes_) {
    deflate::options o;
    o.level = pass.level;
    o.profile = pass.profile;
    o.keep_output = false;
    deflate::compressor c(o);
    sizes.assign(s.size() / pass.step + 1, 0);
    std::size_t fed = 0;
    for (std::uint64_t n = pass.step; n <= s.size(); n += pass.step) {
      const std::size_t end = s.ends[n - 1];
      c.feed(s.text.data() + fed, end - fed);
      fed = end;
      // A cut inside a character: its unfinished bytes count in C(n) as
      // U+FFFD each, but not in the stream (as `lil guard` prices them).
      if (const unsigned dangling = s.unfinished[n - 1]; dangling != 0) {
        tail.clear();
        for (unsigned k = 0; k < dangling; ++k) tail += replacement_character;
        deflate::compressor fork = c;
        fork.feed(tail);
        sizes[n / pass.step] = fork.size_if_finished();
      } else {
        sizes[n / pass.step] = c.size_if_finished();
      }
    }
    for (std::size_t i : pass.rules) guardian_stop[i] = plateau_stop(rules_[i].guardian.rule, sizes, pass.step, s);
  }

  // Repetition: the live detector over the ids (or the tokens' texts).
  std::vector<std::uint64_t> keys(s.size());
  for (std::size_t i = 0; i < s.size(); ++i)
    keys[i] = s.ids.empty() ? detail::token_text_key(s.token(i)) | (std::uint64_t{1} << 63)
                            : static_cast<std::uint64_t>(static_cast<std::uint32_t>(s.ids[i]));
  std::vector<std::uint64_t> repetition_stops(repetitions_.size());
  for (std::size_t j = 0; j < repetitions_.size(); ++j) {
    repetition_detector d(repetitions_[j]);
    for (std::size_t k = 0; k < keys.size() && !d.stopped(); ++k) d.accept_key(keys[k]);
    repetition_stops[j] = d.decision().stopped_at;
  }
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const auto& r = rules_[i];
    const std::uint64_t repetition_stop = r.kind == rule_kind::guardian ? 0 : repetition_stops[repetition_of_[i]];
    const std::uint64_t g = guardian_stop[i];
    out.stops[i] = r.kind == rule_kind::guardian    ? g
                   : r.kind == rule_kind::repetition ? repetition_stop
                   : (g == 0 || (repetition_stop != 0 && repetition_stop < g)) ? repetition_stop
                                                                               : g;
  }

  // Judging: every answer span once; a cut keeps those that end inside it.
  const std::vector<answer_span> spans = judge_.spans(s.text);
  std::vector<std::uint8_t> span_correct(spans.size());
  const std::string final_answer = spans.empty() ? std::string() : normalize_answer(spans.back().answer);
  out.judge_before = !spans.empty() && answers_equal(spans.back().answer, trace.reference);
  out.correct_before = trace.correct_flag ? *trace.correct_flag : out.judge_before;
  for (std::size_t k = 0; k < spans.size(); ++k)
    span_correct[k] = normalize_answer(spans[k].answer) == final_answer ? out.correct_before
                                                                         : answers_equal(spans[k].answer, trace.reference);
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const std::uint64_t n = out.stops[i];
    if (n == 0 || n >= s.size()) {
      out.correct[i] = out.correct_before;
      continue;
    }
    const std::size_t kept = s.ends[n - 1];
    const auto after = std::upper_bound(spans.begin(), spans.end(), kept,
                                        [](std::size_t k, const answer_span& sp) { return k < sp.end; });
    out.correct[i] = after == spans.begin() ? 0 : span_correct[static_cast<std::size_t>(after - spans.begin()) - 1];
  }
  return out;
}

void run_parallel(const sweep_engine& engine, const std::vector<labelled_trace>& traces, const std::vector<bool>& skip,
                  unsigned threads, std::vector<trace_outcome>& outcomes, std::vector<std::string>& errors,
                  const std::function<void(std::size_t)>& done) {
  outcomes.assign(traces.size(), {});
  errors.assign(traces.size(), {});
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  std::mutex lock;
  std::atomic<std::size_t> next{0};
  std::size_t finished = 0;
  auto work = [&] {
    for (std::size_t i; (i = next.fetch_add(1)) < traces.size();) {
      if (!skip[i]) {
        try {
          outcomes[i] = engine.run(traces[i]);
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      }
      std::lock_guard<std::mutex> hold(lock);
      ++finished;
      if (done) done(finished);
    }
  };
  std::vector<std::thread> pool;
  for (unsigned k = 1; k < threads; ++k) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
}

std::vector<rule_summary> summarise(const std::vector<trace_outcome>& outcomes, std::size_t rules) {
  std::vector<rule_summary> out(rules);
  for (const auto& t : outcomes) {
    for (std::size_t i = 0; i < rules; ++i) {
      auto& r = out[i];
      ++r.traces;
      r.tokens += t.tokens;
      const bool stopped = t.stops[i] != 0;  // as `lil guard` counts: a stop at the last token saves 0
      r.stopped += stopped;
      r.kept += stopped ? t.stops[i] : t.tokens;
      r.correct_before += t.correct_before;
      r.correct_after += t.correct[i];
      r.lost += t.correct_before && !t.correct[i];
      r.gained += !t.correct_before && t.correct[i];
    }
  }
  for (std::size_t i = 0; i < rules; ++i) {
    bool dominated = false;
    for (std::size_t j = 0; j < rules && !dominated; ++j) {
      if (j == i) continue;
      const auto &a = out[i], &b = out[j];
      dominated = b.saved() >= a.saved() && b.correct_after >= a.correct_after &&
                  (b.saved() > a.saved() || b.correct_after > a.correct_after);
    }
    out[i].pareto = !dominated;
  }
  return out;
}

}  // namespace lil::cli
