// lil/deflate/params.hpp - the constants of DEFLATE, the per-level search
// table, and the two profiles' block rules.
//
// The level table is the one GNU gzip and zlib share (good/lazy/nice/chain).
// The profiles differ only in rules that decide block boundaries and a few
// end-of-input details; each rule is named here so that the parser and the
// block writer ask a question ("does this profile split blocks early?") rather
// than test a profile.
#pragma once

#include <cstdint>

namespace lil::deflate {

// Whose output to reproduce, byte for byte.
enum class profile : unsigned char {
  gzip,  // GNU gzip 1.12 (Debian 12)
  zlib,  // zlib 1.2.13, windowBits 15, memLevel 8, Z_DEFAULT_STRATEGY
};

inline constexpr const char* profile_name(profile p) noexcept {
  return p == profile::gzip ? "gzip" : "zlib";
}

// DEFLATE format constants (RFC 1951) and the window geometry both reference
// implementations use.
inline constexpr unsigned window_size = 1u << 15;            // WSIZE: 32 KiB
inline constexpr unsigned window_mask = window_size - 1;
inline constexpr unsigned min_match = 3;
inline constexpr unsigned max_match = 258;
// A position is parsed only when this many bytes follow it (or input ended):
// a longest match plus the three bytes that hash the position after it.
inline constexpr unsigned min_lookahead = max_match + min_match + 1;  // 262
inline constexpr unsigned max_dist = window_size - min_lookahead;     // 32506
inline constexpr unsigned too_far = 4096;  // a 3-byte match farther than this is not worth it
inline constexpr unsigned hash_bits = 15;
inline constexpr unsigned hash_size = 1u << hash_bits;
inline constexpr unsigned hash_mask = hash_size - 1;
inline constexpr unsigned hash_shift = (hash_bits + min_match - 1) / min_match;  // 5

inline constexpr unsigned literals = 256;
inline constexpr unsigned end_block = 256;
inline constexpr unsigned length_codes = 29;
inline constexpr unsigned lit_len_codes = literals + 1 + length_codes;  // 286
inline constexpr unsigned dist_codes = 30;
inline constexpr unsigned bit_len_codes = 19;
inline constexpr unsigned max_code_bits = 15;
inline constexpr unsigned max_bl_bits = 7;

// One row of the shared level table.
struct level_params {
  std::uint16_t good_length;  // a previous match this long cuts the chain search to a quarter
  std::uint16_t max_lazy;     // lazy (4-9): do not look further than a match this long;
                              // greedy (1-3): insert the positions of matches only up to this length
  std::uint16_t nice_length;  // stop searching once a match is this long
  std::uint16_t max_chain;    // how many chain links to follow at most
};

inline constexpr level_params level_table[10] = {
    {0, 0, 0, 0},         // 0: store only (not offered: gzip has no -0 deflate)
    {4, 4, 8, 4},         // 1: greedy
    {4, 5, 16, 8},        // 2: greedy
    {4, 6, 32, 32},       // 3: greedy
    {4, 4, 16, 16},       // 4: lazy from here on
    {8, 16, 32, 32},      // 5
    {8, 16, 128, 128},    // 6
    {8, 32, 128, 256},    // 7
    {32, 128, 258, 1024}, // 8
    {32, 258, 258, 4096}, // 9
};

inline constexpr bool is_lazy(int level) noexcept { return level >= 4; }

// The block rules of a profile.
struct profile_rules {
  // A block ends once this many symbols are buffered (gzip: LIT_BUFSIZE-1,
  // zlib: lit_bufsize-1 with memLevel 8).
  std::uint32_t max_block_symbols;
  // gzip only: every 4096 symbols (at levels above 2) estimate the block's
  // compressed size and end it early when it already halves the input.
  bool early_block_split;
  // zlib only: positions whose three hashed bytes run past the input are not
  // inserted into the hash chains; gzip inserts them over zeroed bytes.
  bool guard_tail_inserts;
  // zlib only: the match finder never reads past the lookahead for its "good
  // enough" test; gzip's does, so bytes past the end of input matter.
  bool clamp_nice_to_lookahead;
  // zlib refills (and may slide the window) before every end-of-input step;
  // gzip stops refilling once it has seen the end of its input.
  bool slide_during_tail;
};

inline constexpr profile_rules rules_of(profile p) noexcept {
  return p == profile::gzip ? profile_rules{0x8000 - 1, true, false, false, false}
                            : profile_rules{(1u << 14) - 1, false, true, true, true};
}

}  // namespace lil::deflate
