// Properties of wrap.hpp: the order of the hooks, independence of sequences,
// no allocation per step, recomputed weights, any store.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <map>
#include <new>

#include "kv_test_util.hpp"
#include "support/allocation_counter.hpp"

namespace kv = lil::kv;


namespace {
kv::model_shape shape(int heads = 8, int kv_heads = 2, int d = 16, int ctx = 400, int layers = 1) {
  return kvtest::shape(heads, kv_heads, d, ctx, layers);
}

std::vector<kv::policy_spec> every_policy(int budget) {
  auto quest = kv::policy_spec::quest(budget);
  quest.skip_first_layers = 0;
  kv::snapkv_options snap;
  snap.budget = budget;
  snap.window = 8;
  return {kv::policy_spec::full(), kv::policy_spec::sink(budget), kv::policy_spec::h2o(budget), quest,
          kv::policy_spec(snap),   kv::policy_spec::tova(budget)};
}
}  // namespace

TEST(kv_wrap, the_new_token_is_stored_and_read_before_attention_runs) {
  const auto s = shape();
  for (const auto& spec : every_policy(32)) {
    kv::layer_cache cache(spec, s, 0);
    const auto toks = kvtest::random_tokens(s, 120, 3);
    for (int t = 0; t < 120; ++t) {
      const auto& tk = toks[static_cast<std::size_t>(t)];
      std::vector<float> out(static_cast<std::size_t>(8 * 16));
      bool called = false;
      cache.step(t, tk.q.data(), tk.k.data(), tk.v.data(), out.data(), [&](const kv::attention_args& a) {
        called = true;
        EXPECT_EQ(a.weights_wanted, cache.policy().requirements().weights);
        EXPECT_EQ(a.position, t);
        for (int h = 0; h < 2; ++h) {
          bool found = false;
          for (std::int32_t slot : a.selected.head(h)) {
            if (a.source->position(h, slot) != t) continue;
            found = true;
            EXPECT_EQ(cache.store().key(h, slot)[3], tk.k[static_cast<std::size_t>(h * 16 + 3)]);
            EXPECT_EQ(cache.store().value(h, slot)[5], tk.v[static_cast<std::size_t>(h * 16 + 5)]);
          }
          EXPECT_TRUE(found) << spec.name() << ": token " << t << " not read by kv head " << h;
        }
        kv::attend_reference(a, cache.store().view());
      });
      EXPECT_TRUE(called);
      if (t == 59) cache.prefill_done();
    }
  }
}

TEST(kv_wrap, two_sequences_interleaved_give_the_same_results_as_each_alone) {
  const auto s = shape(8, 2, 16, 400, 2);
  for (const auto& spec : every_policy(24)) {
    const auto a = kvtest::random_tokens(s, 150, 100);
    const auto b = kvtest::random_tokens(s, 150, 200);
    auto run_alone = [&](const std::vector<kvtest::token>& toks) {
      kv::sequence_cache seq(spec, s);
      std::vector<std::vector<float>> outs;
      for (int t = 0; t < 150; ++t)
        for (int l = 0; l < 2; ++l) {
          auto o = kvtest::run(seq.layer(l), toks, t, t + 1);
          outs.push_back(o[0]);
          if (t == 69 && l == 1) seq.prefill_done();
        }
      return outs;
    };
    const auto alone_a = run_alone(a), alone_b = run_alone(b);
    kv::sequence_cache sa(spec, s), sb(spec, s);
    std::vector<std::vector<float>> inter_a, inter_b;
    for (int t = 0; t < 150; ++t)
      for (int l = 0; l < 2; ++l) {
        inter_b.push_back(kvtest::run(sb.layer(l), b, t, t + 1)[0]);
        inter_a.push_back(kvtest::run(sa.layer(l), a, t, t + 1)[0]);
        if (t == 69 && l == 1) {
          sb.prefill_done();
          sa.prefill_done();
        }
      }
    EXPECT_EQ(inter_a, alone_a) << spec.name();
    EXPECT_EQ(inter_b, alone_b) << spec.name();
  }
}

TEST(kv_wrap, steps_allocate_nothing_after_construction) {
  const auto s = shape(8, 2, 16, 400);
  for (const auto& spec : every_policy(32)) {
    kv::layer_cache cache(spec, s, 0);
    const auto toks = kvtest::random_tokens(s, 300, 5);
    std::vector<float> out(static_cast<std::size_t>(8 * 16));
    const std::size_t before = lil::test::allocations();
    for (int t = 0; t < 300; ++t) {
      const auto& tk = toks[static_cast<std::size_t>(t)];
      cache.step(t, tk.q.data(), tk.k.data(), tk.v.data(), out.data());
      if (t == 99) cache.prefill_done();
    }
    (void)cache.memory();
    EXPECT_EQ(lil::test::allocations(), before) << spec.name();
  }
}

