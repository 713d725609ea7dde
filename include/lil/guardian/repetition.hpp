// lil/guardian/repetition.hpp - stop when the output ends in a loop of tokens.
//
// What it computes
//   vLLM's stop rule for the same failure Guardian targets
//   (SamplingParams.repetition_detection, checked after every output token):
//   stop as soon as the output ends in an n-gram of some size p in
//   [min_pattern_size, max_pattern_size] repeated at least min_count times in
//   a row. "abcabcabc" ends in "abc" three times, so p = 3, count 3 stops it.
//   The settings mean what vLLM's mean: min_pattern_size 0 is read as 1;
//   max_pattern_size 0 turns the rule off; min_count must then be >= 2; no
//   check before min_tokens output tokens (vLLM's min_tokens gate).
//
// The algorithm, and why it is cheap
//   The output ends in c copies of a p-gram exactly when its last p c tokens
//   have period p: each of the last p (c - 1) tokens equals the token p
//   places before it. So for every p the detector keeps one counter, the
//   length of the current run of tokens that equal their p-th predecessor,
//   capped at p (c - 1); a token costs one comparison and one update per p,
//   against a ring of the last tokens. vLLM re-reads up to p c tokens per p
//   at every token; the verdicts are the same (tests/guardian_repetition_test
//   checks both against a brute-force scan).
//
// Why not a Detector of guardian<>
//   guardian<Compressor, Detector> shows its detector one point of the
//   information curve every f tokens, and nothing else (plateau.hpp); this
//   rule needs every token's identity and may stop at any token. So it is a
//   sibling with the same verbs, and either.hpp runs the two on one sequence.
//
// What a token is
//   The rule compares tokens for identity. By id (accept_id), identity is
//   the id. By text (accept), it is the text's bytes, held as a 64-bit
//   FNV-1a hash: two different texts count as equal only on a hash collision
//   (about 2^-64 per comparison). Do not mix ids and texts in one sequence.
//
// Rollback
//   The ring keeps rollback_window tokens more than the rule needs, so the
//   last k <= rollback_window tokens can be taken back exactly: the counters
//   are recounted from the ring (a scan of at most p c tokens per p). A stop
//   found on a token that is taken back is taken back with it (the tokens
//   that looped were rejected drafts); a stop on a kept token stays.
//
// Costs
//   State: (max_pattern_size x min_count + rollback_window) x 8 bytes of ring
//   + 4 bytes per pattern size, allocated at construction. accept is
//   O(max - min + 1) and never allocates; so are reset, decision, rollback.
//
// Threads
//   A value: one object, one thread at a time; copies are independent forks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lil/config.hpp"
#include "lil/guardian/plateau.hpp"

namespace lil {

// The settings. As in vLLM, the default-constructed rule is off (max 0).
struct repetition_options {
  std::uint32_t min_pattern_size = 0;  // smallest n-gram checked; 0 means 1
  std::uint32_t max_pattern_size = 0;  // largest n-gram checked; 0: the rule is off
  std::uint32_t min_count = 0;         // repeats in a row that stop (>= 2 when on)
  std::uint64_t min_tokens = 0;        // no check before this many tokens
  std::uint32_t rollback_window = 32;  // tokens rollback() can take back

  bool enabled() const noexcept { return max_pattern_size != 0; }
  std::uint32_t smallest() const noexcept { return min_pattern_size == 0 ? 1 : min_pattern_size; }

  // Throws lil::error naming the field when a setting is out of range.
  void validate() const {
    constexpr std::uint64_t max_span = std::uint64_t{1} << 24;
    if (!enabled()) return;
    if (smallest() > max_pattern_size)
      detail::throw_error("repetition_options.min_pattern_size must be <= max_pattern_size, got " +
                          std::to_string(min_pattern_size) + " > " + std::to_string(max_pattern_size));
    if (min_count < 2)
      detail::throw_error("repetition_options.min_count must be >= 2 when max_pattern_size > 0, got " +
                          std::to_string(min_count));
    if (std::uint64_t{max_pattern_size} * min_count > max_span)
      detail::throw_error("repetition_options: max_pattern_size x min_count must be <= 2^24 tokens, got " +
                          std::to_string(std::uint64_t{max_pattern_size} * min_count));
    if (rollback_window > max_span)
      detail::throw_error("repetition_options.rollback_window must be <= 2^24, got " + std::to_string(rollback_window));
  }
};

// What the loop reads.
struct repetition_decision {
  verdict action = verdict::go;
  std::uint64_t tokens = 0;        // tokens accepted so far
  std::uint64_t stopped_at = 0;    // tokens when the loop was found; 0 while going
  std::uint32_t pattern_size = 0;  // p of the loop found (the smallest that matched); 0 while going

  bool stop() const noexcept { return action == verdict::stop; }
};

namespace detail {
inline std::uint64_t token_text_key(std::string_view text) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return h;
}
}  // namespace detail

