// lil/guardian/guardian.hpp - the early-stop decision for one decode loop.
//
// What it computes
//   One guardian follows one sequence. The decode loop tells it every token it
//   accepts; every f tokens it measures C(n), the exact raw DEFLATE size of the
//   output so far, and asks its detector (plateau.hpp) whether the output has
//   stopped carrying information. The loop reads the answer - go or stop, with
//   the reason and the figures of the last check - whenever it likes.
//
// A token's bytes
//   Its text as the engine decodes it (accept(text)): the exact bytes the
//   paper compresses. An engine that has only ids calls accept_id(id); the id
//   then stands for its text as 4 bytes, the two's-complement 32-bit id in
//   little-endian order (encode_token_id). Sizes from ids and from text are
//   not comparable (t = 20 bytes was chosen for text); do not mix the two in
//   one sequence.
//
// The algorithm, and why it is cheap
//   Token bytes are appended to a small fixed buffer. At each check the buffer
//   is fed to a streaming compressor that already holds everything before it,
//   and the compressor reports the exact size the stream would have if the
//   input ended there (deflate/compressor.hpp). So a check costs the last f
//   tokens' bytes plus a constant, never the whole output again, as
//   recompressing from scratch (the paper's method) does. Between checks a
//   token costs a copy of its bytes and a counter.
//
// Rollback and its limit
//   The bytes since the last check sit in the buffer, so the last k tokens can
//   be taken back (speculative decoding that rejects drafts, a sampler that
//   backtracks) by moving the buffer's end. The compressor cannot un-see bytes,
//   so rollback can return only to the last commit: the last check, or an
//   earlier point where a token did not fit in the buffer and the buffer was
//   fed early (rollback_limit() says how many tokens can be taken back now).
//   A rollback further than that is refused (returns false) and changes
//   nothing; it never leaves the state silently wrong. Decisions are made only
//   at checks, which are never rolled back, so a stop already decided stays.
//
// Costs
//   State: the compressor's (about 200 KiB for the default engine in size-only
//   mode) + the buffer (pending_capacity bytes; default 16 bytes per token of
//   the interval, at least 4 KiB) + 4 bytes per token of the interval + the
//   information curve's points. All allocated at construction: accept, the
//   checks, rollback, reset and decision never allocate. Copying (clone())
//   allocates a full copy.
//
// Threads
//   One object, one thread at a time (a guardian is a value with no shared
//   state). Different objects may be used concurrently from different threads.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "lil/config.hpp"
#include "lil/deflate/compressor.hpp"
#include "lil/guardian/plateau.hpp"

namespace lil {

using token_id = std::int32_t;

// The fixed-width stand-in for a token's text when only its id is known.
inline constexpr std::size_t token_id_bytes = 4;
inline void encode_token_id(token_id id, unsigned char out[token_id_bytes]) noexcept {
  const auto u = static_cast<std::uint32_t>(id);
  out[0] = static_cast<unsigned char>(u);
  out[1] = static_cast<unsigned char>(u >> 8);
  out[2] = static_cast<unsigned char>(u >> 16);
  out[3] = static_cast<unsigned char>(u >> 24);
}

// Settings of the default guardian. The defaults are the paper's rule.
struct guardian_options {
  plateau_options rule;                                // f, t, patience, warm-up, relative threshold
  int level = 6;                                       // DEFLATE level of C(n), 1..9
  deflate::profile profile = deflate::profile::gzip;   // whose DEFLATE to reproduce
  std::size_t pending_capacity = 0;                    // bytes buffered between checks; 0: automatic
  std::size_t curve_capacity = 0;                      // points of the information curve kept; 0: none

  deflate::options deflate_options() const noexcept {
    deflate::options o;
    o.level = level;
    o.profile = profile;
    o.keep_output = false;
    return o;
  }

  void validate() const {
    rule.validate();
    if (level < 1 || level > 9) detail::throw_error("guardian_options.level must be 1..9, got " + std::to_string(level));
    if (profile != deflate::profile::gzip && profile != deflate::profile::zlib)
      detail::throw_error("guardian_options.profile must be gzip or zlib, got " +
                          std::to_string(static_cast<int>(profile)));
  }
};

// What the loop reads: go on, or stop, and why.
struct decision {
  verdict action = verdict::go;
  reason why = reason::no_check_yet;  // for a stop: the stopping check's reason
  std::uint64_t tokens = 0;           // tokens accepted so far
  std::uint64_t stopped_at = 0;       // n of the check that said stop; 0 while going
  check_result last;                  // figures of the last check (last.point.tokens == 0: none yet)

