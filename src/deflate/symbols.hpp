// lil/deflate/symbols.hpp - how lengths and distances map to DEFLATE symbols.
//
// RFC 1951 codes a match length 3..258 as one of 29 length symbols (257..285)
// plus 0..5 extra bits, and a distance 1..32768 as one of 30 distance symbols
// plus 0..13 extra bits. The tables below are computed at compile time from
// the RFC's extra-bit counts; lookups are one array index on the hot path.
//
// Distances use two tables: distances 1..256 index directly, longer ones are
// looked up by (distance-1) >> 7, since from code 16 on every code spans a
// multiple of 128 distances.
#pragma once

#include <array>
#include <cstdint>

#include "lil/config.hpp"
#include "lil/deflate/params.hpp"

namespace lil::deflate {

inline constexpr std::array<std::uint8_t, length_codes> length_extra_bits = {
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
inline constexpr std::array<std::uint8_t, dist_codes> dist_extra_bits = {
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
inline constexpr std::array<std::uint8_t, bit_len_codes> bit_len_extra_bits = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7};
// The order in which a dynamic block header lists the code-length code lengths.
inline constexpr std::array<std::uint8_t, bit_len_codes> bit_len_order = {
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

// Repeat codes of the code-length alphabet.
inline constexpr unsigned rep_3_6 = 16;      // repeat the previous length 3..6 times (2 extra bits)
inline constexpr unsigned repz_3_10 = 17;    // 3..10 zeros (3 extra bits)
inline constexpr unsigned repz_11_138 = 18;  // 11..138 zeros (7 extra bits)

namespace detail {

struct length_tables {
  std::uint8_t code_of[256]{};         // (length - 3) -> length code 0..28
  std::uint8_t base_of[length_codes]{};  // length code -> smallest (length - 3)
};

constexpr length_tables make_length_tables() {
  length_tables t{};
  unsigned lc = 0;
  for (unsigned code = 0; code + 1 < length_codes; ++code) {
    t.base_of[code] = static_cast<std::uint8_t>(lc);
    for (unsigned i = 0; i < (1u << length_extra_bits[code]); ++i) t.code_of[lc++] = static_cast<std::uint8_t>(code);
  }
  // 258 has a code of its own (285) even though code 284's extra bits could
  // reach it: the RFC reserves 284's last value.
  t.base_of[length_codes - 1] = 255;
  t.code_of[255] = length_codes - 1;
  return t;
}

struct dist_tables {
  std::uint8_t code_of[512]{};       // see dist_code()
  std::uint16_t base_of[dist_codes]{};  // code -> smallest (distance - 1)
};

constexpr dist_tables make_dist_tables() {
  dist_tables t{};
  unsigned d = 0;
  for (unsigned code = 0; code < 16; ++code) {
    t.base_of[code] = static_cast<std::uint16_t>(d);
    for (unsigned i = 0; i < (1u << dist_extra_bits[code]); ++i) t.code_of[d++] = static_cast<std::uint8_t>(code);
  }
  d >>= 7;
  for (unsigned code = 16; code < dist_codes; ++code) {
    t.base_of[code] = static_cast<std::uint16_t>(d << 7);
    for (unsigned i = 0; i < (1u << (dist_extra_bits[code] - 7)); ++i)
      t.code_of[256 + d++] = static_cast<std::uint8_t>(code);
  }
  return t;
}

inline constexpr length_tables length_table = make_length_tables();
inline constexpr dist_tables dist_table = make_dist_tables();

}  // namespace detail

// Length code (0..28) of a match of length lc + 3.
LIL_ALWAYS_INLINE unsigned length_code(unsigned lc) noexcept { return detail::length_table.code_of[lc]; }
inline constexpr unsigned length_base(unsigned code) noexcept { return detail::length_table.base_of[code]; }

// Distance code (0..29) of a match at distance d + 1.
LIL_ALWAYS_INLINE unsigned dist_code(unsigned d) noexcept {
  return d < 256 ? detail::dist_table.code_of[d] : detail::dist_table.code_of[256 + (d >> 7)];
}
inline constexpr unsigned dist_base(unsigned code) noexcept { return detail::dist_table.base_of[code]; }

// Code lengths of the fixed Huffman codes (RFC 1951, 3.2.6).
inline constexpr unsigned fixed_lit_len_bits(unsigned symbol) noexcept {
  return symbol < 144 ? 8 : symbol < 256 ? 9 : symbol < 280 ? 7 : 8;
}
inline constexpr unsigned fixed_dist_bits = 5;

}  // namespace lil::deflate
