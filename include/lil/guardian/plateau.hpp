// lil/guardian/plateau.hpp - when has the output stopped carrying information?
//
// What it computes
//   A detector is shown the information curve of one decode loop, one point
//   per check: after n tokens, C(n) = the exact size of the raw DEFLATE stream
//   of the output so far. It answers, for each point, go on or stop.
//
// The rule (the paper's, "Less is Less", arXiv 2601.03043; the default)
//   Checks fall at n = f, 2f, 3f, ... tokens. The gain of a check is
//   C(n) - C(n-f): the compressed bytes the last f tokens added. Text that
//   still says something new costs DEFLATE bytes; a loop that repeats itself is
//   nearly free to compress, so its gain collapses. Stop at the first check
//   n >= 2f whose gain is below t bytes. Defaults f = 250, t = 20 (and level 6,
//   profile gzip for C, chosen by the guardian that feeds this detector).
//   The first check has no earlier point to compare with: it never stops.
//
// Beyond the paper (each off by default; the defaults are the rule exactly)
//   - patience k: stop only after k consecutive low-gain checks, so a single
//     dull stretch (a table, a list of equal lines) does not end the answer;
//   - warm-up w: no stop at a check with n < w tokens (low-gain checks before
//     w still count towards patience: the streak describes the curve);
//   - relative threshold r: once the first m checks have been seen, the
//     reference slope s = (C(m f) - C(f)) / (m - 1) bytes per f tokens is known
//     and the threshold becomes max(t, r s) for the checks after the m-th. A
//     model whose output is dense stops when it slows down relative to itself;
//     set t = 0 for a purely relative rule;
//   - the information curve (n, C(n), bytes(n), C(n)/bytes(n)) is kept, to a
//     fixed number of points, for logging and plots (information_curve).
//
// Why a separate detector
//   The guardian owns the bytes and the compressor; the detector sees only
//   numbers. Swapping the rule (a template parameter of guardian) never touches
//   the code that must be exact about bytes, and the rule can be unit-tested on
//   hand-made curves.
//
// Costs
//   A handful of integer operations per check (every f tokens), a few dozen
//   bytes of state, no allocation. information_curve allocates its fixed
//   capacity once, at construction.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "lil/config.hpp"

namespace lil {

// The settings of the plateau rule. The defaults are the paper's rule.
struct plateau_options {
  std::uint32_t check_every = 250;    // f: tokens between two checks (>= 1)
  double min_gain = 20;               // t: a check whose gain is below this many bytes is low-gain (>= 0)
  std::uint32_t patience = 1;         // k: consecutive low-gain checks needed to stop (>= 1)
  std::uint64_t warmup_tokens = 0;    // w: never stop at a check before this many tokens
  double relative_gain = 0;           // r: 0 = off; else also low-gain below r x the reference slope
  std::uint32_t relative_checks = 4;  // m: checks that measure the reference slope (>= 2)

  // Throws lil::error naming the field and its value when a setting is out of range.
  void validate() const {
    if (check_every == 0) detail::throw_error("plateau_options.check_every (f) must be >= 1, got 0");
    if (!(min_gain >= 0) || !std::isfinite(min_gain))
      detail::throw_error("plateau_options.min_gain (t) must be a finite number >= 0, got " + std::to_string(min_gain));
    if (patience == 0) detail::throw_error("plateau_options.patience must be >= 1, got 0");
    if (!(relative_gain >= 0) || !std::isfinite(relative_gain))
      detail::throw_error("plateau_options.relative_gain must be a finite number >= 0, got " +
                          std::to_string(relative_gain));
    if (relative_checks < 2)
      detail::throw_error("plateau_options.relative_checks must be >= 2, got " + std::to_string(relative_checks));
  }
};

// One point of the information curve.
struct check_point {
  std::uint64_t tokens = 0;  // n
  std::uint64_t bytes = 0;   // bytes of the first n tokens
  std::uint64_t size = 0;    // C(n): exact raw DEFLATE size of those bytes

