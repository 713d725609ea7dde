// Properties of h2o.hpp: greedy heavy-hitter eviction against a brute-force
// reference, the recent window, the budget, the GQA fold.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "kv_test_util.hpp"

namespace kv = lil::kv;
using kvtest::expect_error;

namespace {
using kvtest::shape;

float fold(kv::reduction r, const std::vector<float>& xs) {
  float out = xs[0];
  for (std::size_t g = 1; g < xs.size(); ++g) out = r == kv::reduction::max ? (out < xs[g] ? xs[g] : out) : out + xs[g];
  if (r == kv::reduction::mean && xs.size() > 1) out /= static_cast<float>(xs.size());
  return out;
}

// The H2O rule written the obvious way: lists of (position, arrival, score).
struct h2o_reference {
  struct entry {
    std::int64_t position, arrival;
    float score;
  };
  int budget, recent;
  kv::reduction red;
  std::vector<std::vector<entry>> heads;

  void append(std::int64_t position, std::int64_t arrival) {
    for (auto& h : heads) {
      if (static_cast<int>(h.size()) == budget) {
        auto victim = h.end();
        for (auto it = h.begin(); it != h.end(); ++it) {
          if (it->arrival > arrival - recent) continue;  // in the recent window once this token arrives
          if (victim == h.end() || it->score < victim->score ||
              (it->score == victim->score && it->arrival < victim->arrival))
            victim = it;
        }
        h.erase(victim);
      }
      h.push_back({position, arrival, 0.0f});
    }
  }
  // Adds this step's weights, read by position through the policy's selection.
  void observe(const kv::policy& p, const kv::weights_view& w) {
    const int g = p.shape().group_size();
    for (int kvh = 0; kvh < p.shape().n_kv_heads; ++kvh) {
      const auto sel = p.last_selection().head(kvh);
      for (std::int32_t i = 0; i < sel.size; ++i) {
        std::vector<float> xs;
        for (int q = kvh * g; q < (kvh + 1) * g; ++q) xs.push_back(w.row(q)[i]);
        const std::int64_t pos = p.position(kvh, sel[i]);
        for (auto& e : heads[static_cast<std::size_t>(kvh)])
          if (e.position == pos) e.score += fold(red, xs);
      }
    }
  }
};

void check_against_reference(const kv::model_shape& s, int budget, kv::reduction red, int n_tokens, unsigned seed) {
  kv::h2o_options o;
  o.budget = budget;
  o.gqa = red;
  kv::layer_cache cache(kv::policy_spec(o), s, 0);
  const auto& p = static_cast<const kv::h2o_policy&>(cache.policy());
  h2o_reference ref{budget, p.recent(), red, std::vector<std::vector<h2o_reference::entry>>(
                                                  static_cast<std::size_t>(s.n_kv_heads))};
  // Peaky attention (large queries) so that heavy hitters really differ.
  const auto toks = kvtest::random_tokens(s, n_tokens, seed, 3.0f);
  for (int t = 0; t < n_tokens; ++t) {
    kvtest::run(cache, toks, t, t + 1);
    ref.append(t, t);
    ref.observe(p, cache.last_weights());
    for (int kvh = 0; kvh < s.n_kv_heads; ++kvh) {
      std::set<std::int64_t> want;
      std::map<std::int64_t, float> want_score;
      for (const auto& e : ref.heads[static_cast<std::size_t>(kvh)]) {
        want.insert(e.position);
        want_score[e.position] = e.score;
      }
      ASSERT_EQ(kvtest::held(p, kvh), want) << "kv head " << kvh << " after token " << t;
      for (std::int32_t slot : p.live_slots(kvh)) ASSERT_EQ(p.score(kvh, slot), want_score[p.position(kvh, slot)]);
    }
  }
}
}  // namespace

TEST(kv_h2o, keeps_exactly_what_a_brute_force_heavy_hitter_oracle_keeps) {
  check_against_reference(shape(4, 2), 24, kv::reduction::mean, 300, 1);
  check_against_reference(shape(4, 4), 10, kv::reduction::mean, 200, 2);
}

TEST(kv_h2o, brute_force_agreement_holds_for_every_gqa_fold) {
  check_against_reference(shape(8, 2), 16, kv::reduction::sum, 150, 3);
  check_against_reference(shape(8, 2), 16, kv::reduction::max, 150, 4);
}

TEST(kv_h2o, brute_force_agreement_holds_for_32_8_and_8_1_heads) {
  check_against_reference(shape(32, 8, 8), 16, kv::reduction::mean, 120, 5);
  check_against_reference(shape(8, 1, 8), 16, kv::reduction::mean, 120, 6);
}

