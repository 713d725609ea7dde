// lil/guardian/either.hpp - two stop rules on one sequence: stop when either says stop.
//
// Guardian (guardian.hpp) sees the compressed size of the output every f
// tokens; the repetition rule (repetition.hpp) sees every token's identity.
// They catch different failures - a slow drift into saying nothing new, a
// tight loop of the same few tokens - so an engine may want both. This is the
// pair behind one set of verbs: every token goes to both, the decision is the
// earlier stop (by the token count where it fell; Guardian's on a tie), and
// rollback is allowed as far as both allow it.
//
// accept(text) gives both rules the text (the repetition rule compares texts
// by hash); accept_id(id) gives both the id; accept_token(id, text) gives
// Guardian the text and the repetition rule the id - what an engine that
// has both should call. Nothing allocates after construction.
#pragma once

#include <cstddef>
#include <string_view>

#include "lil/guardian/guardian.hpp"
#include "lil/guardian/repetition.hpp"

namespace lil {

template <class Guardian = guardian<>>
class guardian_or_repetition {
 public:
  guardian_or_repetition(const guardian_options& g, const repetition_options& r) : guardian_(g), repetition_(r) {}
  guardian_or_repetition(Guardian g, repetition_detector r) : guardian_(std::move(g)), repetition_(std::move(r)) {}

  verdict accept(std::string_view text) noexcept {
    guardian_.accept(text);
    repetition_.accept(text);
    return current();
  }
  verdict accept_id(token_id id) noexcept {
    guardian_.accept_id(id);
    repetition_.accept_id(id);
    return current();
  }
  verdict accept_token(token_id id, std::string_view text) noexcept {
    guardian_.accept(text);
    repetition_.accept_id(id);
    return current();
  }

  [[nodiscard]] bool rollback(std::size_t count) noexcept {
    if (count > rollback_limit()) return false;
    const bool g = guardian_.rollback(count);
    const bool r = repetition_.rollback(count);
    return g && r;  // both true: each was within its own limit
  }
  std::size_t rollback_limit() const noexcept {
    const std::size_t g = guardian_.rollback_limit(), r = repetition_.rollback_limit();
    return g < r ? g : r;
  }

  // The earlier stop of the two; while both go on, Guardian's figures.
  ::lil::decision decision() const noexcept {
    ::lil::decision d = guardian_.decision();
    const repetition_decision r = repetition_.decision();
    if (r.stop() && (!d.stop() || r.stopped_at < d.stopped_at)) {
      d.action = verdict::stop;
      d.why = reason::repetition;
      d.stopped_at = r.stopped_at;
    }
    return d;
  }
  bool stopped() const noexcept { return guardian_.stopped() || repetition_.stopped(); }

  void reset() noexcept {
    guardian_.reset();
    repetition_.reset();
  }
  guardian_or_repetition clone() const { return *this; }

  const Guardian& guardian_rule() const noexcept { return guardian_; }
  const repetition_detector& repetition_rule() const noexcept { return repetition_; }
  std::size_t state_bytes() const noexcept {
    return guardian_.state_bytes() + repetition_.state_bytes() + sizeof(*this) - sizeof(Guardian) -
           sizeof(repetition_detector);
  }

 private:
  verdict current() const noexcept { return stopped() ? verdict::stop : verdict::go; }

  Guardian guardian_;
  repetition_detector repetition_;
};

}  // namespace lil
