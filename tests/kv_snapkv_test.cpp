// Properties of snapkv.hpp: the prompt compression against a brute-force
// reference, the window, the budget during generation, freed slots.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <map>

#include "kv_test_util.hpp"

namespace kv = lil::kv;
using kvtest::expect_error;

namespace {
using kvtest::shape;
kv::snapkv_options opts(int budget, int window, int kernel, kv::pooling pool) {
  kv::snapkv_options o;
  o.budget = budget;
  o.window = window;
  o.kernel = kernel;
  o.pool = pool;
  return o;
}

// Per KV head, position -> folded weight, for one prefill step.
using step_row = std::vector<std::map<std::int64_t, float>>;

step_row capture(const kv::policy& p, const kv::weights_view& w) {
  const int g = p.shape().group_size();
  step_row row(static_cast<std::size_t>(p.shape().n_kv_heads));
  for (int kvh = 0; kvh < p.shape().n_kv_heads; ++kvh) {
    const auto sel = p.last_selection().head(kvh);
    for (std::int32_t i = 0; i < sel.size; ++i) {
      float f = w.row(kvh * g)[i];
      for (int q = kvh * g + 1; q < (kvh + 1) * g; ++q) f += w.row(q)[i];
      row[static_cast<std::size_t>(kvh)][p.position(kvh, sel[i])] = f / static_cast<float>(g);
    }
  }
  return row;
}

// What SnapKV keeps of a prompt of n tokens, written the obvious way.
std::set<std::int64_t> reference_keep(const std::deque<step_row>& rows, int kvh, int n, const kv::snapkv_options& o) {
  const int budget = o.budget.tokens(), prefix = n - o.window;
  std::vector<float> score(static_cast<std::size_t>(prefix), 0.0f), pooled(score.size());
  for (const auto& r : rows)  // oldest first
    for (int pos = 0; pos < prefix; ++pos) {
      auto it = r[static_cast<std::size_t>(kvh)].find(pos);
      if (it != r[static_cast<std::size_t>(kvh)].end()) score[static_cast<std::size_t>(pos)] += it->second;
    }
  for (int pos = 0; pos < prefix; ++pos) {
    const int lo = std::max(0, pos - o.kernel / 2), hi = std::min(prefix - 1, pos + o.kernel / 2);
    float acc = o.pool == kv::pooling::max ? score[static_cast<std::size_t>(lo)] : 0.0f;
    for (int j = lo; j <= hi; ++j)
      acc = o.pool == kv::pooling::max ? std::max(acc, score[static_cast<std::size_t>(j)]) : acc + score[static_cast<std::size_t>(j)];
    pooled[static_cast<std::size_t>(pos)] = o.pool == kv::pooling::max ? acc : acc / static_cast<float>(o.kernel);
  }
  std::vector<int> order(static_cast<std::size_t>(prefix));
  for (int i = 0; i < prefix; ++i) order[static_cast<std::size_t>(i)] = i;
  std::sort(order.begin(), order.end(), [&](int a, int b) {
    return pooled[static_cast<std::size_t>(a)] > pooled[static_cast<std::size_t>(b)] ||
           (pooled[static_cast<std::size_t>(a)] == pooled[static_cast<std::size_t>(b)] && a < b);
  });
  std::set<std::int64_t> keep(order.begin(), order.begin() + (budget - o.window));
  for (int pos = prefix; pos < n; ++pos) keep.insert(pos);
  return keep;
}

void check_against_reference(const kv::model_shape& s, const kv::snapkv_options& o, int prompt, unsigned seed) {
  kv::layer_cache cache(kv::policy_spec(o), s, 0);
  const auto toks = kvtest::random_tokens(s, prompt, seed, 3.0f);
  std::deque<step_row> rows;
  for (int t = 0; t < prompt; ++t) {
    kvtest::run(cache, toks, t, t + 1);
    ASSERT_TRUE(cache.policy().requirements().weights);
    rows.push_back(capture(cache.policy(), cache.last_weights()));
    if (static_cast<int>(rows.size()) > o.window) rows.pop_front();
  }
  const auto result = cache.prefill_done();
  EXPECT_FALSE(cache.policy().requirements().weights);
  for (int kvh = 0; kvh < s.n_kv_heads; ++kvh) {
    const auto want = reference_keep(rows, kvh, prompt, o);
    ASSERT_EQ(kvtest::held(cache.policy(), kvh), want) << "kv head " << kvh;
    EXPECT_EQ(result.freed.head(kvh).size, prompt - o.budget.tokens());
    for (std::int32_t slot : result.freed.head(kvh)) EXPECT_FALSE(cache.policy().is_live(kvh, slot));
  }
}
}  // namespace

