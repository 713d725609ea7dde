// Properties of cache.hpp: a whole model's cache from one spec, the way a
// decoder uses it (prompt, prefill_done, generation, reset).
#include <gtest/gtest.h>

#include "kv_test_util.hpp"

namespace kv = lil::kv;

namespace {
kv::model_shape model() { return kvtest::shape(8, 4, 8, 600, 4); }

// Prompt then generation through every layer; returns all outputs.
std::vector<std::vector<float>> decode(kv::sequence_cache& seq, const std::vector<std::vector<kvtest::token>>& per_layer,
                                       int prompt, int total) {
  std::vector<std::vector<float>> outs;
  for (int t = 0; t < total; ++t) {
    for (int l = 0; l < seq.n_layers(); ++l) outs.push_back(kvtest::run(seq.layer(l), per_layer[static_cast<std::size_t>(l)], t, t + 1)[0]);
    if (t == prompt - 1) seq.prefill_done();
  }
  return outs;
}

std::vector<std::vector<kvtest::token>> tokens_for(const kv::model_shape& s, int n) {
  std::vector<std::vector<kvtest::token>> out;
  for (int l = 0; l < s.n_layers; ++l) out.push_back(kvtest::random_tokens(s, n, 50u + static_cast<unsigned>(l), 2.0f));
  return out;
}
}  // namespace

TEST(kv_cache, every_policy_equals_dense_when_the_budget_covers_the_sequence) {
  const auto s = model();
  const auto toks = tokens_for(s, 300);
  kv::sequence_cache dense(kv::policy_spec::full(), s);
  const auto want = decode(dense, toks, 100, 300);
  for (const char* text : {"sink:300", "h2o:300", "quest:304", "snapkv:300", "tova:300"}) {
    kv::sequence_cache seq(kv::policy_spec::parse(text), s);
    EXPECT_EQ(decode(seq, toks, 100, 300), want) << text;
  }
}

TEST(kv_cache, sparse_policies_differ_from_dense_below_the_length) {
  const auto s = model();
  const auto toks = tokens_for(s, 300);
  kv::sequence_cache dense(kv::policy_spec::full(), s);
  const auto want = decode(dense, toks, 100, 300);
  for (const char* text : {"sink:32", "h2o:32", "quest:32", "snapkv:48", "tova:32"}) {
    kv::sequence_cache seq(kv::policy_spec::parse(text), s);
    EXPECT_NE(decode(seq, toks, 100, 300), want) << text;
  }
}

TEST(kv_cache, budget_is_never_exceeded_in_any_layer) {
  const auto s = model();
  const auto toks = tokens_for(s, 400);
  for (const char* text : {"sink:40", "h2o:40", "quest:48", "tova:40"}) {
    kv::sequence_cache seq(kv::policy_spec::parse(text), s);
    const int budget = kv::make_policy(kv::policy_spec::parse(text), s, 3)->budget();
    for (int t = 0; t < 400; ++t)
      for (int l = 0; l < s.n_layers; ++l) {
        kvtest::run(seq.layer(l), toks[static_cast<std::size_t>(l)], t, t + 1);
        const auto& p = seq.layer(l).policy();
        if (std::string(p.name()) == "full") continue;  // Quest's dense first layers
        for (int h = 0; h < s.n_kv_heads; ++h) ASSERT_LE(p.last_selection().head(h).size, budget) << text;
        if (std::string(p.name()) != "quest") {
          for (int h = 0; h < s.n_kv_heads; ++h) ASSERT_LE(p.size(h), budget) << text;
        }
      }
  }
}

TEST(kv_cache, memory_sums_over_layers_and_reflects_the_budget) {
  const auto s = model();
  const auto toks = tokens_for(s, 200);
  kv::sequence_cache dense(kv::policy_spec::full(), s), h2o(kv::policy_spec::h2o(32), s);
  decode(dense, toks, 50, 200);
  decode(h2o, toks, 50, 200);
  const std::size_t per_token = 4u * 8u * 2u * 4u;  // kv heads x dim x (K,V) x fp32
  EXPECT_EQ(dense.memory().kv_bytes, 4u * 200u * per_token);
  EXPECT_EQ(h2o.memory().kv_bytes, 4u * 32u * per_token);
  EXPECT_EQ(h2o.memory().kv_reserved_bytes, 4u * 32u * per_token);
  EXPECT_EQ(h2o.memory().tokens_held, 32);
}

TEST(kv_cache, reset_runs_a_second_sequence_as_if_fresh) {
  const auto s = model();
  const auto first = tokens_for(s, 150);
  auto second = tokens_for(s, 150);
  for (auto& layer : second)
    for (auto& tk : layer)
      for (auto& x : tk.q) x = -x;
  for (const char* text : {"sink:32", "h2o:32", "quest:32", "snapkv:48", "tova:32"}) {
    kv::sequence_cache reused(kv::policy_spec::parse(text), s), fresh(kv::policy_spec::parse(text), s);
    decode(reused, first, 60, 150);
    reused.reset();
    EXPECT_EQ(decode(reused, second, 60, 150), decode(fresh, second, 60, 150)) << text;
  }
}