  bool stop() const noexcept { return action == verdict::stop; }
};

namespace detail {

// Heap bytes of a compressor: the engine says so for its options; a stand-in
// compressor without that query counts as its object size only.
template <class C, class = void>
struct has_state_bytes : std::false_type {};
template <class C>
struct has_state_bytes<C, std::void_t<decltype(C::state_bytes(std::declval<const C&>().opts()))>> : std::true_type {};

template <class C>
std::size_t compressor_heap_bytes(const C& c) noexcept {
  if constexpr (has_state_bytes<C>::value)
    return C::state_bytes(c.opts());
  else
    return 0;
}

inline constexpr std::size_t max_pending_capacity = std::size_t{1} << 30;
// 2^28 points are 6 GiB of curve: past any real sequence (at f = 1, 268M
// tokens), and a bad option rather than an allocation that cannot succeed.
inline constexpr std::size_t max_curve_capacity = std::size_t{1} << 28;

inline std::size_t checked_curve_capacity(std::size_t points) {
  if (points > max_curve_capacity)
    throw_error("guardian_options.curve_capacity must be <= 2^28 points, got " + std::to_string(points));
  return points;
}
inline constexpr std::size_t max_open_tokens = 1u << 16;

}  // namespace detail

// Requirements on the parameters (the default pair satisfies them):
//   Compressor: copyable (a copy is an independent fork); feed(const void*,
//     std::size_t) appends bytes without allocating; std::uint64_t
//     size_if_finished() noexcept; void reset() noexcept; for the
//     guardian_options constructor, constructible from deflate::options.
//   Detector: copyable; std::uint64_t interval() const noexcept (f >= 1);
//     check_result observe(const check_point&) noexcept; void reset() noexcept;
//     for the guardian_options constructor, constructible from plateau_options.
template <class Compressor = deflate::compressor, class Detector = plateau_detector>
class guardian {
 public:
  using compressor_type = Compressor;
  using detector_type = Detector;

  explicit guardian(const guardian_options& opts = {})
      : guardian((opts.validate(), Compressor(opts.deflate_options())), Detector(opts.rule), opts.pending_capacity,
                 opts.curve_capacity) {}

  // A guardian around a ready compressor and detector (custom rules, stand-in
  // compressors). The compressor must be empty.
  guardian(Compressor sizer, Detector detector, std::size_t pending_capacity = 0, std::size_t curve_capacity = 0)
      : sizer_(std::move(sizer)), detector_(std::move(detector)), curve_(detail::checked_curve_capacity(curve_capacity)) {
    interval_ = detector_.interval();
    if (interval_ == 0) detail::throw_error("guardian: the detector's interval (f) must be >= 1, got 0");
    if (pending_capacity == 0) pending_capacity = automatic_capacity(interval_);
    if (pending_capacity > detail::max_pending_capacity)
      detail::throw_error("guardian_options.pending_capacity must be <= 2^30 bytes, got " +
                          std::to_string(pending_capacity));
    pending_.resize(pending_capacity);
    token_ends_.resize(static_cast<std::size_t>(std::min<std::uint64_t>(interval_, detail::max_open_tokens)));
  }

  // Copying is cloning: an independent fork (for beam search or parallel
  // sampling from a shared prefix). It allocates.
  guardian(const guardian&) = default;
  guardian& operator=(const guardian&) = default;
  // A moved-from guardian may only be assigned to or destroyed.
  guardian(guardian&&) = default;
  guardian& operator=(guardian&&) = default;
  guardian clone() const { return *this; }

  // --- the decode-loop verbs (noexcept, no allocation) ------------------------

  // One accepted token, by its text. Returns the decision's verdict.
  verdict accept(std::string_view text) noexcept { return accept_bytes(text.data(), text.size()); }
  verdict accept_bytes(const void* data, std::size_t size) noexcept {
    push(static_cast<const unsigned char*>(data), size);
    return current_verdict();
  }
  // One accepted token, by its id only (see encode_token_id).
  verdict accept_id(token_id id) noexcept {
    unsigned char b[token_id_bytes];
    encode_token_id(id, b);
    push(b, token_id_bytes);
    return current_verdict();
  }
  // Several accepted tokens at once (speculative decoding). Checks fall at the
  // exact multiples of f inside the batch; a stop found there is reported with
  // its n in decision().stopped_at even though later tokens were accepted.
  verdict accept(const std::string_view* texts, std::size_t count) noexcept {
    for (std::size_t i = 0; i < count; ++i) push(reinterpret_cast<const unsigned char*>(texts[i].data()), texts[i].size());
    return current_verdict();
  }
  verdict accept_ids(const token_id* ids, std::size_t count) noexcept {
    for (std::size_t i = 0; i < count; ++i) {
      unsigned char b[token_id_bytes];
      encode_token_id(ids[i], b);
      push(b, token_id_bytes);
    }
    return current_verdict();
  }