TEST(kv_snapkv, keeps_exactly_what_a_brute_force_reference_keeps_avg_pooling) {
  check_against_reference(shape(4, 2), opts(40, 8, 5, kv::pooling::avg), 150, 1);
}

TEST(kv_snapkv, keeps_exactly_what_a_brute_force_reference_keeps_max_pooling) {
  check_against_reference(shape(4, 2), opts(40, 8, 7, kv::pooling::max), 150, 2);
}

TEST(kv_snapkv, brute_force_agreement_holds_for_32_8_and_8_1_heads) {
  check_against_reference(shape(32, 8, 8), opts(24, 4, 3, kv::pooling::avg), 90, 3);
  check_against_reference(shape(8, 1, 8), opts(24, 4, 3, kv::pooling::avg), 90, 4);
}

TEST(kv_snapkv, the_window_survives_and_generation_appends_without_eviction) {
  const auto s = shape(4, 2);
  kv::layer_cache cache(kv::policy_spec(opts(30, 8, 5, kv::pooling::avg)), s, 0);
  const auto toks = kvtest::random_tokens(s, 200, 5);
  kvtest::run(cache, toks, 0, 100, 100);
  for (int kvh = 0; kvh < 2; ++kvh) {
    const auto h = kvtest::held(cache.policy(), kvh);
    EXPECT_EQ(h.size(), 30u);
    for (int pos = 92; pos < 100; ++pos) EXPECT_TRUE(h.count(pos));
  }
  for (int t = 100; t < 200; ++t) {
    kvtest::run(cache, toks, t, t + 1);
    for (int kvh = 0; kvh < 2; ++kvh) {
      EXPECT_EQ(cache.policy().size(kvh), 30 + (t - 99)) << "paper mode: budget + generated";
      EXPECT_EQ(cache.policy().last_selection().head(kvh).size, 30 + (t - 99));
    }
  }
}

TEST(kv_snapkv, evict_generated_holds_the_budget_and_keeps_the_chosen_prompt_tokens) {
  const auto s = shape(4, 2);
  auto o = opts(30, 8, 5, kv::pooling::avg);
  o.evict_generated = true;
  kv::layer_cache cache(kv::policy_spec(o), s, 0);
  const auto toks = kvtest::random_tokens(s, 300, 6);
  kvtest::run(cache, toks, 0, 100, 100);
  std::vector<std::set<std::int64_t>> chosen(2);
  for (int kvh = 0; kvh < 2; ++kvh)
    for (std::int32_t slot : cache.policy().live_slots(kvh))
      if (cache.policy().position(kvh, slot) < 92) chosen[static_cast<std::size_t>(kvh)].insert(cache.policy().position(kvh, slot));
  for (int t = 100; t < 300; ++t) {
    kvtest::run(cache, toks, t, t + 1);
    for (int kvh = 0; kvh < 2; ++kvh) {
      const auto h = kvtest::held(cache.policy(), kvh);
      ASSERT_EQ(h.size(), 30u);
      for (auto pos : chosen[static_cast<std::size_t>(kvh)]) ASSERT_TRUE(h.count(pos));
      for (int r = t - 7; r <= t; ++r) ASSERT_TRUE(h.count(r)) << "the window slides: " << r;
    }
  }
}

