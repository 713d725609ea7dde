// tiny_llama/model.hpp - the forward pass of a Llama-family decoder, one token
// at a time, in fp32 on the CPU: RMSNorm, rotary position embedding (RoPE),
// grouped-query attention (GQA) over a per-layer KV cache, SwiGLU feed-forward,
// tied or separate classifier.
//
// Per layer l, for the token at `position`:
//   h = RMSNorm(x) * g_att;  q = Wq h;  k = Wk h;  v = Wv h
//   rotate q and k by the position (pairs (2i, 2i+1) of each head, angle
//   position / 10000^(2i/head_size), as llama2.c's checkpoints were trained)
//   k, v -> row `position` of layer l's cache
//   o = attention(q, cache)          <- the attention step, a callable
//   x += Wo o
//   h = RMSNorm(x) * g_ffn;  x += W2 (silu(W1 h) * (W3 h))
// then logits = C RMSNorm(x) * g_final.
//
// The attention step is the seam for KV-cache policies: forward() hands each
// layer's step to a caller-supplied callable with everything it needs (the
// rotated query, the layer's whole cache, an output slot and a scratch row per
// head for the attention weights). dense_attention is the plain step; a policy
// wrapper calls attend_positions() with the positions it keeps, then reads the
// weights it left in `probabilities` (H2O, TOVA and SnapKV score with them).
// The model always writes the new key and value at their position, so a policy
// that evicts only has to stop listing a position; memory "kept" is what the
// policy lists, which is what its budget bounds.
//
// Why this shape: the weights (checkpoint) are shared and read-only, all
// mutable memory lives in a `state`, so several threads decode different
// sequences over one model. Matrix-vector products walk each weight row once,
// contiguously, with eight independent partial sums in a fixed order: SIMD
// without -ffast-math or -march, and the same results whatever the build.
//
// Costs per token: about 2 * parameters flops for the matrices plus
// 4 * n_layers * position * dim for attention; memory is the weights plus
// 2 * n_layers * seq_len * kv_dim floats of cache per state. Nothing is
// allocated after a state is built; forward() is noexcept when the attention
// callable is (a KV policy may throw lil::error for a cache it cannot fill).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstring>
#include <utility>
#include <vector>

#include "checkpoint.hpp"

