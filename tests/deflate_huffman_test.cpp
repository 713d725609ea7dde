// Length-limited Huffman codes: complete, within the limit, and priced right.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "deflate/huffman.hpp"
#include "deflate/symbols.hpp"

namespace lil::deflate {
namespace {

// Sum of 2^-len over used symbols, scaled by 2^max_bits.
std::uint64_t kraft_sum(const std::uint8_t* len, unsigned n, unsigned max_bits) {
  std::uint64_t sum = 0;
  for (unsigned i = 0; i < n; ++i)
    if (len[i]) sum += std::uint64_t{1} << (max_bits - len[i]);
  return sum;
}

void check_code(const std::vector<std::uint32_t>& freq, unsigned max_bits) {
  const unsigned n = static_cast<unsigned>(freq.size());
  alphabet a{n, max_bits, nullptr, 0, nullptr};
  std::vector<std::uint8_t> len(n);
  code_lengths r = build_code_lengths(freq.data(), a, len.data());
  std::uint64_t cost = 0;
  unsigned used = 0;
  for (unsigned i = 0; i < n; ++i) {
    EXPECT_LE(len[i], max_bits);
    if (freq[i]) {
      EXPECT_GT(len[i], 0u) << "used symbol " << i << " has no code";
      ++used;
    }
    cost += std::uint64_t{freq[i]} * len[i];
  }
  // Dummy symbols added for a one-symbol alphabet are priced at zero.
  if (used >= 2) {
    EXPECT_EQ(r.bits, cost);
  }
  EXPECT_EQ(kraft_sum(len.data(), n, max_bits), std::uint64_t{1} << max_bits) << "code is not complete";
}

TEST(huffman, codes_are_complete_and_within_the_length_limit) {
  std::mt19937 rng(1);
  for (int trial = 0; trial < 200; ++trial) {
    unsigned n = 2 + rng() % 285;
    std::vector<std::uint32_t> freq(n);
    for (auto& f : freq) f = rng() % 3 == 0 ? 0 : 1 + rng() % (1 + rng() % 5000);
    check_code(freq, 15);
    // The code-length alphabet (19 symbols) is the one limited to 7 bits.
    check_code(std::vector<std::uint32_t>(freq.begin(), freq.begin() + std::min(n, 19u)), 7);
  }
}

TEST(huffman, fibonacci_frequencies_force_and_survive_the_length_limit) {
  std::vector<std::uint32_t> freq(30);
  std::uint32_t a = 1, b = 1;
  for (auto& f : freq) {
    f = a;
    std::uint32_t next = a + b;
    a = b;
    b = next;
  }
  check_code(freq, 15);
  check_code(std::vector<std::uint32_t>(freq.begin(), freq.begin() + 19), 7);
}

TEST(huffman, an_alphabet_with_one_used_symbol_still_gets_one_bit_codes) {
  for (unsigned used : {0u, 1u, 5u}) {
    std::vector<std::uint32_t> freq(30, 0);
    if (used < 30) freq[used] = 10;
    std::vector<std::uint8_t> len(30);
    alphabet a{30, 15, nullptr, 0, nullptr};
    code_lengths r = build_code_lengths(freq.data(), a, len.data());
    EXPECT_EQ(len[used], 1u);
    EXPECT_EQ(r.bits, 10u);  // the dummy partner costs nothing
    EXPECT_EQ(kraft_sum(len.data(), 30, 15), 1u << 15);
  }
}

TEST(huffman, canonical_codes_are_prefix_free) {
  std::uint8_t len[8] = {3, 3, 3, 3, 3, 2, 4, 4};
  std::uint16_t code[8];
  make_codes(len, 8, code);
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) {
      if (i == j || len[i] > len[j]) continue;
      // Reversed codes: a prefix in stream order is a suffix of the low bits.
      unsigned mask = (1u << len[i]) - 1;
      EXPECT_NE(code[i] & mask, code[j] & mask) << i << " is a prefix of " << j;
    }
}

TEST(symbols, every_length_and_distance_maps_into_its_code_range) {
  for (unsigned len = 3; len <= 258; ++len) {
    unsigned code = length_code(len - 3);
    unsigned base = length_base(code) + 3;
    EXPECT_GE(len, base);
    EXPECT_LT(len - base, 1u << length_extra_bits[code]);
  }
  EXPECT_EQ(length_code(258 - 3), 28u);
  for (unsigned d = 1; d <= 32768; ++d) {
    unsigned code = dist_code(d - 1);
    unsigned base = dist_base(code) + 1;
    ASSERT_GE(d, base);
    ASSERT_LT(d - base, 1u << dist_extra_bits[code]);
  }
}

}  // namespace
}  // namespace lil::deflate
