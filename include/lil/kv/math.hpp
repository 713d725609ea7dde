// lil/kv/math.hpp - the few fp32 loops attention and the policies need (internal).
//
// Every reduction runs in eight lanes (lane j takes elements j, j+8, ...) and
// ends with the same fixed sum of the lanes, so a result does not depend on
// the target's vector width, and dot() equals dot_rows() bit for bit: weights
// recomputed one head at a time equal the reference attention's. With GCC or
// Clang the lanes are native vectors (one 8-float AVX vector, or two 4-float
// SSE/NEON-width ones otherwise), so the loops vectorize at -O2, without
// -ffast-math; a wider type than the target has would be split badly by the
// compiler, hence the two layouts. Other compilers get the same arithmetic
// in plain loops (LIL_KV_SCALAR_MATH forces that path).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if (defined(__GNUC__) || defined(__clang__)) && !defined(LIL_KV_SCALAR_MATH)
#define LIL_KV_VECTOR_MATH 1
#endif

namespace lil::kv::detail {

#if defined(LIL_KV_VECTOR_MATH)
#if defined(__AVX__)
constexpr int vec_width = 8;
typedef float vfloat __attribute__((vector_size(32), aligned(4)));
typedef std::int32_t vint __attribute__((vector_size(32), aligned(4)));
#else
constexpr int vec_width = 4;
typedef float vfloat __attribute__((vector_size(16), aligned(4)));
typedef std::int32_t vint __attribute__((vector_size(16), aligned(4)));
#endif
typedef std::uint16_t vhalf __attribute__((vector_size(vec_width * 2), aligned(2)));
typedef std::uint32_t vuint __attribute__((vector_size(vec_width * 4), aligned(4)));
inline vfloat load(const float* p) noexcept { return *reinterpret_cast<const vfloat*>(p); }
// bf16 values are the high halves of fp32 ones.
inline vfloat load(const std::uint16_t* p) noexcept {
  return (vfloat)(__builtin_convertvector(*reinterpret_cast<const vhalf*>(p), vuint) << 16);
}
// 2 x vec_width bf16 values as two fp32 vectors: the even-indexed ones and
// the odd-indexed ones. Read as 32-bit words, each word holds an even value
// in its low half and the next one in its high half (little-endian), so
// widening is a shift and a mask per vec_width values: far cheaper than
// load()'s zero-extension, which SSE2 has to build from unpacks.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define LIL_KV_BF16_PAIRS 1
inline void load_bf16_pairs(const std::uint16_t* p, vfloat& even, vfloat& odd) noexcept {
  vuint w;
  std::memcpy(&w, p, sizeof w);
  even = (vfloat)(w << 16);
  odd = (vfloat)(w & 0xFFFF0000u);
}
#endif
inline void store(float* p, vfloat v) noexcept { *reinterpret_cast<vfloat*>(p) = v; }
inline vfloat splat(float x) noexcept { return vfloat{} + x; }
// Where mask lanes are all ones take a, else b (vector casts keep the bits).
inline vfloat select(vint mask, vfloat a, vfloat b) noexcept { return (vfloat)(((vint)a & mask) | ((vint)b & ~mask)); }
#endif

// bf16: the high 16 bits of an fp32. Rounding toward +inf (for maxima) or
// -inf (for minima) keeps a stored bound on the right side of the true one.
inline float from_bf16(std::uint16_t h) noexcept {
  const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
inline std::uint16_t bf16_rounded(float x, bool up) noexcept {
  std::uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  std::uint16_t h = static_cast<std::uint16_t>(bits >> 16);  // toward zero
  const bool exact = (bits & 0xFFFFu) == 0;
  const bool negative = (bits >> 31) != 0;
  const bool is_nan = (bits & 0x7FFFFFFFu) > 0x7F800000u;
  // Away from zero is up for positives and down for negatives.
  if (!exact && !is_nan && up != negative) ++h;
  return h;
}

// Eight float accumulators.
struct lanes8 {
#if defined(LIL_KV_VECTOR_MATH)
  vfloat v[8 / vec_width] = {};
  // lane j += a[j] * b[j]
  void add_product(const float* a, const float* b) noexcept {
    for (int k = 0; k < 8 / vec_width; ++k) v[k] += load(a + k * vec_width) * load(b + k * vec_width);
  }
  // lane j += a[j] * b[j] + c[j] * d[j]
  void add_products(const float* a, const float* b, const float* c, const float* d) noexcept {
    for (int k = 0; k < 8 / vec_width; ++k)
      v[k] += load(a + k * vec_width) * load(b + k * vec_width) + load(c + k * vec_width) * load(d + k * vec_width);
  }
  // lane j += a[j] * b[j] + c[j] * d[j], b and d in bf16
  void add_products(const float* a, const std::uint16_t* b, const float* c, const std::uint16_t* d) noexcept {
    for (int k = 0; k < 8 / vec_width; ++k)
      v[k] += load(a + k * vec_width) * load(b + k * vec_width) + load(c + k * vec_width) * load(d + k * vec_width);
  }
  void get(float* out) const noexcept { std::memcpy(out, v, 8 * sizeof(float)); }
#else
  float l[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  void add_product(const float* a, const float* b) noexcept {
    for (int j = 0; j < 8; ++j) l[j] += a[j] * b[j];
  }
  void add_products(const float* a, const float* b, const float* c, const float* d) noexcept {
    for (int j = 0; j < 8; ++j) l[j] += a[j] * b[j] + c[j] * d[j];
  }
  void add_products(const float* a, const std::uint16_t* b, const float* c, const std::uint16_t* d) noexcept {
    for (int j = 0; j < 8; ++j) l[j] += a[j] * from_bf16(b[j]) + c[j] * from_bf16(d[j]);
  }
  void get(float* out) const noexcept { std::memcpy(out, l, sizeof l); }
#endif
  float sum() const noexcept {
    float l8[8];
    get(l8);
    return ((l8[0] + l8[1]) + (l8[2] + l8[3])) + ((l8[4] + l8[5]) + (l8[6] + l8[7]));
  }
};

inline float dot(const float* a, const float* b, int n) noexcept {
  lanes8 acc;
  int i = 0;
  for (; i + 8 <= n; i += 8) acc.add_product(a + i, b + i);
  float s = acc.sum();
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

// out[r] = dot(q + r * q_stride, k, n) for r < rows: one pass over k serves
// four query rows (a GQA group), bit-identical to dot().
inline void dot_rows(const float* q, std::size_t q_stride, int rows, const float* k, int n, float* out) noexcept {
  int r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float* q0 = q + static_cast<std::size_t>(r) * q_stride;
    const float* q1 = q0 + q_stride;
    const float* q2 = q1 + q_stride;
    const float* q3 = q2 + q_stride;
    lanes8 a0, a1, a2, a3;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
      a0.add_product(q0 + i, k + i);
      a1.add_product(q1 + i, k + i);
      a2.add_product(q2 + i, k + i);
      a3.add_product(q3 + i, k + i);
    }
    float s0 = a0.sum(), s1 = a1.sum(), s2 = a2.sum(), s3 = a3.sum();
    for (; i < n; ++i) {
      s0 += q0[i] * k[i];
      s1 += q1[i] * k[i];
      s2 += q2[i] * k[i];
      s3 += q3[i] * k[i];
    }
    out[r] = s0;
    out[r + 1] = s1;
    out[r + 2] = s2;
    out[r + 3] = s3;
  }
  for (; r < rows; ++r) out[r] = dot(q + static_cast<std::size_t>(r) * q_stride, k, n);
}

// y += a * x
inline void axpy(float* y, float a, const float* x, int n) noexcept {
  int i = 0;
#if defined(LIL_KV_VECTOR_MATH)
  for (; i + vec_width <= n; i += vec_width) store(y + i, load(y + i) + a * load(x + i));
#endif
  for (; i < n; ++i) y[i] += a * x[i];
}

// y += (a[0] x0 + a[1] x1) + (a[2] x2 + a[3] x3): four rows per pass over y.
inline void axpy4(float* y, const float* a, const float* x0, const float* x1, const float* x2, const float* x3,
                  int n) noexcept {
  const float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
  int i = 0;
#if defined(LIL_KV_VECTOR_MATH)
  for (; i + vec_width <= n; i += vec_width)
    store(y + i, load(y + i) + ((a0 * load(x0 + i) + a1 * load(x1 + i)) + (a2 * load(x2 + i) + a3 * load(x3 + i))));
#endif
  for (; i < n; ++i) y[i] += (a0 * x0[i] + a1 * x1[i]) + (a2 * x2[i] + a3 * x3[i]);
}

// e^x for x <= 0 (softmax inputs once the max is subtracted), within about
// 3e-7 relative. Inputs below -87 give about 1.6e-38 instead of a denormal;
// NaN stays NaN. Range reduction x = n ln2 + r, |r| <= ln2/2 (n rounded by
// truncating x/ln2 - 0.5, which -ffast-math cannot fold away), a degree-7
// polynomial for e^r, and 2^n built in the exponent bits.
constexpr float exp_floor = -87.0f;
constexpr float log2_e = 1.44269504088896341f;
constexpr float ln2_hi = 0.693145751953125f;  // few mantissa bits: n * ln2_hi is exact
constexpr float ln2_lo = 1.428606820309417232e-6f;
constexpr float exp_c7 = 1.0f / 5040.0f, exp_c6 = 1.0f / 720.0f, exp_c5 = 1.0f / 120.0f, exp_c4 = 1.0f / 24.0f,
                exp_c3 = 1.0f / 6.0f, exp_c2 = 0.5f;

inline float exp_nonpositive(float x) noexcept {
  x = x < exp_floor ? exp_floor : x;
  const std::int32_t n = static_cast<std::int32_t>(x * log2_e - 0.5f);
  const float nf = static_cast<float>(n);
  const float r = (x - nf * ln2_hi) - nf * ln2_lo;
  const float p = ((((((exp_c7 * r + exp_c6) * r + exp_c5) * r + exp_c4) * r + exp_c3) * r + exp_c2) * r + 1.0f) * r + 1.0f;
  const std::int32_t bits = (n + 127) * (1 << 23);
  float two_n;
  std::memcpy(&two_n, &bits, sizeof two_n);
  return p * two_n;
}

#if defined(LIL_KV_VECTOR_MATH)
// exp_nonpositive() on a vector, the same operations lane by lane.
inline vfloat exp_nonpositive(vfloat x) noexcept {
  x = select(x < exp_floor, splat(exp_floor), x);
  const vint n = __builtin_convertvector(x * log2_e - 0.5f, vint);
  const vfloat nf = __builtin_convertvector(n, vfloat);
  const vfloat r = (x - nf * ln2_hi) - nf * ln2_lo;
  const vfloat p = ((((((exp_c7 * r + exp_c6) * r + exp_c5) * r + exp_c4) * r + exp_c3) * r + exp_c2) * r + 1.0f) * r + 1.0f;
  const vint bits = (n + 127) * (1 << 23);
  return p * (vfloat)bits;
}
#endif

// Turns scores into softmax probabilities in place (max-subtracted).
inline void softmax(float* x, std::int32_t n) noexcept {
  if (n <= 0) return;
  float m = x[0];
  std::int32_t i = 0;
#if defined(LIL_KV_VECTOR_MATH)
  {
    vfloat vm = splat(x[0]);
    for (; i + vec_width <= n; i += vec_width) {
      const vfloat v = load(x + i);
      vm = select(v > vm, v, vm);
    }
    for (int j = 0; j < vec_width; ++j) m = vm[j] > m ? vm[j] : m;
  }
#endif
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;

  // The sum runs in eight lanes, like every other reduction here.
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  i = 0;
#if defined(LIL_KV_VECTOR_MATH)
  {
    vfloat sum[8 / vec_width] = {};
    for (; i + 8 <= n; i += 8)
      for (int k = 0; k < 8 / vec_width; ++k) {
        const vfloat e = exp_nonpositive(load(x + i + k * vec_width) - m);
        store(x + i + k * vec_width, e);
        sum[k] += e;
      }
    std::memcpy(lane, sum, sizeof lane);
  }
#else
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) {
      x[i + j] = exp_nonpositive(x[i + j] - m);
      lane[j] += x[i + j];
    }
#endif
  float sum = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
  for (; i < n; ++i) {
    x[i] = exp_nonpositive(x[i] - m);
    sum += x[i];
  }
  const float inv = 1.0f / sum;
  i = 0;
#if defined(LIL_KV_VECTOR_MATH)
  for (; i + vec_width <= n; i += vec_width) store(x + i, load(x + i) * inv);
#endif
  for (; i < n; ++i) x[i] *= inv;
}

// The smallest of v[0..n) (NaN-free input).
inline float min_value(const float* v, std::int32_t n) noexcept {
  float m = v[0];
  std::int32_t i = 0;
#if defined(LIL_KV_VECTOR_MATH)
  vfloat vm = splat(v[0]);
  for (; i + vec_width <= n; i += vec_width) {
    const vfloat x = load(v + i);
    vm = select(x < vm, x, vm);
  }
  for (int j = 0; j < vec_width; ++j) m = vm[j] < m ? vm[j] : m;
#endif
  for (; i < n; ++i) m = v[i] < m ? v[i] : m;
  return m;
}

}  // namespace lil::kv::detail