namespace tiny_llama {

namespace detail {

// Dot products and matrix-vector products keep eight partial sums per row
// (lane k takes elements j with j % 8 == k), combined as
// ((s0 + s1) + (s2 + s3)) with s_k = lane k + lane k+4, then the tail.
// With GCC or Clang the lanes are two 4-float vectors (vector extensions:
// SSE2/NEON-sized, no -march needed) and four rows share each load of x;
// elsewhere (or with TINY_LLAMA_PORTABLE_MATH defined) plain loops compute
// the same sums in the same order.
#if (defined(__GNUC__) || defined(__clang__)) && !defined(TINY_LLAMA_PORTABLE_MATH)
typedef float float4 __attribute__((vector_size(16)));
inline float4 load4(const float* p) noexcept {
  float4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline float finish(float4 low, float4 high, const float* a, const float* b, int from, int n) noexcept {
  const float4 s = low + high;
  float sum = (s[0] + s[1]) + (s[2] + s[3]);
  for (int j = from; j < n; ++j) sum += a[j] * b[j];
  return sum;
}
inline float dot(const float* a, const float* b, int n) noexcept {
  float4 low = {0, 0, 0, 0}, high = low;
  int j = 0;
  for (; j + 8 <= n; j += 8) {
    low += load4(a + j) * load4(b + j);
    high += load4(a + j + 4) * load4(b + j + 4);
  }
  return finish(low, high, a, b, j, n);
}
// out[0..n) += a * x[0..n)
inline void axpy(float* out, float a, const float* x, int n) noexcept {
  const float4 av = {a, a, a, a};
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    float4 o = load4(out + j);
    o += av * load4(x + j);
    std::memcpy(out + j, &o, sizeof o);
  }
  for (; j < n; ++j) out[j] += a * x[j];
}
// out[rows] = W[rows][cols] * x[cols]
inline void matvec(float* out, const float* w, const float* x, int rows, int cols) noexcept {
  int i = 0;
  for (; i + 4 <= rows; i += 4) {
    const float* r0 = w + static_cast<std::ptrdiff_t>(i) * cols;
    const float *r1 = r0 + cols, *r2 = r1 + cols, *r3 = r2 + cols;
    float4 l0 = {0, 0, 0, 0}, l1 = l0, l2 = l0, l3 = l0, h0 = l0, h1 = l0, h2 = l0, h3 = l0;
    int j = 0;
    for (; j + 8 <= cols; j += 8) {
      const float4 xl = load4(x + j), xh = load4(x + j + 4);
      l0 += load4(r0 + j) * xl;
      h0 += load4(r0 + j + 4) * xh;
      l1 += load4(r1 + j) * xl;
      h1 += load4(r1 + j + 4) * xh;
      l2 += load4(r2 + j) * xl;
      h2 += load4(r2 + j + 4) * xh;
      l3 += load4(r3 + j) * xl;
      h3 += load4(r3 + j + 4) * xh;
    }
    out[i] = finish(l0, h0, r0, x, j, cols);
    out[i + 1] = finish(l1, h1, r1, x, j, cols);
    out[i + 2] = finish(l2, h2, r2, x, j, cols);
    out[i + 3] = finish(l3, h3, r3, x, j, cols);
  }
  for (; i < rows; ++i) out[i] = dot(w + static_cast<std::ptrdiff_t>(i) * cols, x, cols);
}
#else
inline float dot(const float* a, const float* b, int n) noexcept {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) lane[k] += a[j + k] * b[j + k];
  float sum = ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
  for (; j < n; ++j) sum += a[j] * b[j];
  return sum;
}
inline void axpy(float* out, float a, const float* x, int n) noexcept {
  for (int j = 0; j < n; ++j) out[j] += a * x[j];
}
inline void matvec(float* out, const float* w, const float* x, int rows, int cols) noexcept {
  for (int i = 0; i < rows; ++i) out[i] = dot(w + static_cast<std::ptrdiff_t>(i) * cols, x, cols);
}
#endif

inline void rmsnorm(float* out, const float* x, const float* gain, int n) noexcept {
  float sum = 0;
  for (int i = 0; i < n; ++i) sum += x[i] * x[i];
  const float scale = 1.0f / std::sqrt(sum / static_cast<float>(n) + 1e-5f);
  for (int i = 0; i < n; ++i) out[i] = gain[i] * (scale * x[i]);
}

// In-place softmax; returns nothing, the weights sum to one.
inline void softmax(float* x, int n) noexcept {
  float top = x[0];
  for (int i = 1; i < n; ++i) top = x[i] > top ? x[i] : top;
  float sum = 0;
  for (int i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - top);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  for (int i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace detail

// What one layer's attention step sees. Cache rows are indexed by absolute
// position; rows 0..position are written (position is the current token's).
struct attention_step {
  int layer;
  int position;
  int n_heads;
  int n_kv_heads;
  int head_size;
  int seq_len;            // row stride of `probabilities`
  const float* query;     // [n_heads][head_size], rotated
  const float* keys;      // this layer's cache, [seq_len][n_kv_heads * head_size], rotated
  const float* values;    // same layout
  float* output;          // [n_heads][head_size]
  float* probabilities;   // [n_heads][seq_len] scratch; on return, head h's weight of
                          // the i-th attended position is probabilities[h * seq_len + i]
};

namespace detail {
// Attention over positions(i), i < count, KV head by KV head: each key and
// value row is loaded once for all the query heads of its group (GQA).
template <class PositionOf>
inline void attend(const attention_step& s, int count, PositionOf position_of) noexcept {
  const int kv_dim = s.n_kv_heads * s.head_size;
  const int group = s.n_heads / s.n_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_size));
  for (int kv = 0; kv < s.n_kv_heads; ++kv) {
    const int first = kv * group;
    const int kv_offset = kv * s.head_size;
    for (int i = 0; i < count; ++i) {
      const float* key = s.keys + static_cast<std::ptrdiff_t>(position_of(i)) * kv_dim + kv_offset;
      for (int g = 0; g < group; ++g)
        s.probabilities[static_cast<std::ptrdiff_t>(first + g) * s.seq_len + i] =
            dot(s.query + (first + g) * s.head_size, key, s.head_size) * scale;
    }
    for (int g = 0; g < group; ++g) {
      softmax(s.probabilities + static_cast<std::ptrdiff_t>(first + g) * s.seq_len, count);
      float* out = s.output + (first + g) * s.head_size;
      for (int d = 0; d < s.head_size; ++d) out[d] = 0;
    }
    for (int i = 0; i < count; ++i) {
      const float* value = s.values + static_cast<std::ptrdiff_t>(position_of(i)) * kv_dim + kv_offset;
      for (int g = 0; g < group; ++g)
        axpy(s.output + (first + g) * s.head_size, s.probabilities[static_cast<std::ptrdiff_t>(first + g) * s.seq_len + i],
             value, s.head_size);
    }
  }
}
}  // namespace detail

// Scaled dot-product attention of every head over the listed cache positions
// (any order, each at most once, count >= 1). A KV policy calls this with
// the positions it keeps.
inline void attend_positions(const attention_step& s, const int* positions, int count) noexcept {
  detail::attend(s, count, [positions](int i) { return positions[i]; });
}

// Full causal attention: every position 0..s.position, in order.
inline void dense_attention(const attention_step& s) noexcept {
  detail::attend(s, s.position + 1, [](int i) { return i; });
}

struct dense {
  void operator()(const attention_step& s) const noexcept { dense_attention(s); }
};

// All mutable memory of one sequence's decode: activations, the KV cache of
// every layer, the RoPE table, the logits. Built once; forward() allocates nothing.
class state {
 public:
  explicit state(const config& c)
      : cfg_(c),
        x_(static_cast<std::size_t>(c.dim)),
        xb_(static_cast<std::size_t>(c.dim)),
        xb2_(static_cast<std::size_t>(c.dim)),
        q_(static_cast<std::size_t>(c.dim)),
        hb_(static_cast<std::size_t>(c.hidden_dim)),
        hb2_(static_cast<std::size_t>(c.hidden_dim)),
        probabilities_(static_cast<std::size_t>(c.n_heads) * static_cast<std::size_t>(c.seq_len)),
        keys_(static_cast<std::size_t>(c.n_layers) * static_cast<std::size_t>(c.seq_len) * static_cast<std::size_t>(c.kv_dim())),
        values_(keys_.size()),
        rope_cos_(static_cast<std::size_t>(c.seq_len) * static_cast<std::size_t>(c.head_size() / 2)),
        rope_sin_(rope_cos_.size()),
        logits_(static_cast<std::size_t>(c.vocab_size)) {
    const int half = c.head_size() / 2;
    for (int p = 0; p < c.seq_len; ++p)
      for (int i = 0; i < half; ++i) {
        // In double: at position ~1000 a float angle would already be off by ~1e-4 rad.
        const double angle = p / std::pow(10000.0, 2.0 * i / c.head_size());
        rope_cos_[static_cast<std::size_t>(p * half + i)] = static_cast<float>(std::cos(angle));
        rope_sin_[static_cast<std::size_t>(p * half + i)] = static_cast<float>(std::sin(angle));
      }
  }

