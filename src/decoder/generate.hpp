// tiny_llama/generate.hpp - the decode loop: prefill the prompt, then pick,
// report and feed back one token at a time until a stop.
//
// A `session` is what a caller plugs into the loop for one sequence:
//   void attend(const attention_step&)  - the attention step of every layer
//                                          (dense_attention, or a KV policy
//                                          wrapped around attend_positions)
//   void prefill_done()                 - once, after the last prompt token
//                                          (SnapKV compresses the prompt here)
//   bool accept(int token)              - told each generated token; false
//                                          stops the loop (Guardian's verdict)
// dense_session is the plain one, kv_session (kv_session.hpp) puts a lil::kv
// policy around every layer. attend() runs for prompt and generated tokens,
// accept() for generated tokens only, in order, from one thread.
//
// The loop stops at the first of: an end token (BOS or EOS: llama2.c's
// stories models end a story with BOS, our reasoner with EOS; the end token
// is not part of the output), the session declining a token (that token is
// kept: it is the one that made the output stop growing), the token cap, or a
// full context (seq_len).
//
// Under greedy decoding the tokens do not depend on when the loop stops, so a
// run with Guardian is a prefix of the run without it: one generation per
// configuration serves both, Guardian's stop read off afterwards.
//
// Costs: one forward() per prompt token and per generated token; prefill is
// token by token (prompts are short here) and timed apart from decoding.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "lil/config.hpp"
#include "model.hpp"
#include "sampler.hpp"
#include "tokenizer.hpp"

namespace tiny_llama {

struct dense_session {
  void attend(const attention_step& step) noexcept { dense_attention(step); }
  void prefill_done() noexcept {}
  bool accept(int) noexcept { return true; }
};

enum class stop_reason { end_token, session, token_cap, context_full };

inline const char* to_string(stop_reason r) {
  switch (r) {
    case stop_reason::end_token: return "end_token";
    case stop_reason::session: return "session";
    case stop_reason::token_cap: return "token_cap";
    case stop_reason::context_full: return "context_full";
  }
  return "?";
}

struct generation {
  std::vector<int> tokens;  // generated, without the prompt and without the end token
  stop_reason reason = stop_reason::token_cap;
  double prefill_seconds = 0;
  double decode_seconds = 0;  // from the first generated token's pick to the stop
  int positions = 0;          // tokens run through the model (prompt + generated ones fed back)
};

// Picker is `sampler` or anything with `int sample(const float* logits, int
// vocab_size)` (a test forces the tokens this way).
template <class Session, class Picker = sampler>
generation generate(const checkpoint& model, state& s, const std::vector<int>& prompt, int max_new_tokens,
                    Picker& pick, Session& session) {
  const config& c = model.cfg();
  if (prompt.empty()) lil::detail::throw_error("generate: the prompt has no tokens (encode with BOS)");
  if (static_cast<int>(prompt.size()) >= c.seq_len)
    lil::detail::throw_error("generate: the prompt's " + std::to_string(prompt.size()) +
                             " tokens leave no room in seq_len = " + std::to_string(c.seq_len));
  for (int t : prompt)
    if (t < 0 || t >= c.vocab_size)
      lil::detail::throw_error("generate: prompt token " + std::to_string(t) + " outside the vocabulary of " +
                               std::to_string(c.vocab_size));
  if (max_new_tokens < 0) lil::detail::throw_error("generate: max_new_tokens = " + std::to_string(max_new_tokens) + " must be >= 0");

  using clock = std::chrono::steady_clock;
  auto attend = [&session](const attention_step& step) noexcept(noexcept(session.attend(step))) { session.attend(step); };
  generation out;
  out.tokens.reserve(static_cast<std::size_t>(max_new_tokens));
  const auto start = clock::now();
  const float* logits = nullptr;
  int position = 0;
  for (int t : prompt) logits = s.forward(model, t, position++, attend);
  session.prefill_done();
  const auto prefilled = clock::now();

  for (;;) {
    if (static_cast<int>(out.tokens.size()) >= max_new_tokens) {
      out.reason = stop_reason::token_cap;
      break;
    }
    const int next = pick.sample(logits, c.vocab_size);
    if (next == bos_token || next == eos_token) {
      out.reason = stop_reason::end_token;
      break;
    }
    out.tokens.push_back(next);
    if (!session.accept(next)) {
      out.reason = stop_reason::session;
      break;
    }
    if (position >= c.seq_len) {
      out.reason = stop_reason::context_full;
      break;
    }
    if (static_cast<int>(out.tokens.size()) >= max_new_tokens) {
      out.reason = stop_reason::token_cap;
      break;
    }
    logits = s.forward(model, next, position++, attend);
  }
  const auto done = clock::now();
  out.prefill_seconds = std::chrono::duration<double>(prefilled - start).count();
  out.decode_seconds = std::chrono::duration<double>(done - prefilled).count();
  out.positions = position;
  return out;
}

}  // namespace tiny_llama
