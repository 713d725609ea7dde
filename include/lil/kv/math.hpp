// lil/kv/math.hpp - the few fp32 loops attention needs (internal).
//
// Written so that a compiler at -O2 vectorizes them without -ffast-math:
// reductions run in eight independent lanes (a fixed order, so results do not
// depend on the target's vector width), element-wise loops are plain.
#pragma once

#include <cmath>
#include <cstdint>

namespace lil::kv::detail {

inline float dot(const float* a, const float* b, int n) noexcept {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) lane[j] += a[i + j] * b[i + j];
  float s = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// y += a * x
inline void axpy(float* y, float a, const float* x, int n) noexcept {
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

// Turns scores into softmax probabilities in place (max-subtracted).
inline void softmax(float* x, std::int32_t n) noexcept {
  if (n <= 0) return;
  float m = x[0];
  for (std::int32_t i = 1; i < n; ++i) m = x[i] > m ? x[i] : m;
  float sum = 0.0f;
  for (std::int32_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (std::int32_t i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace lil::kv::detail