  const config& cfg() const { return cfg_; }
  float* keys(int layer) { return keys_.data() + layer_offset(layer); }
  float* values(int layer) { return values_.data() + layer_offset(layer); }
  const float* logits() const { return logits_.data(); }
  // Bytes of keys and values one cached token costs, over all layers.
  std::size_t kv_bytes_per_token() const {
    return 2 * sizeof(float) * static_cast<std::size_t>(cfg_.n_layers) * static_cast<std::size_t>(cfg_.kv_dim());
  }

  // Runs the token at `position` (0-based, < seq_len) through every layer,
  // calling attention(step) once per layer; returns the logits [vocab_size].
  template <class Attention>
  const float* forward(const checkpoint& model, int token, int position, Attention&& attention) noexcept(
      noexcept(attention(std::declval<const attention_step&>()))) {
    const config& c = cfg_;
    const int dim = c.dim, hidden = c.hidden_dim, kv_dim = c.kv_dim(), head = c.head_size();
    const float* embedding = model.token_embedding() + static_cast<std::ptrdiff_t>(token) * dim;
    for (int i = 0; i < dim; ++i) x_[static_cast<std::size_t>(i)] = embedding[i];

    for (int l = 0; l < c.n_layers; ++l) {
      const layer_weights& w = model.layer(l);
      float* k = keys(l) + static_cast<std::ptrdiff_t>(position) * kv_dim;
      float* v = values(l) + static_cast<std::ptrdiff_t>(position) * kv_dim;
      detail::rmsnorm(xb_.data(), x_.data(), w.rms_attention, dim);
      detail::matvec(q_.data(), w.wq, xb_.data(), dim, dim);
      detail::matvec(k, w.wk, xb_.data(), kv_dim, dim);
      detail::matvec(v, w.wv, xb_.data(), kv_dim, dim);
      rotate(q_.data(), dim, position);
      rotate(k, kv_dim, position);

      const attention_step step{l, position, c.n_heads, c.n_kv_heads, head, c.seq_len, q_.data(), keys(l), values(l),
                                xb_.data(), probabilities_.data()};
      attention(step);

      detail::matvec(xb2_.data(), w.wo, xb_.data(), dim, dim);
      for (int i = 0; i < dim; ++i) x_[static_cast<std::size_t>(i)] += xb2_[static_cast<std::size_t>(i)];

      detail::rmsnorm(xb_.data(), x_.data(), w.rms_ffn, dim);
      detail::matvec(hb_.data(), w.w1, xb_.data(), hidden, dim);
      detail::matvec(hb2_.data(), w.w3, xb_.data(), hidden, dim);
      for (int i = 0; i < hidden; ++i) {
        const float gate = hb_[static_cast<std::size_t>(i)];
        hb_[static_cast<std::size_t>(i)] = gate / (1.0f + std::exp(-gate)) * hb2_[static_cast<std::size_t>(i)];
      }
      detail::matvec(xb_.data(), w.w2, hb_.data(), dim, hidden);
      for (int i = 0; i < dim; ++i) x_[static_cast<std::size_t>(i)] += xb_[static_cast<std::size_t>(i)];
    }

    detail::rmsnorm(x_.data(), x_.data(), model.rms_final(), dim);
    detail::matvec(logits_.data(), model.classifier(), x_.data(), c.vocab_size, dim);
    return logits_.data();
  }

