// tiny_llama/eval.hpp - measuring a decode configuration on a problem set.
//
// Two harnesses over the same loop (generate.hpp):
//  * evaluate_reasoner: for each problem of the self-trained reasoner's task,
//    greedy-decode the trace (token cap), read the final "ans=<digits>" and
//    compare it with the known answer; report accuracy, mean generated
//    tokens, ms per generated token and wall time.
//  * evaluate_stories: for each story opening, decode until the model ends
//    the story (BOS/EOS) or the cap; report generated length, the share of
//    repeated 4-grams (how loopy the text is) and the dense model's
//    perplexity of what was generated (a quality proxy that does not depend
//    on the configuration that generated it).
//
// A configuration is a session factory: make_session(problem_index) returns a
// fresh session (generate.hpp) for that sequence, e.g. a KV policy wrapper
// plus Guardian; dense_sessions gives plain attention. Problems are spread
// over `threads` workers, each with its own state (KV cache) over the shared
// read-only checkpoint; results are stored by problem index, so the figures do
// not depend on the thread count (only the wall time does).
//
// ms_per_token is decode time (not prefill) summed over problems divided by
// generated tokens, i.e. per-sequence latency, not throughput. kv_bytes is the
// K and V held when a sequence ends (what a policy's session reports through
// kv_bytes(); for dense attention every token run through the model), mean
// over problems.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <istream>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "generate.hpp"
#include "lil/config.hpp"

namespace tiny_llama {

struct problem {
  std::string prompt;  // the exact text the model is given (ends with a newline)
  std::string answer;
};

// Problem sets are TSV, one problem a line: prompt TAB answer, with "\n",
// "\t" and "\\" escaped inside the prompt. `name` appears in errors.
inline std::vector<problem> parse_problems(std::istream& in, const std::string& name) {
  std::vector<problem> problems;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty()) continue;
    const auto tab = line.find('\t');
    if (tab == std::string::npos)
      lil::detail::throw_error("problem set '" + name + "': line " + std::to_string(number) + " has no TAB between prompt and answer");
    problem p;
    for (std::size_t i = 0; i < tab; ++i) {
      if (line[i] != '\\' || i + 1 >= tab) {
        p.prompt += line[i];
        continue;
      }
      const char e = line[++i];
      p.prompt += e == 'n' ? '\n' : e == 't' ? '\t' : e;
    }
    p.answer = line.substr(tab + 1);
    if (p.answer.empty()) lil::detail::throw_error("problem set '" + name + "': line " + std::to_string(number) + " has an empty answer");
    problems.push_back(std::move(p));
  }
  if (problems.empty()) lil::detail::throw_error("problem set '" + name + "': no problems");
  return problems;
}

inline std::vector<problem> load_problems(const std::string& path) {
  std::ifstream in(path);
  if (!in) lil::detail::throw_error("problem set '" + path + "': cannot open file");
  return parse_problems(in, path);
}

// The digits after the last "ans=" of a trace; empty when there is none.
inline std::string extract_answer(const std::string& text) {
  const auto at = text.rfind("ans=");
  if (at == std::string::npos) return {};
  std::string digits;
  for (std::size_t i = at + 4; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) digits += text[i];
  return digits;
}

namespace detail {
template <class Session, class = void>
struct reports_kv_bytes : std::false_type {};
template <class Session>
struct reports_kv_bytes<Session, std::void_t<decltype(std::declval<const Session&>().kv_bytes())>> : std::true_type {};

template <class Session>
std::size_t kv_bytes_held(const Session& session, const state& s, const generation& g) {
  if constexpr (reports_kv_bytes<Session>::value) {
    return session.kv_bytes();
  } else {
    return static_cast<std::size_t>(g.positions) * s.kv_bytes_per_token();
  }
}
}  // namespace detail

struct dense_sessions {
  dense_session operator()(std::size_t) const { return {}; }
};

struct eval_options {
  int max_new_tokens = 512;
  int threads = 1;
};

struct reasoner_outcome {
  std::vector<int> tokens;
  std::string text;
  bool correct = false;
  stop_reason reason = stop_reason::token_cap;
  double decode_seconds = 0;
  double prefill_seconds = 0;
  std::size_t kv_bytes = 0;
};

struct reasoner_summary {
  int problems = 0;
  double accuracy = 0;
  double mean_tokens = 0;
  double ms_per_token = 0;
  double total_seconds = 0;  // wall time of the whole set
  double kv_bytes = 0;
  std::vector<reasoner_outcome> outcomes;  // by problem index
};

