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

LIL_ALWAYS_INLINE match_result longest_match(const sliding_window& w, const match_query& q) noexcept {
  unsigned chain = q.max_chain;
  if (q.best_so_far >= q.good_length) chain >>= 2;
  unsigned nice = q.nice_length;
  if (q.clamp_nice && nice > q.lookahead) nice = q.lookahead;
  const unsigned limit = q.position > max_dist ? q.position - max_dist : no_pos;

  const unsigned char* scan = w.bytes + q.position;
  const std::uint16_t scan_start = load16(scan);
  unsigned best = q.best_so_far;
  std::uint16_t scan_end = load16(scan + best - 1);
  match_result r{best, 0, false};
  unsigned candidate = q.chain_head;
  do {
    // Load the next link before testing this candidate: the walk is bound by
    // memory latency, and the link does not depend on the test.
    const unsigned next = w.prev[candidate & window_mask];
#if defined(__GNUC__)
    __builtin_prefetch(w.bytes + next + best - 1);
#endif
    const unsigned char* match = w.bytes + candidate;
    // The two bytes that would have to extend the best match, then the first
    // two: most candidates fail one of these.
    if (load16(match + best - 1) == scan_end && load16(match) == scan_start) {
      unsigned len = common_prefix(scan, match);
      if (len > best) {
        r.start = candidate;
        r.found = true;
        best = len;
        if (len >= nice) break;
        scan_end = load16(scan + best - 1);
      }
    }
    candidate = next;
  } while (candidate > limit && --chain != 0);
  r.length = best;
  return r;
}

}  // namespace lil::deflate::detail
