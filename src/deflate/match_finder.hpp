// lil/deflate/match_finder.hpp - the longest earlier copy of the bytes ahead.
//
// What it computes
//   Walking the hash chain of the current position from newest to oldest, the
//   longest match (up to 258 bytes) with an earlier position no farther than
//   32506 bytes back, keeping the first (nearest) of equally long ones.
//
// The rules that make it the reference's search
//   - The walk follows at most max_chain links, a quarter of that when the
//     previous match is already "good"; it stops early at a "nice" length.
//   - Only a match longer than the one the caller already has counts.
//   - zlib caps "nice" at the bytes that remain, so near the end of input its
//     answer never depends on what lies past the end; gzip does not cap it,
//     and its answer does. The window therefore holds, past the end, exactly
//     the bytes gzip would see there (compressor.cpp reconstructs them).
//
// Why eight bytes at a time
//   A candidate is first rejected cheaply by two 16-bit loads: the two bytes
//   that would have to extend the best match, and the first two bytes (the
//   hash makes the third equal). Survivors are compared a 64-bit word at a
//   time: the lowest differing byte of the XOR ends the match. Same answer as
//   a byte loop, several times faster on long matches.
//
// What bounds it
//   Each link is a load whose address is the previous load's value, and the
//   chains (64 KiB) and window (64 KiB) do not fit in L1 beside each other
//   (a third of the link loads miss it): one walk runs at the latency of
//   that chain of loads, whatever its instruction count. zlib walks the same
//   chains. What a single walk cannot do, two can: the lazy parse's next
//   search (one position on) is independent of this one's chain, so
//   longest_match_pair walks both in turns, two loads in flight; it is used
//   when this step holds no match, which is most searches (after a match
//   and in runs of literals).
#pragma once

#include <cstdint>
#include <cstring>

#include "lil/config.hpp"
#include "lil/deflate/params.hpp"
#include "window.hpp"