namespace detail {

// Runs work(index, state&) for every index on `threads` workers.
template <class Work>
void for_each_parallel(const checkpoint& model, std::size_t count, int threads, Work&& work) {
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    state s(model.cfg());
    for (std::size_t i = next++; i < count; i = next++) work(i, s);
  };
  const int n = std::max(1, std::min<int>(threads, static_cast<int>(count)));
  std::vector<std::thread> pool;
  for (int t = 1; t < n; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
}

}  // namespace detail

template <class SessionFactory = dense_sessions>
reasoner_summary evaluate_reasoner(const checkpoint& model, const tokenizer& tok, const std::vector<problem>& problems,
                                   const eval_options& options, SessionFactory make_session = {}) {
  tok.check_vocab_size(model.cfg().vocab_size);
  if (options.threads < 1) lil::detail::throw_error("evaluate: threads = " + std::to_string(options.threads) + " must be >= 1");
  reasoner_summary summary;
  summary.problems = static_cast<int>(problems.size());
  summary.outcomes.resize(problems.size());
  const auto start = std::chrono::steady_clock::now();
  detail::for_each_parallel(model, problems.size(), options.threads, [&](std::size_t i, state& s) {
    const std::vector<int> prompt = tok.encode(problems[i].prompt, true, false);
    auto session = make_session(i);
    sampler greedy(model.cfg().vocab_size);
    generation g = generate(model, s, prompt, options.max_new_tokens, greedy, session);
    reasoner_outcome& o = summary.outcomes[i];
    o.text = tok.decode_all(g.tokens, prompt.back());
    o.correct = extract_answer(o.text) == problems[i].answer;
    o.tokens = std::move(g.tokens);
    o.reason = g.reason;
    o.decode_seconds = g.decode_seconds;
    o.prefill_seconds = g.prefill_seconds;
    o.kv_bytes = detail::kv_bytes_held(session, s, g);
  });
  summary.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double tokens = 0, decode = 0, correct = 0, kv = 0;
  for (const auto& o : summary.outcomes) {
    tokens += static_cast<double>(o.tokens.size());
    decode += o.decode_seconds;
    correct += o.correct ? 1 : 0;
    kv += static_cast<double>(o.kv_bytes);
  }
  const double n = std::max(1.0, static_cast<double>(problems.size()));
  summary.accuracy = correct / n;
  summary.kv_bytes = kv / n;
  summary.mean_tokens = tokens / n;
  summary.ms_per_token = tokens > 0 ? 1000.0 * decode / tokens : 0;
  return summary;
}

