// Properties of the shared interface (policy.hpp, slot_table.hpp): shape and
// budget validation, weight validation, the slot map, memory reports.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "kv_test_util.hpp"
#include "lil/kv/factory.hpp"
#include "lil/kv/slot_table.hpp"

namespace kv = lil::kv;
using kvtest::expect_error;

namespace {
kv::model_shape shape_of(int heads, int kv_heads, int d, int ctx, int layers = 1) {
  return kvtest::shape(heads, kv_heads, d, ctx, layers);
}
}  // namespace

TEST(kv_policy, head_counts_not_divisible_are_rejected_naming_both) {
  expect_error([] { kv::full_policy p(shape_of(30, 8, 16, 64)); }, {"n_heads 30", "n_kv_heads 8"});
  expect_error([] { kv::h2o_policy p(shape_of(12, 5, 16, 64), 0, {}); }, {"n_heads 12", "n_kv_heads 5"});
}

TEST(kv_policy, zero_head_dim_is_rejected) {
  expect_error([] { kv::full_policy p(shape_of(8, 2, 0, 64)); }, {"head_dim 0"});
  expect_error([] { kv::quest_policy p(shape_of(8, 2, 0, 64), 0, {}); }, {"head_dim 0"});
}

TEST(kv_policy, other_bad_shapes_are_rejected_naming_the_field) {
  expect_error([] { kv::full_policy p(shape_of(0, 1, 16, 64)); }, {"n_heads 0"});
  expect_error([] { kv::full_policy p(shape_of(8, 0, 16, 64)); }, {"n_kv_heads 0"});
  expect_error([] { kv::full_policy p(shape_of(8, 2, 16, 0)); }, {"max_context 0"});
  expect_error([] { kv::full_policy p(shape_of(8, 2, 16, 64, 2), 2); }, {"layer 2", "n_layers 2"});
  expect_error([] { kv::full_policy p(shape_of(8, 2, 16, 64, 0)); }, {"n_layers 0"});
}

TEST(kv_policy, budgets_must_be_positive_and_ratios_in_range) {
  const auto s = shape_of(8, 2, 16, 100);
  kv::h2o_options o;
  o.budget = 0;
  expect_error([&] { kv::h2o_policy p(s, 0, o); }, {"h2o", "budget 0"});
  o.budget = -3;
  expect_error([&] { kv::h2o_policy p(s, 0, o); }, {"budget -3"});
  o.budget = kv::token_budget::ratio_of_context(1.5);
  expect_error([&] { kv::h2o_policy p(s, 0, o); }, {"ratio 1.5"});
}

TEST(kv_policy, a_ratio_budget_resolves_against_max_context) {
  kv::h2o_options o;
  o.budget = kv::token_budget::ratio_of_context(0.2);  // the H2O paper's 20% cache
  kv::h2o_policy p(shape_of(8, 2, 16, 1000), 0, o);
  EXPECT_EQ(p.budget(), 200);
  EXPECT_EQ(p.heavy(), 100);
  EXPECT_EQ(p.recent(), 100);
}

TEST(kv_policy, non_finite_weights_are_rejected_naming_head_and_slot) {
  const auto s = shape_of(4, 2, 8, 64);
  kv::h2o_options o;
  o.budget = 16;
  kv::h2o_policy p(s, 0, o);
  std::vector<float> k(static_cast<std::size_t>(2 * 8), 0.5f), q(static_cast<std::size_t>(4 * 8), 0.1f);
  for (int t = 0; t < 3; ++t) p.append(t, k.data());
  p.select(q.data());
  std::vector<float> w(static_cast<std::size_t>(4 * 16), 1.0f / 3);
  w[2 * 16 + 1] = std::numeric_limits<float>::quiet_NaN();
  expect_error([&] { p.observe({w.data(), 16}); }, {"h2o observe", "query head 2", "index 1", "position 1", "nan"});
  // Nothing was accumulated before the check failed.
  for (int kvh = 0; kvh < 2; ++kvh)
    for (std::int32_t slot : p.live_slots(kvh)) EXPECT_EQ(p.score(kvh, slot), 0.0f);
  w[2 * 16 + 1] = std::numeric_limits<float>::infinity();
  expect_error([&] { p.observe({w.data(), 16}); }, {"inf"});
  expect_error([&] { p.observe({nullptr, 16}); }, {"null"});
}

TEST(kv_policy, nan_weights_are_rejected_by_every_policy_that_reads_weights) {
  const auto s = shape_of(4, 2, 8, 64);
  std::vector<kv::policy_spec> specs = {kv::policy_spec::tova(16), kv::policy_spec::snapkv(40)};
  for (const auto& spec : specs) {
    auto p = kv::make_policy(spec, s, 0);
    std::vector<float> k(16, 0.5f), q(32, 0.1f);
    for (int t = 0; t < 5; ++t) p->append(t, k.data());
    p->select(q.data());
    ASSERT_TRUE(p->requirements().weights) << spec.name();
    std::vector<float> w(static_cast<std::size_t>(4 * p->max_selected()), 0.2f);
    w[3] = std::numeric_limits<float>::quiet_NaN();
    expect_error([&] { p->observe({w.data(), static_cast<std::size_t>(p->max_selected())}); },
                 {spec.name(), "query head 0", "index 3", "nan"});
  }
}

