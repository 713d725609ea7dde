// lil/deflate/block_writer.hpp - closing a block: tally, price, choose, write.
//
// What it does
//   The parser tallies each literal and match into the open block (symbol
//   frequencies, and - when output is kept - the symbols themselves). When the
//   block closes, its Huffman codes are built and three encodings are priced:
//   stored (the raw bytes behind a 4-byte header, byte-aligned), fixed codes,
//   and dynamic codes (the codes' description plus the coded symbols). The
//   cheapest wins, compared in whole bytes with the reference's rounding and
//   tie-breaks (stored only if it is not larger and its bytes are still in the
//   window; fixed on a tie with dynamic), because the choice changes the bytes.
//
// Why pricing is separate from writing
//   A size report prices the open block as if it were the last one and writes
//   nothing. Both paths share plan_block() and choose_block(), so the size the
//   compressor reports is, by construction, the length of what it would write;
//   the tests check that equality against the real output anyway.
//
// Costs
//   Pricing is a few microseconds (three small Huffman builds). Writing is
//   linear in the block's symbols.
#pragma once

#include <cstdint>
#include <vector>

#include "lil/config.hpp"
#include "bit_writer.hpp"
#include "lil/deflate/params.hpp"

namespace lil::deflate {

// Frequencies of the open block. Symbols are counted exactly as the reference
// counts them: the end-of-block code is always counted once.
struct block_tally {
  std::uint32_t lit_len_freq[lit_len_codes];
  std::uint32_t dist_freq[dist_codes];
  std::uint32_t symbols;  // literals + matches tallied so far
  std::uint32_t matches;

  void clear() noexcept;
};

// The codes and prices of one block.
struct block_plan {
  std::uint8_t lit_len_bits[lit_len_codes];
  std::uint8_t dist_bits[dist_codes];
  std::uint8_t bit_len_bits[bit_len_codes];
  int lit_len_max_code;
  int dist_max_code;
  int bit_len_last;        // index into bit_len_order of the last length sent
  std::uint64_t dynamic_bits;  // everything after the 3-bit header
  std::uint64_t fixed_bits;    // everything after the 3-bit header
};

enum class block_kind : unsigned char { stored, fixed, dynamic };

LIL_API void plan_block(const block_tally& tally, block_plan& plan) noexcept;

// The reference's choice. `stored_possible` is false when the block's first
// byte has already left the window.
LIL_API block_kind choose_block(const block_plan& plan, std::uint64_t stored_len, bool stored_possible) noexcept;

// Bits the block takes when it starts at bit offset `bit_pos` of the stream
// (the offset matters only for the stored block's alignment padding).
LIL_API std::uint64_t block_bits(block_kind kind, const block_plan& plan, std::uint64_t stored_len,
                                 std::uint64_t bit_pos) noexcept;

// The symbols of the open block, when output is kept: for a literal, `lc` is
// the byte and `dist` is 0; for a match, `lc` is length - 3 and `dist` is the
// distance.
struct block_symbols {
  std::uint8_t* lc;
  std::uint16_t* dist;
};

// Writes one block of the given kind. `stored` points at the block's input
// bytes (needed for stored blocks only).
LIL_API void write_block(bit_writer& out, block_kind kind, const block_plan& plan, const block_tally& tally,
                         const block_symbols& symbols, const unsigned char* stored, std::uint64_t stored_len,
                         bool last);

}  // namespace lil::deflate