// Share of the token sequence's n-grams that already occurred earlier in it:
// 0 for text that never repeats a 4-gram, near 1 for a tight loop.
inline double repeated_ngram_share(const std::vector<int>& tokens, int n = 4) {
  if (static_cast<int>(tokens.size()) < n) return 0;
  const std::size_t grams = tokens.size() - static_cast<std::size_t>(n) + 1;
  std::size_t repeated = 0;
  for (std::size_t i = 1; i < grams; ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (std::equal(tokens.begin() + static_cast<std::ptrdiff_t>(i), tokens.begin() + static_cast<std::ptrdiff_t>(i) + n,
                     tokens.begin() + static_cast<std::ptrdiff_t>(j))) {
        ++repeated;
        break;
      }
  return static_cast<double>(repeated) / static_cast<double>(grams);
}

// Negative log-likelihood (natural log) of each token of `continuation`
// given `prompt` and the tokens before it, under the model with dense
// attention. Per token, so that a prefix's perplexity (the text up to
// Guardian's stop) comes from the same pass.
inline std::vector<double> dense_token_nll(const checkpoint& model, state& s, const std::vector<int>& prompt,
                                           const std::vector<int>& continuation) {
  std::vector<double> nll;
  if (continuation.empty()) return nll;
  const config& c = model.cfg();
  std::vector<int> all(prompt);
  all.insert(all.end(), continuation.begin(), continuation.end());
  if (static_cast<int>(all.size()) > c.seq_len)
    lil::detail::throw_error("perplexity: " + std::to_string(all.size()) + " tokens exceed seq_len = " + std::to_string(c.seq_len));
  nll.reserve(continuation.size());
  for (std::size_t p = 0; p + 1 < all.size(); ++p) {
    const float* logits = s.forward(model, all[p], static_cast<int>(p));
    if (p + 1 < prompt.size()) continue;
    double top = logits[0];
    for (int v = 1; v < c.vocab_size; ++v) top = std::max(top, static_cast<double>(logits[v]));
    double sum = 0;
    for (int v = 0; v < c.vocab_size; ++v) sum += std::exp(static_cast<double>(logits[v]) - top);
    nll.push_back(-(static_cast<double>(logits[all[p + 1]]) - top - std::log(sum)));
  }
  return nll;
}

// exp(mean of the first `count` per-token NLLs); 0 when count is 0.
inline double perplexity_of_prefix(const std::vector<double>& nll, std::size_t count) {
  count = std::min(count, nll.size());
  if (count == 0) return 0;
  double sum = 0;
  for (std::size_t i = 0; i < count; ++i) sum += nll[i];
  return std::exp(sum / static_cast<double>(count));
}

// exp(mean negative log-likelihood) of `continuation` given `prompt` under the
// model with dense attention. Returns 0 for an empty continuation.
inline double dense_perplexity(const checkpoint& model, state& s, const std::vector<int>& prompt,
                               const std::vector<int>& continuation) {
  const std::vector<double> nll = dense_token_nll(model, s, prompt, continuation);
  return perplexity_of_prefix(nll, nll.size());
}

// Openings for the TinyStories model (its training stories start like these).
inline std::vector<std::string> default_story_prompts() {
  return {"Once upon a time",          "One day, a little girl named Lily", "Tom had a big red ball",
          "The sun was shining and",   "There was a small cat who",         "Mom said to Ben",
          "In the park, a boy found",  "The little bird wanted to",         "Sara and her friend",
          "A big dog lived in a house"};
}

struct story_outcome {
  std::vector<int> prompt;
  std::vector<int> tokens;
  std::string text;
  stop_reason reason = stop_reason::token_cap;
  double repetition = 0;
  double perplexity = 0;
  double decode_seconds = 0;
  std::size_t kv_bytes = 0;
};

struct story_summary {
  int stories = 0;
  double mean_tokens = 0;
  double mean_repetition = 0;
  double mean_perplexity = 0;
  double ms_per_token = 0;
  double total_seconds = 0;  // includes the dense perplexity pass
  double kv_bytes = 0;
  std::vector<story_outcome> outcomes;
};

template <class SessionFactory = dense_sessions>
story_summary evaluate_stories(const checkpoint& model, const tokenizer& tok, const std::vector<std::string>& prompts,
                               const eval_options& options, SessionFactory make_session = {}) {
  tok.check_vocab_size(model.cfg().vocab_size);
  story_summary summary;
  summary.stories = static_cast<int>(prompts.size());
  summary.outcomes.resize(prompts.size());
  const auto start = std::chrono::steady_clock::now();
  detail::for_each_parallel(model, prompts.size(), options.threads, [&](std::size_t i, state& s) {
    story_outcome& o = summary.outcomes[i];
    o.prompt = tok.encode(prompts[i], true, false);
    auto session = make_session(i);
    sampler greedy(model.cfg().vocab_size);
    generation g = generate(model, s, o.prompt, options.max_new_tokens, greedy, session);
    o.text = tok.decode_all(g.tokens, o.prompt.back());
    o.tokens = std::move(g.tokens);
    o.reason = g.reason;
    o.decode_seconds = g.decode_seconds;
    o.kv_bytes = detail::kv_bytes_held(session, s, g);
    o.repetition = repeated_ngram_share(o.tokens, 4);
    o.perplexity = dense_perplexity(model, s, o.prompt, o.tokens);
  });
  summary.total_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double tokens = 0, decode = 0, repetition = 0, perplexity = 0, kv = 0;
  for (const auto& o : summary.outcomes) {
    tokens += static_cast<double>(o.tokens.size());
    kv += static_cast<double>(o.kv_bytes);
    decode += o.decode_seconds;
    repetition += o.repetition;
    perplexity += o.perplexity;
  }
  const double n = std::max(1.0, static_cast<double>(prompts.size()));
  summary.mean_tokens = tokens / n;
  summary.mean_repetition = repetition / n;
  summary.mean_perplexity = perplexity / n;
  summary.kv_bytes = kv / n;
  summary.ms_per_token = tokens > 0 ? 1000.0 * decode / tokens : 0;
  return summary;
}

}  // namespace tiny_llama