TEST(kv_policy, negative_positions_are_rejected) {
  kv::full_policy p(shape_of(4, 2, 8, 64));
  std::vector<float> k(16, 0.0f);
  expect_error([&] { p.append(-1, k.data()); }, {"position -1", "negative"});
}

TEST(kv_policy, policies_that_keep_everything_refuse_tokens_beyond_max_context) {
  const auto s = shape_of(4, 2, 8, 4);
  std::vector<float> k(16, 0.0f);
  for (const char* spec : {"full", "quest:16", "snapkv:40"}) {
    auto ps = kv::policy_spec::parse(spec);
    ps.skip_first_layers = 0;
    if (auto* o = std::get_if<kv::snapkv_options>(&ps.options)) o->window = 2;
    if (auto* o = std::get_if<kv::quest_options>(&ps.options)) o->page_size = 2;
    auto p = kv::make_policy(ps, s, 0);
    for (int t = 0; t < 4; ++t) p->append(t, k.data());
    expect_error([&] { p->append(4, k.data()); }, {"max_context 4", "position 4"});
    EXPECT_EQ(p->appended(), 4) << spec << ": a refused append changes nothing";
  }
}

TEST(kv_policy, evicting_policies_accept_streams_longer_than_max_context) {
  const auto s = shape_of(4, 2, 8, 8);
  std::vector<float> k(16, 0.0f), q(32, 0.0f);
  for (const char* spec : {"sink:6", "h2o:6", "tova:6"}) {
    auto p = kv::make_policy(kv::policy_spec::parse(spec), s, 0);
    for (int t = 0; t < 50; ++t) {
      p->append(t, k.data());
      p->select(q.data());
    }
    EXPECT_EQ(p->size(0), 6) << spec;
  }
}

TEST(kv_policy, slot_table_compaction_keeps_positions_and_refills_after_the_prefix) {
  kv::detail::slot_table t(6);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.insert(100 + i, i), i);
  EXPECT_TRUE(t.full());
  const std::int32_t kept[] = {1, 3, 4};
  EXPECT_EQ(t.compact(kept, 3), 3);
  EXPECT_EQ(t.size(), 3);
  EXPECT_EQ(t.position(0), 101);
  EXPECT_EQ(t.position(1), 103);
  EXPECT_EQ(t.position(2), 104);
  EXPECT_EQ(t.arrival(1), 3);
  EXPECT_EQ(t.position(3), -1);
  EXPECT_FALSE(t.is_live(4));
  EXPECT_EQ(t.live()[2], 2);
  EXPECT_EQ(t.insert(200, 9), 3);
  EXPECT_EQ(t.replace(0, 300, 11), 101);
  EXPECT_EQ(t.arrival(0), 11);
}

TEST(kv_policy, memory_report_counts_held_tokens_and_reserved_slots) {
  auto s = shape_of(8, 2, 16, 100);
  s.kv_bytes_per_element = 2;  // an fp16 cache
  kv::sink_options o;
  o.budget = 10;
  kv::sink_policy p(s, 0, o);
  std::vector<float> k(32, 0.0f);
  for (int t = 0; t < 7; ++t) p.append(t, k.data());
  auto m = p.memory();
  EXPECT_EQ(m.tokens_held, 7);
  EXPECT_EQ(m.kv_bytes, 7u * 2u * 16u * 2u * 2u);  // tokens x heads x dim x (K,V) x bytes
  EXPECT_EQ(m.kv_reserved_bytes, 10u * 2u * 16u * 2u * 2u);
  EXPECT_GT(m.policy_bytes, 0u);
  for (int t = 7; t < 30; ++t) p.append(t, k.data());
  EXPECT_EQ(p.memory().kv_bytes, 10u * 2u * 16u * 2u * 2u);
}

TEST(kv_policy, reset_forgets_the_sequence) {
  const auto s = shape_of(4, 2, 8, 64);
  for (const char* spec : {"full", "sink:8", "h2o:8", "quest:16", "snapkv:40", "tova:8"}) {
    auto p = kv::make_policy(kv::policy_spec::parse(spec), s, 0);
    std::vector<float> k(16, 0.3f), q(32, 0.1f);
    for (int t = 0; t < 20; ++t) p->append(t, k.data());
    p->reset();
    EXPECT_EQ(p->size(0), 0) << spec;
    EXPECT_EQ(p->appended(), 0) << spec;
    EXPECT_EQ(p->append(0, k.data()).slot[0], 0) << spec;
  }
}