TEST(kv_snapkv, a_prompt_within_the_budget_is_kept_whole) {
  const auto s = shape(4, 2);
  kv::layer_cache cache(kv::policy_spec(opts(64, 8, 5, kv::pooling::avg)), s, 0);
  const auto toks = kvtest::random_tokens(s, 50, 7);
  kvtest::run(cache, toks, 0, 50, 50);
  EXPECT_EQ(cache.policy().size(0), 50);
  EXPECT_EQ(cache.policy().size(1), 50);
}

TEST(kv_snapkv, equals_dense_when_the_budget_covers_the_sequence) {
  const auto s = shape(8, 2);
  const auto toks = kvtest::random_tokens(s, 150, 8);
  kv::layer_cache dense(kv::policy_spec::full(), s, 0);
  kv::layer_cache snap(kv::policy_spec::snapkv(150), s, 0);
  EXPECT_EQ(kvtest::run(dense, toks, 0, 150), kvtest::run(snap, toks, 0, 150, 80));
}

TEST(kv_snapkv, budget_below_the_window_and_bad_kernels_are_rejected) {
  expect_error([] { kv::snapkv_policy p(shape(4, 2), 0, opts(32, 32, 5, kv::pooling::avg)); },
               {"snapkv", "budget 32", "window 32"});
  expect_error([] { kv::snapkv_policy p(shape(4, 2), 0, opts(64, 32, 4, kv::pooling::avg)); }, {"kernel 4", "odd"});
  expect_error([] { kv::snapkv_policy p(shape(4, 2), 0, opts(64, 0, 5, kv::pooling::avg)); }, {"window 0"});
}

TEST(kv_snapkv, compaction_moves_each_tokens_kv_with_it_to_a_dense_prefix) {
  const auto s = shape(4, 2);
  kv::layer_cache cache(kv::policy_spec(opts(30, 8, 5, kv::pooling::avg)), s, 0);
  const auto toks = kvtest::random_tokens(s, 130, 14, 3.0f);
  kvtest::run(cache, toks, 0, 100, 100);
  kvtest::run(cache, toks, 100, 130);
  for (int kvh = 0; kvh < 2; ++kvh) {
    const auto live = cache.policy().live_slots(kvh);
    ASSERT_EQ(live.size, 60);
    for (std::int32_t i = 0; i < live.size; ++i) {
      ASSERT_EQ(live[i], i) << "survivors and new tokens fill the prefix";
      const auto pos = cache.policy().position(kvh, i);
      const auto& tk = toks[static_cast<std::size_t>(pos)];
      for (int j = 0; j < 16; ++j) {
        ASSERT_EQ(cache.store().key(kvh, i)[j], tk.k[static_cast<std::size_t>(kvh * 16 + j)]);
        ASSERT_EQ(cache.store().value(kvh, i)[j], tk.v[static_cast<std::size_t>(kvh * 16 + j)]);
      }
    }
  }
}

TEST(kv_snapkv, moves_never_overwrite_a_row_still_to_be_moved) {
  const auto s = shape(4, 2);
  kv::snapkv_policy p(s, 0, opts(20, 4, 3, kv::pooling::max));
  std::vector<float> k(32, 0.0f), q(64, 0.0f);
  for (int t = 0; t < 90; ++t) {
    p.append(t, k.data());
    p.select(q.data());
    std::vector<float> w(static_cast<std::size_t>(4 * p.max_selected()), 0.0f);
    for (int qh = 0; qh < 4; ++qh)
      for (int i = 0; i <= t; ++i) w[static_cast<std::size_t>(qh * p.max_selected() + i)] = static_cast<float>((i * 7919 + qh) % 97);
    p.observe({w.data(), static_cast<std::size_t>(p.max_selected())});
  }
  const auto r = p.prefill_done();
  for (int kvh = 0; kvh < 2; ++kvh) {
    const auto from = r.move_from.head(kvh), to = r.move_to.head(kvh);
    ASSERT_GT(from.size, 0);
    for (std::int32_t i = 0; i < from.size; ++i) {
      EXPECT_LT(to[i], from[i]);
      for (std::int32_t j = i + 1; j < from.size; ++j) EXPECT_NE(to[i], from[j]) << "a later move reads this row";
    }
  }
}