  const float* forward(const checkpoint& model, int token, int position) noexcept {
    return forward(model, token, position, dense{});
  }

 private:
  std::size_t layer_offset(int layer) const {
    return static_cast<std::size_t>(layer) * static_cast<std::size_t>(cfg_.seq_len) * static_cast<std::size_t>(cfg_.kv_dim());
  }

  // Rotates each head's pairs (2i, 2i+1) of `v` (length n) by the position's angles.
  void rotate(float* v, int n, int position) const noexcept {
    const int half = cfg_.head_size() / 2;
    const float* cosines = rope_cos_.data() + static_cast<std::ptrdiff_t>(position) * half;
    const float* sines = rope_sin_.data() + static_cast<std::ptrdiff_t>(position) * half;
    for (int base = 0; base < n; base += 2 * half)
      for (int i = 0; i < half; ++i) {
        const float a = v[base + 2 * i], b = v[base + 2 * i + 1];
        v[base + 2 * i] = a * cosines[i] - b * sines[i];
        v[base + 2 * i + 1] = a * sines[i] + b * cosines[i];
      }
  }

  config cfg_;
  std::vector<float> x_, xb_, xb2_, q_, hb_, hb2_, probabilities_, keys_, values_, rope_cos_, rope_sin_, logits_;
};

}  // namespace tiny_llama
