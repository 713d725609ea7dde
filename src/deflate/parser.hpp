// lil/deflate/parser.hpp - turning bytes into literals and matches.
//
// What it does
//   One call parses one position: it links the position into its hash chain,
//   asks the match finder for a copy, and tallies a literal or a match into
//   the open block, closing the block when the tally says so.
//
// Greedy (levels 1-3) and lazy (levels 4-9), as gzip and zlib parse
//   Greedy takes any match of 3 or more at once; to save time it links the
//   positions inside a match into the chains only if the match is short
//   ("max_lazy" doubles as that limit). Lazy holds each match back one step:
//   if the next position has a longer one, the held match shrinks to a literal.
//   It does not look for a better match once the held one is "max_lazy" long,
//   and drops 3-byte matches farther than 4096 bytes (they rarely pay).
//
// Searching one step ahead
//   When a lazy step holds no match, the next step is certain (this position
//   plus one) and so is its chain; only its best_so_far and chain budget wait
//   on this step's answer. In the steady parse the two searches are then
//   walked together (match_finder.hpp says why that is faster and why it
//   gives the same answer) and the next step takes its result from
//   search_ahead instead of searching.
//
// Two regimes, one code
//   While at least 262 bytes lie ahead (MIN_LOOKAHEAD) every end-of-input
//   guard is provably inert, so the steady state is compiled with Tail=false
//   and carries none of them. With Tail=true - the last <262 bytes, parsed
//   only when the input ends (or for a size report) - the guards apply, and
//   they are where gzip and zlib differ: zlib does not hash positions whose
//   three bytes run past the end and caps its search there; gzip hashes them
//   over zeroed bytes, searches only below its buffer's refill line, and may
//   match into the bytes its buffer holds past the end.
//
// The host
//   The compressor supplies the window, the cursor, the journal-aware insert
//   and the tally; the parser owns only the order of operations, which is what
//   has to match the reference exactly.
#pragma once

#include <cstdint>

#include "lil/config.hpp"
#include "match_finder.hpp"
#include "lil/deflate/params.hpp"
#include "window.hpp"