TEST(kv_wrap, recomputed_weights_equal_the_reference_attention_weights) {
  const auto s = shape(8, 2, 16, 200);
  kv::layer_cache ref(kv::policy_spec::h2o(32), s, 0), fused(kv::policy_spec::h2o(32), s, 0);
  const auto toks = kvtest::random_tokens(s, 150, 9, 2.0f);
  for (int t = 0; t < 150; ++t) {
    const auto& tk = toks[static_cast<std::size_t>(t)];
    std::vector<float> out_ref(128), out_fused(128);
    ref.step(t, tk.q.data(), tk.k.data(), tk.v.data(), out_ref.data());
    // A "fused kernel" that returns no weights: the helper fills them in.
    fused.step(t, tk.q.data(), tk.k.data(), tk.v.data(), out_fused.data(), [&](const kv::attention_args& a) {
      kv::attend_reference(a, fused.store().view());
      for (int q = 0; q < a.n_heads; ++q)
        for (std::int32_t i = 0; i < a.selected.head(a.kv_head_of(q)).size; ++i) a.weights_row(q)[i] = -1.0f;
      if (a.weights_wanted)
        kv::recompute_weights(a, [&](int h, std::int32_t slot) { return fused.store().key(h, slot); });
    });
    const auto wr = ref.last_weights(), wf = fused.last_weights();
    for (int q = 0; q < 8; ++q)
      for (std::int32_t i = 0; i < ref.policy().last_selection().head(q / 4).size; ++i)
        ASSERT_EQ(wr.row(q)[i], wf.row(q)[i]);
    for (int kvh = 0; kvh < 2; ++kvh) ASSERT_EQ(kvtest::held(ref.policy(), kvh), kvtest::held(fused.policy(), kvh));
  }
}

// A store the wrapper has never seen: rows kept in a map keyed by (head, slot).
struct map_store {
  std::map<std::pair<int, std::int32_t>, std::pair<std::vector<float>, std::vector<float>>> rows;
  int d;
  void write(int h, std::int32_t slot, const float* k, const float* v) {
    rows[{h, slot}] = {std::vector<float>(k, k + d), std::vector<float>(v, v + d)};
  }
};

TEST(kv_wrap, works_with_any_store_that_can_write_a_slot) {
  const auto s = shape(4, 2, 8, 200);
  kv::layer_cache plain(kv::policy_spec::tova(16), s, 0);
  auto p = kv::make_policy(kv::policy_spec::tova(16), s, 0);
  kv::step_workspace ws(*p);
  map_store store{{}, 8};
  const auto toks = kvtest::random_tokens(s, 100, 4);
  for (int t = 0; t < 100; ++t) {
    const auto& tk = toks[static_cast<std::size_t>(t)];
    std::vector<float> out_plain(32), out_map(32);
    plain.step(t, tk.q.data(), tk.k.data(), tk.v.data(), out_plain.data());
    kv::wrap_step(*p, ws, store, t, tk.q.data(), tk.k.data(), tk.v.data(), out_map.data(), [&](const kv::attention_args& a) {
      kv::recompute_weights(a, [&](int h, std::int32_t slot) { return store.rows[{h, slot}].first.data(); });
      for (int q = 0; q < a.n_heads; ++q) {
        float* o = a.out + q * a.head_dim;
        std::fill(o, o + a.head_dim, 0.0f);
        const auto sel = a.selected.head(a.kv_head_of(q));
        for (std::int32_t i = 0; i < sel.size; ++i) {
          const auto& v = store.rows[{a.kv_head_of(q), sel[i]}].second;
          for (int j = 0; j < a.head_dim; ++j) o[j] += a.weights_row(q)[i] * v[static_cast<std::size_t>(j)];
        }
      }
    });
    for (int j = 0; j < 32; ++j) ASSERT_NEAR(out_plain[static_cast<std::size_t>(j)], out_map[static_cast<std::size_t>(j)], 1e-5);
  }
}

TEST(kv_wrap, a_workspace_made_for_another_policy_is_rejected) {
  const auto s = shape(4, 2, 8, 200);
  auto small = kv::make_policy(kv::policy_spec::tova(16), s, 0);
  auto big = kv::make_policy(kv::policy_spec::full(), s, 0);
  kv::step_workspace ws(*small);
  kv::kv_store store(2, big->capacity(), 8);
  std::vector<float> q(32), k(16), v(16), out(32);
  kvtest::expect_error([&] { kv::wrap_step(*big, ws, store, 0, q.data(), k.data(), v.data(), out.data(), [](const kv::attention_args&) {}); },
                       {"step_workspace", "full"});
}
