// Properties of full.hpp: the dense baseline reads every token, in order.
#include <gtest/gtest.h>

#include "kv_test_util.hpp"

namespace kv = lil::kv;

namespace {
kv::model_shape shape() { return kvtest::shape(8, 2, 32, 100); }
}  // namespace

TEST(kv_full, token_i_goes_to_slot_i_and_nothing_is_evicted) {
  kv::full_policy p(shape());
  std::vector<float> k(64, 1.0f);
  for (int t = 0; t < 100; ++t) {
    const auto& r = p.append(1000 + t, k.data());
    for (int h = 0; h < 2; ++h) {
      EXPECT_EQ(r.slot[h], t);
      EXPECT_FALSE(r.evicted(h));
    }
  }
  EXPECT_EQ(p.position(1, 42), 1042);
  EXPECT_FALSE(p.requirements().weights);
}

TEST(kv_full, every_step_reads_every_token_in_arrival_order) {
  kv::full_policy p(shape());
  std::vector<float> k(64, 1.0f), q(256, 0.0f);
  for (int t = 0; t < 40; ++t) {
    p.append(t, k.data());
    const auto sel = p.select(q.data());
    for (int h = 0; h < 2; ++h) {
      ASSERT_EQ(sel.head(h).size, t + 1);
      for (std::int32_t i = 0; i <= t; ++i) EXPECT_EQ(sel.head(h)[i], i);
    }
  }
}

TEST(kv_full, outputs_match_double_precision_dense_attention) {
  const auto s = shape();
  kv::layer_cache cache(kv::policy_spec::full(), s, 0);
  const auto toks = kvtest::random_tokens(s, 60, 7);
  const auto outs = kvtest::run(cache, toks, 0, 60);
  for (int t : {0, 1, 17, 59}) {
    for (int q = 0; q < s.n_heads; ++q) {
      const int kvh = s.kv_head_of(q);
      std::vector<const float*> keys, values;
      for (int j = 0; j <= t; ++j) {
        keys.push_back(&toks[static_cast<std::size_t>(j)].k[static_cast<std::size_t>(kvh * s.head_dim)]);
        values.push_back(&toks[static_cast<std::size_t>(j)].v[static_cast<std::size_t>(kvh * s.head_dim)]);
      }
      const auto want = kvtest::naive_attention(&toks[static_cast<std::size_t>(t)].q[static_cast<std::size_t>(q * s.head_dim)],
                                                keys, values, s.head_dim);
      for (int j = 0; j < s.head_dim; ++j)
        EXPECT_NEAR(outs[static_cast<std::size_t>(t)][static_cast<std::size_t>(q * s.head_dim + j)],
                    want[static_cast<std::size_t>(j)], 1e-5);
    }
  }
}

TEST(kv_full, memory_reports_max_context_reserved) {
  const auto s = shape();
  kv::full_policy p(s);
  const auto m = p.memory();
  EXPECT_EQ(m.kv_reserved_bytes, 100u * 2u * 32u * 2u * 4u);
  EXPECT_EQ(m.kv_bytes, 0u);
}
