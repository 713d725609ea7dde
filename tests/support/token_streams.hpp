// Generated token streams for the guardian tests: text that says new things
// for a while and then repeats itself, as a decode loop stuck in a loop does.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace lil::test {

// A word-like token: 0-9 bytes, mostly lowercase letters behind a space, some
// digits and punctuation, now and then a multi-byte UTF-8 character, and
// rarely an empty token (engines emit those for special tokens).
inline std::string random_token(std::mt19937_64& rng) {
  static const char* const extras[] = {"\xC2\xB0", "\xE2\x89\xA4", "\xCF\x80", "\xE2\x88\x9A", "\xF0\x9F\x99\x82"};
  const unsigned pick = rng() % 100;
  if (pick < 2) return {};
  if (pick < 6) return extras[rng() % 5];
  if (pick < 14) return std::string(1, "0123456789.,;:=+-()"[rng() % 19]);
  std::string t = (rng() % 3 == 0) ? "" : " ";
  const unsigned len = 1 + rng() % 7;
  for (unsigned i = 0; i < len; ++i) t += static_cast<char>('a' + rng() % 26);
  return t;
}

// `fresh` informative tokens, then a block of `period` tokens repeated until
// `total` tokens; with `recover`, new text again for the last quarter.
inline std::vector<std::string> looping_stream(std::uint64_t seed, std::size_t fresh, std::size_t period,
                                               std::size_t total, bool recover = false) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> tokens;
  tokens.reserve(total);
  for (std::size_t i = 0; i < fresh && tokens.size() < total; ++i) tokens.push_back(random_token(rng));
  std::vector<std::string> block;
  for (std::size_t i = 0; i < period; ++i) block.push_back(random_token(rng));
  const std::size_t loop_end = recover ? total - total / 4 : total;
  while (tokens.size() < loop_end) tokens.push_back(block[(tokens.size() - fresh) % period]);
  while (tokens.size() < total) tokens.push_back(random_token(rng));
  return tokens;
}

inline std::vector<std::string> random_stream(std::uint64_t seed, std::size_t total) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> tokens;
  for (std::size_t i = 0; i < total; ++i) tokens.push_back(random_token(rng));
  return tokens;
}

}  // namespace lil::test