  // Compressed bytes per input byte: falls as the output grows repetitive.
  double ratio() const noexcept { return bytes == 0 ? 0.0 : static_cast<double>(size) / static_cast<double>(bytes); }
};

enum class verdict : unsigned char { go, stop };

// Why a check (or a guardian's decision) says what it says.
enum class reason : unsigned char {
  no_check_yet,       // fewer than f tokens so far
  first_check,        // n = f: nothing to compare with yet
  gaining,            // the gain reached the threshold
  warming_up,         // low gain, but n < warm-up tokens
  awaiting_patience,  // low gain, but fewer than k in a row
  plateau,            // low gain k times in a row, past the warm-up: stop
  repetition,         // the output ends in a repeated n-gram (repetition.hpp): stop
};

inline constexpr const char* reason_name(reason r) noexcept {
  switch (r) {
    case reason::no_check_yet: return "no_check_yet";
    case reason::first_check: return "first_check";
    case reason::gaining: return "gaining";
    case reason::warming_up: return "warming_up";
    case reason::awaiting_patience: return "awaiting_patience";
    case reason::plateau: return "plateau";
    case reason::repetition: return "repetition";
  }
  return "unknown";
}

// The figures of one check, as the detector judged them.
struct check_result {
  check_point point;              // n, bytes(n), C(n); point.tokens == 0: no check yet
  std::int64_t gain = 0;          // C(n) - C(n-f) (at the first check: C(f))
  double threshold = 0;           // the threshold this check was held to
  std::uint32_t low_gain_streak = 0;
  reason why = reason::no_check_yet;
  verdict action = verdict::go;
};

// The paper's rule and its optional extensions (see the essay above).
// A detector is a value: copying it forks it. Not thread-safe: one thread at a
// time per object.
class plateau_detector {
 public:
  using options_type = plateau_options;

  explicit plateau_detector(const plateau_options& opts = {}) : opts_(opts) { opts_.validate(); }

  // Tokens between checks (f): the guardian checks when a multiple is reached.
  std::uint64_t interval() const noexcept { return opts_.check_every; }
  const plateau_options& options() const noexcept { return opts_; }

  // Judges the next point of the curve. Points must come at n = f, 2f, ... in
  // order; a stop is reported at every check that meets the stop condition
  // (the guardian keeps the first).
  check_result observe(const check_point& p) noexcept {
    check_result r;
    r.point = p;
    ++checks_;
    const auto size = static_cast<std::int64_t>(p.size);
    r.gain = size - previous_size_;
    previous_size_ = size;

    if (checks_ == 1) {
      first_size_ = size;
      streak_ = 0;
      r.threshold = opts_.min_gain;
      r.why = reason::first_check;
      return r;
    }
    if (opts_.relative_gain > 0 && checks_ == opts_.relative_checks)
      reference_gain_ = static_cast<double>(size - first_size_) / static_cast<double>(opts_.relative_checks - 1);

    r.threshold = threshold();
    const bool low = static_cast<double>(r.gain) < r.threshold;
    streak_ = low ? streak_ + 1 : 0;
    r.low_gain_streak = streak_;
    if (!low) {
      r.why = reason::gaining;
    } else if (streak_ < opts_.patience) {
      r.why = reason::awaiting_patience;
    } else if (p.tokens < opts_.warmup_tokens) {
      r.why = reason::warming_up;
    } else {
      r.why = reason::plateau;
      r.action = verdict::stop;
    }
    return r;
  }

  void reset() noexcept {
    checks_ = 0;
    streak_ = 0;
    previous_size_ = 0;
    first_size_ = 0;
    reference_gain_ = -1;
  }

 private:
  // The relative threshold applies only to checks after the ones that measured it.
  double threshold() const noexcept {
    if (opts_.relative_gain > 0 && checks_ > opts_.relative_checks) {
      const double relative = opts_.relative_gain * reference_gain_;
      return relative > opts_.min_gain ? relative : opts_.min_gain;
    }
    return opts_.min_gain;
  }

  plateau_options opts_;
  std::uint64_t checks_ = 0;
  std::uint32_t streak_ = 0;
  std::int64_t previous_size_ = 0;
  std::int64_t first_size_ = 0;
  double reference_gain_ = -1;
};

// The information curve of one sequence, kept to a fixed number of points:
// storage is allocated once, at construction; recording never allocates.
// Points beyond the capacity are counted, not kept (the first ones are the
// ones a plot of the whole run needs, and they never move).
class information_curve {
 public:
  explicit information_curve(std::size_t capacity = 0) : points_(capacity) {}

  void record(const check_point& p) noexcept {
    if (size_ < points_.size())
      points_[size_++] = p;
    else
      ++dropped_;
  }
  void clear() noexcept {
    size_ = 0;
    dropped_ = 0;
  }

  const check_point* begin() const noexcept { return points_.data(); }
  const check_point* end() const noexcept { return points_.data() + size_; }
  const check_point& operator[](std::size_t i) const noexcept { return points_[i]; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t capacity() const noexcept { return points_.size(); }
  std::uint64_t dropped() const noexcept { return dropped_; }
  std::size_t heap_bytes() const noexcept { return points_.size() * sizeof(check_point); }

 private:
  std::vector<check_point> points_;  // sized to the capacity, so copies keep it
  std::size_t size_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace lil