class repetition_detector {
 public:
  using options_type = repetition_options;

  explicit repetition_detector(const repetition_options& opts = {}) : opts_((opts.validate(), opts)) {
    if (opts_.enabled()) {
      first_ = opts_.smallest();
      runs_.assign(opts_.max_pattern_size - first_ + 1, 0);
      ring_.assign(static_cast<std::size_t>(std::uint64_t{opts_.max_pattern_size} * opts_.min_count) +
                       opts_.rollback_window,
                   0);
    }
  }

  // --- the decode-loop verbs (noexcept, no allocation) ------------------------
  verdict accept_id(std::int32_t id) noexcept { return accept_key(static_cast<std::uint64_t>(static_cast<std::uint32_t>(id))); }
  verdict accept(std::string_view text) noexcept { return accept_key(detail::token_text_key(text) | text_bit); }
  verdict accept_ids(const std::int32_t* ids, std::size_t count) noexcept {
    for (std::size_t i = 0; i < count; ++i) accept_id(ids[i]);
    return current();
  }
  // A token by an arbitrary 64-bit identity (the two calls above end here).
  verdict accept_key(std::uint64_t key) noexcept {
    if (ring_.empty()) {
      ++tokens_;
      return verdict::go;
    }
    const std::uint64_t i = tokens_;  // index of this token
    ring_[slot(i)] = key;
    ++tokens_;
    for (std::size_t k = 0; k < runs_.size(); ++k) {
      const std::uint64_t p = first_ + k;
      std::uint32_t& run = runs_[k];
      if (i >= p && ring_[slot(i - p)] == key) {
        if (run < cap(p)) ++run;
      } else {
        run = 0;
      }
    }
    if (stopped_at_ == 0 && tokens_ >= opts_.min_tokens) {
      for (std::size_t k = 0; k < runs_.size(); ++k) {
        if (runs_[k] >= cap(first_ + k)) {
          stopped_at_ = tokens_;
          pattern_ = static_cast<std::uint32_t>(first_ + k);
          break;
        }
      }
    }
    return current();
  }

  // Takes back the last `count` tokens; refused (false, nothing changes) past
  // rollback_limit().
  [[nodiscard]] bool rollback(std::size_t count) noexcept {
    if (count > rollback_limit()) return false;
    tokens_ -= count;
    if (stopped_at_ > tokens_) {
      stopped_at_ = 0;
      pattern_ = 0;
    }
    for (std::size_t k = 0; k < runs_.size(); ++k) {
      const std::uint64_t p = first_ + k;
      std::uint32_t run = 0;
      for (std::uint64_t j = tokens_; j > p && run < cap(p); --j)
        if (ring_[slot(j - 1)] == ring_[slot(j - 1 - p)])
          ++run;
        else
          break;
      runs_[k] = run;
    }
    return true;
  }
  std::size_t rollback_limit() const noexcept {
    return static_cast<std::size_t>(tokens_ < opts_.rollback_window ? tokens_ : opts_.rollback_window);
  }

  repetition_decision decision() const noexcept {
    repetition_decision d;
    d.tokens = tokens_;
    if (stopped_at_ != 0) {
      d.action = verdict::stop;
      d.stopped_at = stopped_at_;
      d.pattern_size = pattern_;
    }
    return d;
  }
  bool stopped() const noexcept { return stopped_at_ != 0; }

  void reset() noexcept {
    tokens_ = 0;
    stopped_at_ = 0;
    pattern_ = 0;
    for (auto& r : runs_) r = 0;
  }
  repetition_detector clone() const { return *this; }

  std::uint64_t tokens() const noexcept { return tokens_; }
  const repetition_options& options() const noexcept { return opts_; }
  std::size_t state_bytes() const noexcept {
    return sizeof(*this) + ring_.size() * sizeof(std::uint64_t) + runs_.size() * sizeof(std::uint32_t);
  }

 private:
  // Keys from text carry a tag bit so that no text key equals an id key.
  static constexpr std::uint64_t text_bit = std::uint64_t{1} << 63;

  verdict current() const noexcept { return stopped_at_ != 0 ? verdict::stop : verdict::go; }
  std::uint32_t cap(std::uint64_t p) const noexcept { return static_cast<std::uint32_t>(p * (opts_.min_count - 1)); }
  std::size_t slot(std::uint64_t index) const noexcept { return static_cast<std::size_t>(index % ring_.size()); }

  repetition_options opts_;
  std::uint64_t first_ = 1;
  std::vector<std::uint32_t> runs_;    // per p: tokens in a row equal to their p-th predecessor, capped
  std::vector<std::uint64_t> ring_;    // the last tokens' keys, by index modulo the size
  std::uint64_t tokens_ = 0;
  std::uint64_t stopped_at_ = 0;
  std::uint32_t pattern_ = 0;
};

}  // namespace lil
