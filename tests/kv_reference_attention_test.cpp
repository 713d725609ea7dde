// Properties of reference_attention.hpp: agreement with a double-precision
// oracle over gathered slots, the GQA head mapping, head dims up to 256.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>

#include "kv_test_util.hpp"

namespace kv = lil::kv;

namespace {
struct fixture {
  int n_heads, n_kv, d, cap;
  kv::kv_store store;
  std::vector<float> q, out, weights;
  std::vector<std::vector<std::int32_t>> sel;  // per kv head
  std::vector<const std::int32_t*> heads;
  std::vector<std::int32_t> counts;

  fixture(int heads_, int kv_, int d_, int cap_, unsigned seed)
      : n_heads(heads_), n_kv(kv_), d(d_), cap(cap_), store(kv_, cap_, d_),
        q(static_cast<std::size_t>(heads_ * d_)), out(q.size()),
        weights(static_cast<std::size_t>(heads_ * cap_)), sel(static_cast<std::size_t>(kv_)) {
    std::mt19937 gen(seed);
    std::normal_distribution<float> nd;
    std::vector<float> k(static_cast<std::size_t>(d)), v(k.size());
    for (int h = 0; h < n_kv; ++h)
      for (int s = 0; s < cap; ++s) {
        for (auto& x : k) x = nd(gen);
        for (auto& x : v) x = nd(gen);
        store.write(h, s, k.data(), v.data());
      }
    for (auto& x : q) x = nd(gen);
    // Scattered, different selections per KV head.
    for (int h = 0; h < n_kv; ++h)
      for (int s = h % 3; s < cap; s += 2 + h % 2) sel[static_cast<std::size_t>(h)].push_back(s);
    for (auto& v2 : sel) {
      heads.push_back(v2.data());
      counts.push_back(static_cast<std::int32_t>(v2.size()));
    }
  }
  kv::attention_args args() {
    kv::attention_args a;
    a.query = q.data();
    a.out = out.data();
    a.weights = weights.data();
    a.weights_stride = static_cast<std::size_t>(cap);
    a.weights_wanted = true;
    a.selected = kv::slot_lists(heads.data(), counts.data(), n_kv);
    a.n_heads = n_heads;
    a.n_kv_heads = n_kv;
    a.head_dim = d;
    return a;
  }
  void expect_matches_oracle(double tol) {
    const int group = n_heads / n_kv;
    for (int qh = 0; qh < n_heads; ++qh) {
      const int h = qh / group;  // the mapping under test, written independently
      std::vector<const float*> keys, values;
      for (std::int32_t s : sel[static_cast<std::size_t>(h)]) {
        keys.push_back(store.key(h, s));
        values.push_back(store.value(h, s));
      }
      std::vector<double> w;
      const auto want = kvtest::naive_attention(&q[static_cast<std::size_t>(qh * d)], keys, values, d, &w);
      for (int j = 0; j < d; ++j) ASSERT_NEAR(out[static_cast<std::size_t>(qh * d + j)], want[static_cast<std::size_t>(j)], tol);
      for (std::size_t i = 0; i < w.size(); ++i) ASSERT_NEAR(weights[static_cast<std::size_t>(qh * cap) + i], w[i], tol);
    }
  }
};
}  // namespace

TEST(kv_reference_attention, matches_a_double_precision_oracle_for_head_dims_up_to_256) {
  for (int d : {1, 7, 8, 9, 64, 100, 128, 256}) {
    fixture f(8, 2, d, 97, static_cast<unsigned>(d));
    kv::attend_reference(f.args(), f.store.view());
    f.expect_matches_oracle(2e-5);
  }
}

TEST(kv_reference_attention, gqa_mapping_is_right_for_32_8_and_8_1_heads) {
  for (auto heads : {std::pair<int, int>{32, 8}, std::pair<int, int>{8, 1}}) {
    fixture f(heads.first, heads.second, 16, 40, 3);
    // Value rows of KV head h are all h + 1: every output must name its KV head.
    std::vector<float> k(16), v(16);
    for (int h = 0; h < heads.second; ++h)
      for (int s = 0; s < 40; ++s) {
        std::copy(f.store.key(h, s), f.store.key(h, s) + 16, k.begin());
        std::fill(v.begin(), v.end(), static_cast<float>(h + 1));
        f.store.write(h, s, k.data(), v.data());
      }
    kv::attend_reference(f.args(), f.store.view());
    const int group = heads.first / heads.second;
    for (int qh = 0; qh < heads.first; ++qh)
      for (int j = 0; j < 16; ++j)
        EXPECT_NEAR(f.out[static_cast<std::size_t>(qh * 16 + j)], static_cast<float>(qh / group + 1), 1e-5)
            << heads.first << "/" << heads.second << " query head " << qh;
    f.expect_matches_oracle(2e-5);
  }
}

TEST(kv_reference_attention, weights_are_probabilities) {
  fixture f(4, 2, 32, 64, 5);
  kv::attend_reference(f.args(), f.store.view());
  for (int qh = 0; qh < 4; ++qh) {
    const auto n = f.sel[static_cast<std::size_t>(qh / 2)].size();
    const float* w = &f.weights[static_cast<std::size_t>(qh * 64)];
    EXPECT_NEAR(std::accumulate(w, w + n, 0.0), 1.0, 1e-5);
    for (std::size_t i = 0; i < n; ++i) EXPECT_GE(w[i], 0.0f);
  }
}

TEST(kv_reference_attention, an_explicit_scale_replaces_one_over_sqrt_d) {
  fixture a(4, 2, 16, 30, 6), b(4, 2, 16, 30, 6);
  for (auto& x : b.q) x *= 0.5f;  // (q / 2) at scale 0.5 is q at scale 0.25
  kv::attend_reference(a.args(), a.store.view(), 0.25f);
  kv::attend_reference(b.args(), b.store.view(), 0.5f);
  for (std::size_t i = 0; i < a.out.size(); ++i) EXPECT_NEAR(a.out[i], b.out[i], 1e-5);
}

TEST(kv_reference_attention, an_empty_selection_gives_zero_output) {
  fixture f(4, 2, 8, 10, 7);
  f.counts.assign(2, 0);
  std::fill(f.out.begin(), f.out.end(), 9.0f);
  kv::attend_reference(f.args(), f.store.view());
  for (float x : f.out) EXPECT_EQ(x, 0.0f);
}

TEST(kv_reference_attention, its_exp_is_accurate_over_the_softmax_range) {
  double worst = 0;
  for (float x = 0.0f; x > -87.0f; x -= 0.00731f) {
    const double want = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::fabs(kv::detail::exp_nonpositive(x) - want) / want);
  }
  EXPECT_LT(worst, 4e-7);
  EXPECT_EQ(kv::detail::exp_nonpositive(0.0f), 1.0f);
  EXPECT_GT(kv::detail::exp_nonpositive(-1000.0f), 0.0f);
  EXPECT_LT(kv::detail::exp_nonpositive(-1000.0f), 1e-37f);
  EXPECT_TRUE(std::isnan(kv::detail::exp_nonpositive(std::nanf(""))));
}
