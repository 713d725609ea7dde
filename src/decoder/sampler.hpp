// tiny_llama/sampler.hpp - picks the next token from the logits.
//
// Greedy (temperature 0, the default) takes the arg-max, lowest id on a tie,
// so a run is a pure function of the model and the prompt. Sampling divides
// the logits by the temperature, applies softmax, keeps the smallest set of
// most likely tokens whose mass reaches top_p (nucleus sampling) and draws
// from it with a seeded xorshift64* generator written out here, so the same
// seed gives the same text on every platform and standard library.
//
// Costs: greedy is one pass over the vocabulary; sampling adds a sort of the
// vocabulary in a buffer sized at construction (no allocation per token).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "lil/config.hpp"

namespace tiny_llama {

class sampler {
 public:
  // Greedy decoding.
  explicit sampler(int vocab_size) : sampler(vocab_size, 0.0f, 1.0f, 0) {}

  sampler(int vocab_size, float temperature, float top_p, std::uint64_t seed)
      : temperature_(temperature), top_p_(top_p), rng_(seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull) {
    if (vocab_size <= 0) lil::detail::throw_error("sampler: vocab_size = " + std::to_string(vocab_size) + " must be positive");
    if (!(temperature >= 0.0f)) lil::detail::throw_error("sampler: temperature = " + std::to_string(temperature) + " must be >= 0");
    if (!(top_p > 0.0f && top_p <= 1.0f)) lil::detail::throw_error("sampler: top_p = " + std::to_string(top_p) + " must be in (0, 1]");
    if (rng_ == 0) rng_ = 1;  // xorshift never leaves zero
    candidates_.resize(static_cast<std::size_t>(vocab_size));
  }

  bool greedy() const { return temperature_ == 0.0f; }

  int sample(const float* logits, int n) noexcept {
    if (greedy()) return argmax(logits, n);
    float top = logits[0];
    for (int i = 1; i < n; ++i) top = std::max(top, logits[i]);
    float sum = 0;
    for (int i = 0; i < n; ++i) {
      const float p = std::exp((logits[i] - top) / temperature_);
      candidates_[static_cast<std::size_t>(i)] = {p, i};
      sum += p;
    }
    auto end = candidates_.begin() + n;
    std::sort(candidates_.begin(), end, [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    // The nucleus: the most likely tokens until their mass reaches top_p.
    float kept = 0;
    int count = 0;
    while (count < n && kept < top_p_ * sum) kept += candidates_[static_cast<std::size_t>(count++)].first;
    const float target = uniform() * kept;
    float cumulative = 0;
    for (int i = 0; i < count; ++i) {
      cumulative += candidates_[static_cast<std::size_t>(i)].first;
      if (target < cumulative) return candidates_[static_cast<std::size_t>(i)].second;
    }
    return candidates_[static_cast<std::size_t>(count - 1)].second;  // rounding at the very top
  }

  static int argmax(const float* logits, int n) noexcept {
    int best = 0;
    for (int i = 1; i < n; ++i)
      if (logits[i] > logits[best]) best = i;
    return best;
  }

 private:
  // xorshift64* (Vigna): small, fast, and the same sequence everywhere.
  std::uint64_t next() noexcept {
    rng_ ^= rng_ >> 12;
    rng_ ^= rng_ << 25;
    rng_ ^= rng_ >> 27;
    return rng_ * 0x2545F4914F6CDD1Dull;
  }
  // Uniform in [0, 1) from the top 24 bits (exact in a float).
  float uniform() noexcept { return static_cast<float>(next() >> 40) / 16777216.0f; }

  float temperature_;
  float top_p_;
  std::uint64_t rng_;
  std::vector<std::pair<float, int>> candidates_;
};

}  // namespace tiny_llama