TEST(kv_h2o, the_recent_window_is_never_evicted_and_budget_never_exceeded) {
  const auto s = shape(4, 2);
  kv::h2o_options o;
  o.budget = 20;
  o.recent = 7;
  kv::layer_cache cache(kv::policy_spec(o), s, 0);
  const auto toks = kvtest::random_tokens(s, 250, 9, 3.0f);
  for (int t = 0; t < 250; ++t) {
    kvtest::run(cache, toks, t, t + 1);
    for (int kvh = 0; kvh < 2; ++kvh) {
      const auto h = kvtest::held(cache.policy(), kvh);
      EXPECT_LE(h.size(), 20u);
      EXPECT_LE(cache.policy().last_selection().head(kvh).size, 20);
      for (int r = std::max(0, t - 6); r <= t; ++r) EXPECT_TRUE(h.count(r)) << "recent token " << r << " at " << t;
    }
  }
}

TEST(kv_h2o, heavy_hitters_survive_far_beyond_the_window) {
  // Key 0 matches every query strongly: it must stay while its neighbours go.
  const auto s = shape(4, 2, 8);
  kv::h2o_options o;
  o.budget = 8;
  kv::layer_cache cache(kv::policy_spec(o), s, 0);
  auto toks = kvtest::random_tokens(s, 100, 13, 0.1f);
  for (auto& tk : toks)
    for (int q = 0; q < 4; ++q) tk.q[static_cast<std::size_t>(q * 8)] = 5.0f;
  for (int kvh = 0; kvh < 2; ++kvh) toks[0].k[static_cast<std::size_t>(kvh * 8)] = 5.0f;
  kvtest::run(cache, toks, 0, 100);
  for (int kvh = 0; kvh < 2; ++kvh) EXPECT_TRUE(kvtest::held(cache.policy(), kvh).count(0));
}

TEST(kv_h2o, gqa_fold_uses_exactly_the_query_heads_of_each_kv_head) {
  for (auto heads : {std::pair<int, int>{32, 8}, std::pair<int, int>{8, 1}}) {
    for (auto red : {kv::reduction::sum, kv::reduction::mean, kv::reduction::max}) {
      const auto s = shape(heads.first, heads.second, 8);
      kv::h2o_options o;
      o.budget = 16;
      o.gqa = red;
      kv::h2o_policy p(s, 0, o);
      std::vector<float> k(static_cast<std::size_t>(s.n_kv_heads * 8), 0.0f), q(static_cast<std::size_t>(s.n_heads * 8), 0.0f);
      const int n = 5;
      for (int t = 0; t < n; ++t) p.append(t, k.data());
      p.select(q.data());
      const std::size_t stride = 16;
      std::vector<float> w(static_cast<std::size_t>(s.n_heads) * stride);
      for (int qh = 0; qh < s.n_heads; ++qh)
        for (int i = 0; i < n; ++i) w[static_cast<std::size_t>(qh) * stride + static_cast<std::size_t>(i)] = 0.001f * static_cast<float>((qh * 7 + i * 3) % 11 + 1);
      p.observe({w.data(), stride});
      const int g = s.group_size();
      for (int kvh = 0; kvh < s.n_kv_heads; ++kvh)
        for (int i = 0; i < n; ++i) {
          std::vector<float> xs;
          for (int qh = kvh * g; qh < (kvh + 1) * g; ++qh) xs.push_back(w[static_cast<std::size_t>(qh) * stride + static_cast<std::size_t>(i)]);
          EXPECT_EQ(p.score(kvh, p.last_selection().head(kvh)[i]), fold(red, xs))
              << heads.first << "/" << heads.second << " " << kv::to_string(red) << " kv " << kvh << " i " << i;
        }
    }
  }
}

TEST(kv_h2o, equals_dense_when_the_budget_covers_the_sequence) {
  const auto s = shape(8, 2);
  const auto toks = kvtest::random_tokens(s, 100, 21);
  kv::layer_cache dense(kv::policy_spec::full(), s, 0);
  kv::layer_cache h2o(kv::policy_spec::h2o(100), s, 0);
  EXPECT_EQ(kvtest::run(dense, toks, 0, 100), kvtest::run(h2o, toks, 0, 100));
}

TEST(kv_h2o, budget_below_the_recent_window_is_rejected) {
  kv::h2o_options o;
  o.budget = 8;
  o.recent = 16;
  expect_error([&] { kv::h2o_policy p(shape(4, 2), 0, o); }, {"h2o", "budget 8", "recent window (16"});
  o.recent = 0;
  o.heavy_fraction = 1.0;
  expect_error([&] { kv::h2o_policy p(shape(4, 2), 0, o); }, {"heavy_fraction 1"});
  o.heavy_fraction = 0.5;
  o.recent = -2;
  expect_error([&] { kv::h2o_policy p(shape(4, 2), 0, o); }, {"recent -2"});
}