  // Takes back the last `count` tokens. Refused (returns false, nothing
  // changes) when count > rollback_limit(): the compressor has already seen
  // bytes that far back.
  [[nodiscard]] bool rollback(std::size_t count) noexcept {
    if (count > open_tokens_) return false;
    const std::size_t keep = open_tokens_ - count;
    const std::size_t new_end = keep == 0 ? 0 : token_ends_[keep - 1];
    bytes_ -= pending_size_ - new_end;
    pending_size_ = new_end;
    open_tokens_ = keep;
    tokens_ -= count;
    since_check_ -= count;
    return true;
  }
  // How many tokens rollback() can take back now.
  std::size_t rollback_limit() const noexcept { return open_tokens_; }

  // The loop's answer now: go or stop, why, and the last check's figures.
  ::lil::decision decision() const noexcept {
    ::lil::decision d;
    d.tokens = tokens_;
    d.last = last_;
    if (stopped_at_ != 0) {
      d.action = verdict::stop;
      d.why = stop_reason_;
      d.stopped_at = stopped_at_;
    } else {
      d.why = last_.point.tokens == 0 ? reason::no_check_yet : last_.why;
    }
    return d;
  }
  bool stopped() const noexcept { return stopped_at_ != 0; }

  // Back to an empty sequence with the same settings; keeps its memory.
  void reset() noexcept {
    sizer_.reset();
    detector_.reset();
    curve_.clear();
    pending_size_ = 0;
    open_tokens_ = 0;
    since_check_ = 0;
    tokens_ = 0;
    bytes_ = 0;
    stopped_at_ = 0;
    stop_reason_ = reason::no_check_yet;
    last_ = check_result{};
  }

  // --- what a logger or a plot reads --------------------------------------------
  std::uint64_t tokens() const noexcept { return tokens_; }
  std::uint64_t bytes() const noexcept { return bytes_; }
  std::uint64_t interval() const noexcept { return interval_; }
  const information_curve& curve() const noexcept { return curve_; }
  const Detector& detector() const noexcept { return detector_; }
  const Compressor& compressor() const noexcept { return sizer_; }
  std::size_t pending_capacity() const noexcept { return pending_.size(); }

  // Bytes of state of this sequence: the object and everything it allocated.
  std::size_t state_bytes() const noexcept {
    return sizeof(*this) + detail::compressor_heap_bytes(sizer_) + pending_.size() +
           token_ends_.size() * sizeof(std::uint32_t) + curve_.heap_bytes();
  }

 private:
  static std::size_t automatic_capacity(std::uint64_t interval) noexcept {
    const std::uint64_t per_interval = interval * 16;
    return static_cast<std::size_t>(std::clamp<std::uint64_t>(per_interval, 4096, std::uint64_t{1} << 20));
  }

  verdict current_verdict() const noexcept { return stopped_at_ != 0 ? verdict::stop : verdict::go; }

  // Feeds the buffer to the compressor: nothing before this point can be
  // rolled back any more.
  void commit() noexcept {
    if (pending_size_ != 0) sizer_.feed(pending_.data(), pending_size_);
    pending_size_ = 0;
    open_tokens_ = 0;
  }

  void push(const unsigned char* data, std::size_t size) noexcept {
    if (size > pending_.size() - pending_size_ || open_tokens_ == token_ends_.size()) commit();
    if (size > pending_.size()) {
      // Larger than the whole buffer: straight to the compressor. The token is
      // committed with it, so the rollback limit becomes 0.
      sizer_.feed(data, size);
    } else {
      if (size != 0) std::memcpy(pending_.data() + pending_size_, data, size);
      pending_size_ += size;
      token_ends_[open_tokens_++] = static_cast<std::uint32_t>(pending_size_);
    }
    ++tokens_;
    bytes_ += size;
    if (++since_check_ == interval_) check();
  }

  void check() noexcept {
    commit();
    since_check_ = 0;
    check_point p;
    p.tokens = tokens_;
    p.bytes = bytes_;
    p.size = sizer_.size_if_finished();
    last_ = detector_.observe(p);
    curve_.record(p);
    if (stopped_at_ == 0 && last_.action == verdict::stop) {
      stopped_at_ = tokens_;
      stop_reason_ = last_.why;
    }
  }

  Compressor sizer_;
  Detector detector_;
  information_curve curve_;
  std::vector<unsigned char> pending_;     // bytes of the tokens since the last commit
  std::vector<std::uint32_t> token_ends_;  // end of each uncommitted token in pending_
  std::uint64_t interval_ = 0;
  std::size_t pending_size_ = 0;
  std::size_t open_tokens_ = 0;
  std::uint64_t since_check_ = 0;
  std::uint64_t tokens_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t stopped_at_ = 0;
  reason stop_reason_ = reason::no_check_yet;
  check_result last_;
};

}  // namespace lil