namespace lil::deflate::detail {

LIL_ALWAYS_INLINE std::uint16_t load16(const unsigned char* p) noexcept {
  std::uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

// Length of the common prefix of a and b (at most max_match), given that
// their first two bytes are equal.
LIL_ALWAYS_INLINE unsigned common_prefix(const unsigned char* a, const unsigned char* b) noexcept {
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  // 32 words cover bytes 2..257 exactly.
  for (unsigned i = 2; i < max_match; i += 8) {
    std::uint64_t x, y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    if (std::uint64_t diff = x ^ y) return i + static_cast<unsigned>(__builtin_ctzll(diff)) / 8;
  }
  return max_match;
#else
  unsigned i = 2;
  while (i < max_match && a[i] == b[i]) ++i;
  return i;
#endif
}

struct match_query {
  unsigned position;    // where the bytes to match start
  unsigned chain_head;  // newest earlier position with the same hash
  unsigned best_so_far; // a match must be longer than this to count
  unsigned lookahead;   // bytes of input from `position` on
  unsigned max_chain;
  unsigned good_length;
  unsigned nice_length;
  bool clamp_nice;      // zlib: never look for more than the bytes that remain
};

struct match_result {
  unsigned length;  // best_so_far when nothing longer was found
  unsigned start;   // valid only when length > best_so_far
  bool found;
};

// One walk down one chain, a candidate per step, so that two walks can take
// turns (longest_match_pair).
struct chain_walk {
  // The window, not its arrays: two walks then address both arrays from one
  // register (the arrays sit at fixed offsets in it).
  const sliding_window* win;
  const unsigned char* scan;
  const unsigned char* end_base;  // bytes + best - 1: where a longer match must agree with scan_end
  unsigned candidate;
  unsigned limit;
  unsigned chain;  // candidates left to test
  unsigned best;
  unsigned start;
  unsigned nice;
  std::uint16_t scan_start;
  std::uint16_t scan_end;
  bool found;

  LIL_ALWAYS_INLINE void begin(const sliding_window& w, const match_query& q) noexcept {
    win = &w;
    chain = q.max_chain;
    if (q.best_so_far >= q.good_length) chain >>= 2;
    nice = q.nice_length;
    if (q.clamp_nice && nice > q.lookahead) nice = q.lookahead;
    limit = q.position > max_dist ? q.position - max_dist : no_pos;
    scan = w.bytes + q.position;
    scan_start = load16(scan);
    best = q.best_so_far;
    // Each candidate is tested with one load at (base + candidate): the two
    // bytes that would have to extend the best match, then the first two.
    // Most candidates fail one of these.
    end_base = w.bytes + best - 1;
    scan_end = load16(scan + best - 1);
    start = 0;
    found = false;
    candidate = q.chain_head;
  }

  // Tests the current candidate and moves to the next; false once the walk
  // is over: a match of `nice` found, the chain left the window, or `chain`
  // candidates tested (then chain == 0).
  LIL_ALWAYS_INLINE bool step() noexcept {
    if (LIL_UNLIKELY(load16(end_base + candidate) == scan_end) && load16(win->bytes + candidate) == scan_start) {
      unsigned len = common_prefix(scan, win->bytes + candidate);
      if (len > best) {
        start = candidate;
        found = true;
        best = len;
        if (len >= nice) return false;
        end_base = win->bytes + best - 1;
        scan_end = load16(scan + best - 1);
      }
    }
    candidate = win->prev[candidate & window_mask];
    return candidate > limit && --chain != 0;
  }

  // Counts only matches longer than `floor` from now on (floor > best).
  LIL_ALWAYS_INLINE void raise_floor(unsigned floor) noexcept {
    best = floor;
    found = false;
    end_base = win->bytes + best - 1;
    scan_end = load16(scan + best - 1);
  }

  match_result result() const noexcept { return {best, start, found}; }
};

LIL_ALWAYS_INLINE match_result longest_match(const sliding_window& w, const match_query& q) noexcept {
  chain_walk walk;
  walk.begin(w, q);
  while (walk.step()) {
  }
  return walk.result();
}

// How much of the second search of a pair is wanted, once the first's answer
// is known.
enum class second_search : unsigned char { none, quarter_chain, full_chain };

struct pair_result {
  match_result first;
  // The second walk's own answer, from best_so_far = min_match - 1; it counts
  // only if longer than the second search's real best_so_far. Unset when
  // `wanted` is none.
  match_result second;
  second_search wanted;
};

// The searches at two consecutive positions, walked in turns. Each link of a
// walk is a load whose address is the previous load's value (see the file
// comment), so one walk keeps one load in flight; two independent walks keep
// two, and cost about the longer of the two instead of their sum.
//
// The second search's real arguments depend on the first's answer (it is
// the search of the next lazy step, whose best_so_far is this step's match):
// `want(first)` says whether it happens and with which chain. It is walked
// meanwhile from a lower best_so_far (a "floor"), with the full chain,
// noting its answer after a quarter of it, and that finds the same match as
// the real search: a walk keeps the first candidate of the greatest length
// it meets (stopping at the first of `nice`, which exceeds any best_so_far a
// lazy search is made with), whatever floor it starts from, and that
// candidate counts only if longer than the real best_so_far, as the real
// walk's would. The floor starts at min_match - 1 (q2.best_so_far must be
// that) and rises with the first walk's match: the next best_so_far is at
// least that match once it exceeds min_match (only a 3-byte match can be
// dropped as too far). By the same bound the second walk stops early:
// once the first's match reaches max_lazy it is not wanted at all, and once
// it reaches good_length, not past the quarter.
template <class Want>
LIL_ALWAYS_INLINE pair_result longest_match_pair(const sliding_window& w, const match_query& q1,
                                                 const match_query& q2, unsigned max_lazy, Want&& want) noexcept {
  chain_walk a, b;
  a.begin(w, q1);
  b.begin(w, q2);
  const unsigned quarter = q2.max_chain >> 2;
  const unsigned rest = b.chain - quarter;
  b.chain = quarter;
  match_result at_quarter{};
  bool quarter_noted = false;
  unsigned b_stop = max_lazy;  // b is no longer wanted once a's match is this long
  unsigned a_seen = a.best;
  bool a_on = true, b_on = true;
  for (;;) {
    while (a_on && b_on) {
      a_on = a.step();
      if (LIL_UNLIKELY(a.best != a_seen)) {
        a_seen = a.best;
        if (a_seen >= b_stop) {
          b_on = false;
          break;
        }
        if (a_seen > min_match && a_seen > b.best) b.raise_floor(a_seen);
      }
      b_on = b.step();
    }
    if (!b_on && b.chain == 0 && !quarter_noted) {
      // b's first leg ran out: note its answer; go on only if a's match may
      // still leave the next search its full chain.
      at_quarter = b.result();
      quarter_noted = true;
      b_stop = q2.good_length;
      if (a_seen < b_stop) {
        b.chain = rest;
        b_on = true;
        if (a_on) continue;
      }
    }
    break;
  }
  while (a_on) a_on = a.step();

  pair_result r{a.result(), {}, want(a.result())};
  if (r.wanted == second_search::none) return r;
  const bool full = r.wanted == second_search::full_chain;
  if (!full && quarter_noted) {
    r.second = at_quarter;
    return r;
  }
  for (;;) {
    while (b_on) b_on = b.step();
    if (full && b.chain == 0 && !quarter_noted) {
      quarter_noted = true;
      b.chain = rest;
      b_on = true;
      continue;
    }
    break;
  }
  r.second = b.result();
  return r;
}

}  // namespace lil::deflate::detail
