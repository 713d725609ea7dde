#include "lil/deflate/checksum.hpp"

#include <array>
#include <cstring>

namespace lil::deflate {

namespace {

using crc_tables = std::array<std::array<std::uint32_t, 256>, 8>;

constexpr crc_tables make_crc_tables() {
  crc_tables t{};
  for (std::uint32_t n = 0; n < 256; ++n) {
    std::uint32_t c = n;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    t[0][n] = c;
  }
  // Table k advances a byte that sits k positions before the end of an
  // 8-byte word, so eight lookups fold a whole word at once.
  for (std::uint32_t n = 0; n < 256; ++n)
    for (int k = 1; k < 8; ++k) t[k][n] = (t[k - 1][n] >> 8) ^ t[0][t[k - 1][n] & 0xff];
  return t;
}

constexpr crc_tables crc_table = make_crc_tables();

}  // namespace

std::uint32_t crc32(std::uint32_t crc, const void* data, std::size_t size) noexcept {
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  while (size >= 8) {
    std::uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    lo = __builtin_bswap32(lo);
    hi = __builtin_bswap32(hi);
#endif
    lo ^= crc;
    crc = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^ crc_table[5][(lo >> 16) & 0xff] ^
          crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
          crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
    p += 8;
    size -= 8;
  }
  while (size--) crc = (crc >> 8) ^ crc_table[0][(crc ^ *p++) & 0xff];
  return ~crc;
}

std::uint32_t adler32(std::uint32_t adler, const void* data, std::size_t size) noexcept {
  constexpr std::uint32_t base = 65521;
  constexpr std::size_t longest_safe_run = 5552;
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint32_t a = adler & 0xffff, b = adler >> 16;
  while (size > 0) {
    std::size_t run = size < longest_safe_run ? size : longest_safe_run;
    size -= run;
    while (run--) {
      a += *p++;
      b += a;
    }
    a %= base;
    b %= base;
  }
  return (b << 16) | a;
}

}  // namespace lil::deflate
