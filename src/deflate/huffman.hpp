// lil/deflate/huffman.hpp - length-limited Huffman codes, built as gzip does.
//
// What it computes
//   For one alphabet (literal/length, distance, or code-length symbols) and
//   the frequencies a block tallied, the code length of every symbol, limited
//   to 15 bits (7 for the code-length alphabet), and the exact number of bits
//   the block's symbols (with their extra bits) cost under that code and under
//   the fixed code.
//
// The algorithm, and why exactly this one
//   Byte-identical output needs byte-identical code lengths, and many optimal
//   codes exist, so the construction must make the same choices as the
//   reference: a binary min-heap of the used symbols (ties broken toward the
//   shallower subtree, then heap order), repeatedly merging the two least
//   frequent; lengths read off the merge tree parents-first; when a length
//   exceeds the limit, the overflowing leaves are re-homed by moving one
//   shorter leaf down per pair of overflow and lengths are reassigned from the
//   least frequent symbol up. An alphabet with fewer than two used symbols gets
//   dummy ones so that every code has at least one bit (the decoder needs it).
//   Codes are then canonical (RFC 1951, 3.2.2), so lengths determine them.
//
// Costs
//   O(n log n) for n <= 286 symbols: a few microseconds, paid once per block
//   and once per size report. No allocation: the work arrays are on the stack.
#pragma once

#include <cstdint>

#include "lil/config.hpp"
#include "lil/deflate/params.hpp"

namespace lil::deflate {

// How an alphabet is coded and priced.
struct alphabet {
  unsigned size;                  // number of symbols
  unsigned max_bits;              // length limit
  const std::uint8_t* extra_bits; // extra bits of symbol (extra_base + i); may be null
  unsigned extra_base;            // first symbol that has extra bits
  const std::uint8_t* fixed_bits; // lengths under the fixed code, or null
};

// The result for one alphabet.
struct code_lengths {
  int max_code = -1;              // largest symbol with a nonzero length
  std::uint64_t bits = 0;         // sum of freq * (length + extra)
  std::uint64_t fixed_bits = 0;   // sum of freq * (fixed length + extra)
};

// Builds the lengths into `lengths[0..a.size)` from `freq[0..a.size)`.
LIL_API code_lengths build_code_lengths(const std::uint32_t* freq, const alphabet& a,
                                        std::uint8_t* lengths) noexcept;

// Canonical codes (already bit-reversed for LSB-first output) of `lengths`.
LIL_API void make_codes(const std::uint8_t* lengths, unsigned count, std::uint16_t* codes) noexcept;

}  // namespace lil::deflate
