// lil/kv/reference_attention.hpp - a plain CPU fp32 GQA attention step over selected slots.
//
// What it computes
//   For every query head q, with h = its KV head and S = the selection of h:
//     w = softmax(scale * q . K[h][s] for s in S)      (written to args.weights)
//     out_q = sum_i w_i V[h][S_i]
//   scale defaults to 1/sqrt(head_dim). Any head_dim works (tested 1..256).
//
// Why this way
//   It is the step the tests, the benchmark and the examples plug into
//   wrap_step(), so it has to be both obviously right and fast enough for the
//   dense-versus-sparse comparison to be honest. Per KV head it walks the
//   selection once for the scores and once for the output, and each key or
//   value row it loads serves all the query heads of its group (GQA) while
//   the row is in L1 (four query heads per pass over the keys, four value
//   rows per pass over an output row). Rows are contiguous; the inner loops
//   are the vectorizable ones of math.hpp, including a branch-free exp. It
//   always writes the weights: it needs them anyway.
//
// Costs
//   2 x n_heads x selected x head_dim multiply-adds and n_heads x selected
//   exponentials; it reads each selected key and value row once. No
//   allocation: the weights buffer doubles as the score scratch.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "lil/kv/math.hpp"
#include "lil/kv/wrap.hpp"

namespace lil::kv {

// Where K and V live: row (kv_head, slot) starts at
// keys + kv_head * head_stride + slot * slot_stride (values alike).
struct kv_view {
  const float* keys = nullptr;
  const float* values = nullptr;
  std::size_t head_stride = 0;
  std::size_t slot_stride = 0;

  const float* key(int kv_head, std::int32_t slot) const noexcept {
    return keys + static_cast<std::size_t>(kv_head) * head_stride + static_cast<std::size_t>(slot) * slot_stride;
  }
  const float* value(int kv_head, std::int32_t slot) const noexcept {
    return values + static_cast<std::size_t>(kv_head) * head_stride + static_cast<std::size_t>(slot) * slot_stride;
  }
};

namespace detail {
// Rows a few tokens ahead are requested early: a sparse selection gathers
// rows from anywhere in the cache, where the hardware prefetcher cannot guess.
constexpr std::int32_t prefetch_ahead = 8;
inline void prefetch_row(const float* row, int d) noexcept {
#if defined(__GNUC__) || defined(__clang__)
  for (int i = 0; i < d; i += 16) __builtin_prefetch(row + i);
#else
  (void)row;
  (void)d;
#endif
}
}  // namespace detail

inline void attend_reference(const attention_args& a, const kv_view& kv, float scale = 0.0f) noexcept {
  const int d = a.head_dim;
  const int group = a.n_heads / a.n_kv_heads;
  const float s = scale != 0.0f ? scale : 1.0f / std::sqrt(static_cast<float>(d));
  const std::size_t dd = static_cast<std::size_t>(d);
  for (int h = 0; h < a.n_kv_heads; ++h) {
    const slot_span sel = a.selected.head(h);
    const int q0 = h * group;
    // Scores, four query heads per pass over the keys.
    for (int g0 = 0; g0 < group; g0 += 4) {
      const int rows = group - g0 < 4 ? group - g0 : 4;
      const float* q = a.query + static_cast<std::size_t>(q0 + g0) * dd;
      float* w[4] = {a.weights_row(q0 + g0), nullptr, nullptr, nullptr};
      for (int r = 1; r < rows; ++r) w[r] = a.weights_row(q0 + g0 + r);
      float dots[4];
      for (std::int32_t i = 0; i < sel.size; ++i) {
        if (i + detail::prefetch_ahead < sel.size) detail::prefetch_row(kv.key(h, sel[i + detail::prefetch_ahead]), d);
        detail::dot_rows(q, dd, rows, kv.key(h, sel[i]), d, dots);
        for (int r = 0; r < rows; ++r) w[r][i] = dots[r] * s;
      }
    }
    for (int g = 0; g < group; ++g) {
      detail::softmax(a.weights_row(q0 + g), sel.size);
      float* out = a.out + static_cast<std::size_t>(q0 + g) * dd;
      for (int j = 0; j < d; ++j) out[j] = 0.0f;
    }
    // Outputs, four value rows per pass over each output row.
    std::int32_t i = 0;
    for (; i + 4 <= sel.size; i += 4) {
      for (std::int32_t p = i + detail::prefetch_ahead; p < i + detail::prefetch_ahead + 4 && p < sel.size; ++p)
        detail::prefetch_row(kv.value(h, sel[p]), d);
      const float* v0 = kv.value(h, sel[i]);
      const float* v1 = kv.value(h, sel[i + 1]);
      const float* v2 = kv.value(h, sel[i + 2]);
      const float* v3 = kv.value(h, sel[i + 3]);
      for (int g = 0; g < group; ++g)
        detail::axpy4(a.out + static_cast<std::size_t>(q0 + g) * dd, a.weights_row(q0 + g) + i, v0, v1, v2, v3, d);
    }
    for (; i < sel.size; ++i) {
      const float* value = kv.value(h, sel[i]);
      for (int g = 0; g < group; ++g)
        detail::axpy(a.out + static_cast<std::size_t>(q0 + g) * dd, a.weights_row(q0 + g)[i], value, d);
    }
  }
}

// The callable form for wrap_step().
class reference_attention {
 public:
  explicit reference_attention(const kv_view& kv, float scale = 0.0f) noexcept : kv_(kv), scale_(scale) {}
  void operator()(const attention_args& a) const noexcept { attend_reference(a, kv_, scale_); }

 private:
  kv_view kv_;
  float scale_;
};

}  // namespace lil::kv