namespace lil::deflate::detail {

// Where the parse stands. Positions are offsets in the window buffer.
struct parse_cursor {
  unsigned position = 0;           // next position to parse
  unsigned lookahead = 0;          // input bytes from `position` on
  unsigned match_start = 0;        // start of the last match found
  unsigned match_length = min_match - 1;
  unsigned prev_length = min_match - 1;  // lazy: the held match
  unsigned prev_match = 0;
  bool match_available = false;    // lazy: a literal or match is held
  bool hash_primed = false;
  std::int64_t block_start = 0;    // may go negative as the window slides
  // While parsing the tail, zlib (and gzip once) may "slide" without moving
  // bytes: positions then read `window_shift` lower than they are stored.
  unsigned window_shift = 0;
};

struct parse_config {
  level_params level;
  profile_rules rules;
};

template <bool Tail, class Host>
LIL_ALWAYS_INLINE bool search_allowed(const Host& h, unsigned chain_head) noexcept {
  const parse_cursor& c = h.cursor;
  if (!Tail) return chain_head != no_pos && c.position - chain_head <= max_dist;
  // After a shift, chain entries at or below the shift are the ones a real
  // slide would have turned into "none".
  if (chain_head <= c.window_shift || c.position - chain_head > max_dist) return false;
  // gzip searches only below the line where its buffer would need refilling.
  if (!h.config.rules.guard_tail_inserts && c.position - c.window_shift > slide_threshold) return false;
  return true;
}

template <bool Tail, class Host>
LIL_ALWAYS_INLINE match_result find_match(Host& h, unsigned chain_head, unsigned best_so_far) noexcept {
  const parse_cursor& c = h.cursor;
  match_query q{c.position,
                chain_head,
                best_so_far,
                c.lookahead,
                h.config.level.max_chain,
                h.config.level.good_length,
                h.config.level.nice_length,
                Tail && h.config.rules.clamp_nice_to_lookahead};
  match_result r = longest_match(h.window, q);
  if (Tail) {
    // The search read no byte at or past the end of the input when even its
    // last 8-byte comparison (reaching 7 past the final length) stayed short
    // of it; only then does it not depend on where the input ends.
    h.tail_searched(r.length + 8 <= c.lookahead);
    if (r.length > c.lookahead) r.length = c.lookahead;
  }
  return r;
}

// One greedy step (levels 1-3).
template <bool Tail, class Host>
LIL_ALWAYS_INLINE void greedy_step(Host& h) {
  parse_cursor& c = h.cursor;
  const bool guard = Tail && h.config.rules.guard_tail_inserts;
  unsigned chain_head = no_pos;
  if (!guard || c.lookahead >= min_match) chain_head = h.insert(c.position);

  if (search_allowed<Tail>(h, chain_head)) {
    match_result r = find_match<Tail>(h, chain_head, min_match - 1);
    c.match_length = r.length;
    if (r.found) c.match_start = r.start;
  }

  bool close;
  if (c.match_length >= min_match) {
    close = h.tally_match(c.position - c.match_start, c.match_length);
    c.lookahead -= c.match_length;
    if (c.match_length <= h.config.level.max_lazy && (!guard || c.lookahead >= min_match)) {
      // The position itself is already linked; link the rest of the match.
      for (unsigned n = c.match_length - 1; n != 0; --n) h.insert(++c.position);
      ++c.position;
    } else {
      c.position += c.match_length;
      h.window.prime(c.position);
    }
    c.match_length = 0;
  } else {
    close = h.tally_literal(h.window.bytes[c.position]);
    --c.lookahead;
    ++c.position;
  }
  if (close) h.close_block();
}

// A search made one step early, beside the step before it (steady lazy parse
// only; see lazy_step).
struct search_ahead {
  bool ready = false;
  match_result walk;  // the walk's own answer, from best_so_far = min_match - 1
};

// One lazy step (levels 4-9). `ahead` carries a search from this step to the
// next; the tail parse passes none.
template <bool Tail, class Host>
LIL_ALWAYS_INLINE void lazy_step(Host& h, search_ahead& ahead) {
  parse_cursor& c = h.cursor;
  const bool guard = Tail && h.config.rules.guard_tail_inserts;
  unsigned chain_head = no_pos;
  if (!guard || c.lookahead >= min_match) chain_head = h.insert(c.position);

  c.prev_length = c.match_length;
  c.prev_match = c.match_start;
  c.match_length = min_match - 1;
  const bool have_ahead = !Tail && ahead.ready;
  if (!Tail) ahead.ready = false;
  if (c.prev_length < h.config.level.max_lazy && search_allowed<Tail>(h, chain_head)) {
    match_result r;
    if (have_ahead) {
      // Made last step with this step's chain head and budget (want, below).
      r = ahead.walk;
      if (r.length <= c.prev_length) r = {c.prev_length, 0, false};
    } else if (!Tail && c.prev_length < min_match && c.lookahead > min_lookahead &&
               c.position + 1 <= slide_threshold) {
      // Nothing is held, so the next step is this position plus one, still in
      // the steady parse (one more byte than it needs lies ahead, and no slide
      // comes between), and it searches unless this step's match is too long:
      // search for both now. Its chain head is the head of its hash as it
      // stands after this step's insert; this step changes no other head.
      const sliding_window& w = h.window;
      const unsigned next = c.position + 1;
      const unsigned next_head = w.head[sliding_window::roll(w.hash, w.bytes[next + min_match - 1])];
      if (next_head != no_pos && next - next_head <= max_dist) {
        const level_params& lv = h.config.level;
        match_query q1{c.position, chain_head, c.prev_length, c.lookahead,
                       lv.max_chain, lv.good_length, lv.nice_length, false};
        match_query q2{next, next_head, min_match - 1, c.lookahead - 1,
                       lv.max_chain, lv.good_length, lv.nice_length, false};
        const unsigned here = c.position;
        // The next step's best_so_far is this step's match length after the
        // too-far rule below; it decides whether and how far that step searches.
        auto want = [&lv, here](const match_result& first) {
          unsigned next_best = first.length;
          if (next_best == min_match && here - first.start > too_far) next_best = min_match - 1;
          if (next_best >= lv.max_lazy) return second_search::none;
          return next_best >= lv.good_length ? second_search::quarter_chain : second_search::full_chain;
        };
        pair_result pr = longest_match_pair(w, q1, q2, lv.max_lazy, want);
        r = pr.first;
        if (pr.wanted != second_search::none) {
          ahead.ready = true;
          ahead.walk = pr.second;
        }
      } else {
        r = find_match<Tail>(h, chain_head, c.prev_length);
      }
    } else {
      r = find_match<Tail>(h, chain_head, c.prev_length);
    }
    c.match_length = r.length;
    if (r.found) c.match_start = r.start;
    if (c.match_length == min_match && c.position - c.match_start > too_far) c.match_length = min_match - 1;
  }

  if (c.prev_length >= min_match && c.match_length <= c.prev_length) {
    // The held match stands. zlib links its positions only while their three
    // hashed bytes are input.
    const unsigned last_insertable = c.position + c.lookahead - min_match;
    bool close = h.tally_match(c.position - 1 - c.prev_match, c.prev_length);
    c.lookahead -= c.prev_length - 1;
    for (unsigned n = c.prev_length - 2; n != 0; --n) {
      ++c.position;
      if (!guard || c.position <= last_insertable) h.insert(c.position);
    }
    c.match_available = false;
    c.match_length = min_match - 1;
    ++c.position;
    if (close) h.close_block();
  } else if (c.match_available) {
    // The held position was not the start of a better match: it is a literal.
    if (h.tally_literal(h.window.bytes[c.position - 1])) h.close_block();
    ++c.position;
    --c.lookahead;
  } else {
    c.match_available = true;
    ++c.position;
    --c.lookahead;
  }
}

}  // namespace lil::deflate::detail
