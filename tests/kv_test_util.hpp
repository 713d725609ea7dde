// Shared helpers of the kv tests: random tokens, a double-precision attention
// oracle, and a check that a call throws lil::error naming what it should.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "lil/kv/cache.hpp"

namespace kvtest {

// A model shape for policy tests (one layer unless asked).
inline lil::kv::model_shape shape(int heads, int kv_heads, int d = 16, int ctx = 512, int layers = 1) {
  lil::kv::model_shape s;
  s.n_layers = layers;
  s.n_heads = heads;
  s.n_kv_heads = kv_heads;
  s.head_dim = d;
  s.max_context = ctx;
  return s;
}

struct token {
  std::vector<float> q, k, v;  // [n_heads][d], [n_kv][d], [n_kv][d]
};

inline std::vector<token> random_tokens(const lil::kv::model_shape& s, int n, unsigned seed, float q_scale = 1.0f) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<token> out(static_cast<std::size_t>(n));
  for (auto& t : out) {
    t.q.resize(static_cast<std::size_t>(s.n_heads * s.head_dim));
    t.k.resize(static_cast<std::size_t>(s.n_kv_heads * s.head_dim));
    t.v.resize(t.k.size());
    for (auto& x : t.q) x = q_scale * nd(gen);
    for (auto& x : t.k) x = nd(gen);
    for (auto& x : t.v) x = nd(gen);
  }
  return out;
}

// Runs tokens [from, to) through layer `layer` of `cache` (positions = index),
// calling prefill_done() after token prefill_len - 1 when prefill_len > 0.
// Returns the outputs, one [n_heads][d] vector per token.
inline std::vector<std::vector<float>> run(lil::kv::layer_cache& cache, const std::vector<token>& toks, int from,
                                           int to, int prefill_len = 0) {
  const auto& s = cache.policy().shape();
  std::vector<std::vector<float>> outs;
  for (int t = from; t < to; ++t) {
    const auto& tk = toks[static_cast<std::size_t>(t)];
    std::vector<float> out(static_cast<std::size_t>(s.n_heads * s.head_dim));
    cache.step(t, tk.q.data(), tk.k.data(), tk.v.data(), out.data());
    if (prefill_len > 0 && t == prefill_len - 1) cache.prefill_done();
    outs.push_back(std::move(out));
  }
  return outs;
}

// The positions a KV head holds.
inline std::set<std::int64_t> held(const lil::kv::policy& p, int kv) {
  std::set<std::int64_t> out;
  for (std::int32_t s : p.live_slots(kv)) out.insert(p.position(kv, s));
  return out;
}

// The positions the last selection of a KV head reads.
inline std::vector<std::int64_t> selected_positions(const lil::kv::policy& p, int kv) {
  std::vector<std::int64_t> out;
  for (std::int32_t s : p.last_selection().head(kv)) out.push_back(p.position(kv, s));
  return out;
}

// Double-precision attention of one query head over explicit key/value rows.
inline std::vector<double> naive_attention(const float* q, const std::vector<const float*>& keys,
                                           const std::vector<const float*>& values, int d,
                                           std::vector<double>* weights = nullptr) {
  std::vector<double> w(keys.size());
  double m = -INFINITY;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    double dot = 0;
    for (int j = 0; j < d; ++j) dot += static_cast<double>(q[j]) * keys[i][j];
    w[i] = dot / std::sqrt(static_cast<double>(d));
    m = std::max(m, w[i]);
  }
  double sum = 0;
  for (auto& x : w) sum += (x = std::exp(x - m));
  std::vector<double> out(static_cast<std::size_t>(d), 0.0);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    w[i] /= sum;
    for (int j = 0; j < d; ++j) out[static_cast<std::size_t>(j)] += w[i] * values[i][j];
  }
  if (weights) *weights = w;
  return out;
}

template <class F>
void expect_error(F&& f, std::initializer_list<const char*> parts) {
  try {
    f();
    ADD_FAILURE() << "expected lil::error";
  } catch (const lil::error& e) {
    const std::string msg = e.what();
    for (const char* p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "message \"" << msg << "\" lacks \"" << p << "\"";
  }
}

}  // namespace kvtest
