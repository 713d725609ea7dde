// tiny_llama/guardian_session.hpp - Guardian in the decode loop: a session
// (generate.hpp) that tells a lil::guardian every generated token and either
// stops the loop when Guardian says so, or only records where it would have.
//
// How it plugs in
//   The attention steps and prefill_done() go to the wrapped session (dense
//   attention, or a kv_session with a lil::kv policy around every layer), so
//   KV policy and Guardian combine freely. accept(token) decodes the token's
//   text exactly as the output is decoded (tokenizer::decode after the
//   previous token: the BOS rule and byte pieces apply) and gives it to
//   guardian::accept(). That text is what Guardian compresses: C(n) is the
//   exact DEFLATE size of the output so far, checked every f tokens.
//
// Two modes, one loop
//   enforce: accept() returns false at Guardian's stop, and the loop ends
//            with that token (the one whose check found no new information).
//   observe: accept() always returns true; the first stop is recorded - the
//            number of tokens at the stopping check and the decode time up to
//            it - and Guardian is not fed after it.
//   Under greedy decoding the tokens do not depend on when the loop stops, so
//   an enforced run is exactly the observed run cut at the recorded stop.
//   `lil demo` therefore generates once per configuration in observe mode and
//   reads both "without Guardian" (the whole run) and "with Guardian" (the run
//   up to the stop) from it. The test `enforced_run_is_the_observed_run_cut_at_its_stop`
//   checks that equality on real runs.
//
// Costs
//   One guardian per sequence: about 200 KiB allocated at construction (the
//   compressor's window and hash chains), nothing after. Per token: one
//   decode of a short piece and a copy of its bytes; every f tokens one
//   incremental compression of the last f tokens' bytes (tens of
//   microseconds) - small next to a forward pass, but included in the
//   measured decode time in both modes.
#pragma once

#include <chrono>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "lil/guardian/guardian.hpp"
#include "generate.hpp"
#include "tokenizer.hpp"

namespace tiny_llama {

enum class guardian_mode { observe, enforce };

// Where Guardian stopped, or would have stopped, one sequence.
struct guardian_record {
  std::size_t stop = 0;          // generated tokens at the stopping check; 0 = never stopped
  double seconds_to_stop = 0;    // decode time from the end of the prompt to the stop
  lil::check_result last_check;  // figures of the stopping check (or the last one)
};

template <class Inner>
class guardian_session {
 public:
  // `previous` is the last prompt token (the first generated token is decoded after it).
  guardian_session(Inner inner, const tokenizer& tok, int previous, const lil::guardian_options& options,
                   guardian_mode mode)
      : inner_(std::move(inner)), tok_(&tok), previous_(previous), guardian_(options), mode_(mode) {}

  void attend(const attention_step& step) noexcept(noexcept(std::declval<Inner&>().attend(step))) {
    inner_.attend(step);
  }

  void prefill_done() {
    inner_.prefill_done();
    prefilled_ = clock::now();
  }

  bool accept(int token) {
    const bool inner_goes_on = inner_.accept(token);
    const std::string text = tok_->decode(previous_, token);
    previous_ = token;
    if (record_.stop != 0) return mode_ == guardian_mode::observe && inner_goes_on;
    const lil::verdict v = guardian_.accept(text);
    if (v == lil::verdict::stop) {
      const lil::decision d = guardian_.decision();
      record_.stop = static_cast<std::size_t>(d.stopped_at);
      record_.seconds_to_stop = std::chrono::duration<double>(clock::now() - prefilled_).count();
      record_.last_check = d.last;
      return mode_ == guardian_mode::observe && inner_goes_on;
    }
    return inner_goes_on;
  }

  guardian_record record() const noexcept {
    guardian_record r = record_;
    if (r.stop == 0) r.last_check = guardian_.decision().last;
    return r;
  }
  const lil::guardian<>& guardian() const noexcept { return guardian_; }
  Inner& inner() noexcept { return inner_; }
  const Inner& inner() const noexcept { return inner_; }

 private:
  using clock = std::chrono::steady_clock;
  Inner inner_;
  const tokenizer* tok_;
  int previous_;
  lil::guardian<> guardian_;
  guardian_mode mode_;
  clock::time_point prefilled_ = clock::now();
  guardian_record record_;
};

}  // namespace tiny_llama
