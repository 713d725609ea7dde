// Properties of sink.hpp (StreamingLLM): sinks + a sliding window, nothing else.
#include <gtest/gtest.h>

#include "kv_test_util.hpp"

namespace kv = lil::kv;
using kvtest::expect_error;

namespace {
kv::model_shape shape() { return kvtest::shape(4, 2, 16, 400); }
kv::sink_options opts(int budget, int sinks) {
  kv::sink_options o;
  o.budget = budget;
  o.sinks = sinks;
  return o;
}
}  // namespace

TEST(kv_sink, holds_exactly_the_sinks_and_the_most_recent_tokens) {
  const auto s = shape();
  kv::layer_cache cache(kv::policy_spec(opts(20, 4)), s, 0);
  const auto toks = kvtest::random_tokens(s, 300, 3);
  for (int t = 0; t < 300; ++t) {
    kvtest::run(cache, toks, t, t + 1);
    std::set<std::int64_t> want;
    for (int i = 0; i < std::min(t + 1, 4); ++i) want.insert(i);
    for (int i = std::max(4, t + 1 - 16); i <= t; ++i) want.insert(i);
    for (int h = 0; h < 2; ++h) {
      ASSERT_EQ(kvtest::held(cache.policy(), h), want) << "after token " << t;
      auto sel = kvtest::selected_positions(cache.policy(), h);
      EXPECT_EQ(std::set<std::int64_t>(sel.begin(), sel.end()), want);
    }
  }
}

TEST(kv_sink, budget_is_never_exceeded) {
  const auto s = shape();
  kv::sink_policy p(s, 0, opts(33, 4));
  std::vector<float> k(32, 0.0f), q(64, 0.0f);
  for (int t = 0; t < 400; ++t) {
    p.append(t, k.data());
    const auto sel = p.select(q.data());
    for (int h = 0; h < 2; ++h) {
      EXPECT_LE(sel.head(h).size, 33);
      EXPECT_LE(p.size(h), 33);
    }
  }
}

TEST(kv_sink, evicts_the_oldest_non_sink_token_and_reports_it) {
  kv::sink_policy p(shape(), 0, opts(6, 2));
  std::vector<float> k(32, 0.0f);
  for (int t = 0; t < 6; ++t) EXPECT_FALSE(p.append(t, k.data()).evicted(0));
  for (int t = 6; t < 30; ++t) {
    const auto& r = p.append(t, k.data());
    EXPECT_EQ(r.evicted_position[0], t - 4);  // window of 4: position t-4 is the oldest
    EXPECT_EQ(r.evicted_position[1], t - 4);
    EXPECT_EQ(p.position(0, r.slot[0]), t);
  }
}

TEST(kv_sink, zero_sinks_is_a_plain_sliding_window) {
  kv::sink_policy p(shape(), 0, opts(5, 0));
  std::vector<float> k(32, 0.0f);
  for (int t = 0; t < 50; ++t) p.append(t, k.data());
  EXPECT_EQ(kvtest::held(p, 0), (std::set<std::int64_t>{45, 46, 47, 48, 49}));
}

TEST(kv_sink, equals_dense_when_the_budget_covers_the_sequence) {
  const auto s = shape();
  const auto toks = kvtest::random_tokens(s, 120, 11);
  kv::layer_cache dense(kv::policy_spec::full(), s, 0);
  kv::layer_cache sink(kv::policy_spec(opts(120, 4)), s, 0);
  EXPECT_EQ(kvtest::run(dense, toks, 0, 120), kvtest::run(sink, toks, 0, 120));
}

TEST(kv_sink, budget_below_the_protected_sets_is_rejected) {
  expect_error([] { kv::sink_policy p(shape(), 0, opts(4, 4)); }, {"sink", "budget 4", "4 sinks"});
  expect_error([] { kv::sink_policy p(shape(), 0, opts(8, -1)); }, {"sinks -1"});
}
