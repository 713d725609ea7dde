// Properties of tova.hpp: drop the token the current query attends to least,
// against a brute-force reference; budget; shared versus per-KV-head ranking.
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>

#include "kv_test_util.hpp"

namespace kv = lil::kv;
using kvtest::expect_error;

namespace {
using kvtest::shape;

struct tova_reference {
  struct entry {
    std::int64_t position, arrival;
    float score;
  };
  int budget;
  bool per_head;
  std::vector<std::vector<entry>> tables;

  void append(std::int64_t pos) {
    for (auto& t : tables) {
      if (static_cast<int>(t.size()) == budget) {
        auto victim = t.begin();
        for (auto it = t.begin(); it != t.end(); ++it)
          if (it->score < victim->score || (it->score == victim->score && it->arrival < victim->arrival)) victim = it;
        t.erase(victim);
      }
      t.push_back({pos, pos, std::numeric_limits<float>::infinity()});
    }
  }
  void observe(const kv::policy& p, const kv::weights_view& w) {
    const int n_heads = p.shape().n_heads, g = per_head ? p.shape().group_size() : n_heads;
    for (std::size_t ti = 0; ti < tables.size(); ++ti) {
      const int kvh = static_cast<int>(ti);
      const auto sel = p.last_selection().head(kvh);
      for (std::int32_t i = 0; i < sel.size; ++i) {
        float f = w.row(kvh * g)[i];
        for (int q = kvh * g + 1; q < (kvh + 1) * g; ++q) f += w.row(q)[i];
        if (g > 1) f /= static_cast<float>(g);
        for (auto& e : tables[ti])
          if (e.position == p.position(kvh, sel[i])) e.score = f;
      }
    }
  }
};

void check_against_reference(const kv::model_shape& s, int budget, bool per_head, int n, unsigned seed) {
  kv::tova_options o;
  o.budget = budget;
  o.per_kv_head = per_head;
  kv::layer_cache cache(kv::policy_spec(o), s, 0);
  tova_reference ref{budget, per_head,
                     std::vector<std::vector<tova_reference::entry>>(per_head ? static_cast<std::size_t>(s.n_kv_heads) : 1u)};
  const auto toks = kvtest::random_tokens(s, n, seed, 3.0f);
  for (int t = 0; t < n; ++t) {
    kvtest::run(cache, toks, t, t + 1);
    ref.append(t);
    ref.observe(cache.policy(), cache.last_weights());
    for (int kvh = 0; kvh < s.n_kv_heads; ++kvh) {
      std::set<std::int64_t> want;
      for (const auto& e : ref.tables[per_head ? static_cast<std::size_t>(kvh) : 0u]) want.insert(e.position);
      ASSERT_EQ(kvtest::held(cache.policy(), kvh), want) << "kv head " << kvh << " after token " << t;
    }
  }
}
}  // namespace

TEST(kv_tova, drops_exactly_what_a_brute_force_reference_drops) {
  check_against_reference(shape(4, 2), 16, false, 300, 1);
  check_against_reference(shape(4, 4), 7, false, 200, 2);
}

TEST(kv_tova, per_kv_head_ranking_matches_its_reference_too) {
  check_against_reference(shape(8, 2), 16, true, 200, 3);
}

TEST(kv_tova, brute_force_agreement_holds_for_32_8_and_8_1_heads) {
  check_against_reference(shape(32, 8, 8), 12, false, 120, 4);
  check_against_reference(shape(8, 1, 8), 12, false, 120, 5);
  check_against_reference(shape(32, 8, 8), 12, true, 120, 6);
}

TEST(kv_tova, shared_ranking_drops_the_same_token_in_every_kv_head) {
  const auto s = shape(8, 4);
  kv::layer_cache cache(kv::policy_spec::tova(10), s, 0);
  const auto toks = kvtest::random_tokens(s, 100, 9, 3.0f);
  kvtest::run(cache, toks, 0, 100);
  for (int kvh = 1; kvh < 4; ++kvh) EXPECT_EQ(kvtest::held(cache.policy(), kvh), kvtest::held(cache.policy(), 0));
}

TEST(kv_tova, budget_is_never_exceeded_and_the_current_token_is_always_read) {
  const auto s = shape(4, 2);
  kv::layer_cache cache(kv::policy_spec::tova(9), s, 0);
  const auto toks = kvtest::random_tokens(s, 200, 10, 3.0f);
  for (int t = 0; t < 200; ++t) {
    kvtest::run(cache, toks, t, t + 1);
    for (int kvh = 0; kvh < 2; ++kvh) {
      EXPECT_LE(cache.policy().size(kvh), 9);
      const auto sel = kvtest::selected_positions(cache.policy(), kvh);
      EXPECT_LE(sel.size(), 9u);
      EXPECT_NE(std::find(sel.begin(), sel.end(), t), sel.end());
    }
  }
}

TEST(kv_tova, equals_dense_when_the_budget_covers_the_sequence) {
  const auto s = shape(8, 2);
  const auto toks = kvtest::random_tokens(s, 90, 12);
  kv::layer_cache dense(kv::policy_spec::full(), s, 0);
  kv::layer_cache tova(kv::policy_spec::tova(90), s, 0);
  EXPECT_EQ(kvtest::run(dense, toks, 0, 90), kvtest::run(tova, toks, 0, 90));
}

TEST(kv_tova, zero_budget_is_rejected) {
  kv::tova_options o;
  o.budget = 0;
  expect_error([&] { kv::tova_policy p(shape(4, 2), 0, o); }, {"tova", "budget 0"});
}
