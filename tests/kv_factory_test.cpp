// Properties of factory.hpp: specs, the short text form, dense first layers.
#include <gtest/gtest.h>

#include <string>

#include "kv_test_util.hpp"
#include "lil/kv/factory.hpp"

namespace kv = lil::kv;
using kvtest::expect_error;

namespace {
kv::model_shape small_model() { return kvtest::shape(8, 2, 16, 512, 4); }
}  // namespace

TEST(kv_factory, parse_reads_name_and_budget_for_every_policy) {
  const auto s = small_model();
  struct row {
    const char* text;
    const char* name;
    int budget;
  };
  for (const row& r : {row{"full", "full", 512}, row{"sink:64", "sink", 64}, row{"streamingllm:64", "sink", 64},
                       row{"h2o:64", "h2o", 64}, row{"quest:128", "quest", 128}, row{"snapkv:96", "snapkv", 96},
                       row{"tova:32", "tova", 32}}) {
    const auto spec = kv::policy_spec::parse(r.text);
    EXPECT_STREQ(spec.name(), r.name);
    const auto p = kv::make_policy(spec, s, 3);
    EXPECT_STREQ(p->name(), r.name);
    EXPECT_EQ(p->budget(), r.budget) << r.text;
  }
}

TEST(kv_factory, parse_reads_a_ratio_when_the_budget_has_a_point) {
  const auto p = kv::make_policy(kv::policy_spec::parse("h2o:0.25"), small_model(), 0);
  EXPECT_EQ(p->budget(), 128);
}

TEST(kv_factory, parse_errors_name_the_text) {
  expect_error([] { kv::policy_spec::parse("lru:64"); }, {"lru", "unknown policy"});
  expect_error([] { kv::policy_spec::parse("h2o"); }, {"h2o", "missing budget"});
  expect_error([] { kv::policy_spec::parse("h2o:abc"); }, {"abc", "not a number"});
  expect_error([] { kv::policy_spec::parse("h2o:64x"); }, {"64x", "not a number"});
  expect_error([] { kv::policy_spec::parse("full:10"); }, {"full takes no budget"});
}

TEST(kv_factory, quest_keeps_its_first_two_layers_dense) {
  const auto spec = kv::policy_spec::quest(64);
  EXPECT_EQ(spec.skip_first_layers, 2);
  const auto s = small_model();
  EXPECT_STREQ(kv::make_policy(spec, s, 0)->name(), "full");
  EXPECT_STREQ(kv::make_policy(spec, s, 1)->name(), "full");
  EXPECT_STREQ(kv::make_policy(spec, s, 2)->name(), "quest");
  EXPECT_STREQ(kv::make_policy(spec, s, 3)->name(), "quest");
}

TEST(kv_factory, spec_from_quest_options_keeps_every_layer_sparse) {
  kv::quest_options o;
  o.budget = 64;
  const kv::policy_spec spec(o);
  EXPECT_EQ(spec.skip_first_layers, 0);
  EXPECT_STREQ(kv::make_policy(spec, small_model(), 0)->name(), "quest");
  EXPECT_EQ(kv::policy_spec::parse("quest:64").skip_first_layers, kv::policy_spec::quest_paper_dense_layers);
}

TEST(kv_factory, skip_first_layers_applies_to_any_policy) {
  auto spec = kv::policy_spec::h2o(64);
  EXPECT_EQ(spec.skip_first_layers, 0);
  spec.skip_first_layers = 1;
  EXPECT_STREQ(kv::make_policy(spec, small_model(), 0)->name(), "full");
  EXPECT_STREQ(kv::make_policy(spec, small_model(), 1)->name(), "h2o");
  spec.skip_first_layers = -1;
  expect_error([&] { kv::make_policy(spec, small_model(), 1); }, {"skip_first_layers -1"});
}

TEST(kv_factory, options_structs_carry_the_papers_defaults) {
  EXPECT_EQ(kv::sink_options{}.sinks, 4);
  EXPECT_EQ(kv::h2o_options{}.heavy_fraction, 0.5);
  EXPECT_EQ(kv::quest_options{}.page_size, 16);
  EXPECT_EQ(kv::quest_options{}.gqa, kv::reduction::mean);
  EXPECT_EQ(kv::snapkv_options{}.window, 32);
  EXPECT_EQ(kv::snapkv_options{}.kernel, 5);
  EXPECT_EQ(kv::snapkv_options{}.budget.tokens(), 2048);
  EXPECT_FALSE(kv::tova_options{}.per_kv_head);
  EXPECT_EQ(kv::tova_options{}.gqa, kv::reduction::mean);
}

TEST(kv_factory, options_can_be_tuned_before_building) {
  kv::sink_options o;
  o.budget = 20;
  o.sinks = 2;
  const auto p = kv::make_policy(o, small_model(), 0);
  EXPECT_EQ(static_cast<const kv::sink_policy&>(*p).sinks(), 2);
  EXPECT_EQ(p->budget(), 20);
}

TEST(kv_factory, parse_reads_options_after_the_budget) {
  const auto s = small_model();
  const auto snap = kv::policy_spec::parse("snapkv:16,window=8,kernel=3,pool=max,evict_generated=1,gqa=max");
  const auto& so = std::get<kv::snapkv_options>(snap.options);
  EXPECT_EQ(so.window, 8);
  EXPECT_EQ(so.kernel, 3);
  EXPECT_EQ(so.pool, kv::pooling::max);
  EXPECT_TRUE(so.evict_generated);
  EXPECT_EQ(so.gqa, kv::reduction::max);
  EXPECT_EQ(kv::make_policy(snap, s, 0)->budget(), 16);

  const auto quest = kv::policy_spec::parse("quest:64,page=8,bounds=bf16,gqa=sum,skip=0");
  EXPECT_EQ(quest.skip_first_layers, 0);
  const auto& qo = std::get<kv::quest_options>(quest.options);
  EXPECT_EQ(qo.page_size, 8);
  EXPECT_EQ(qo.bounds, kv::bound_format::bf16);
  EXPECT_EQ(qo.gqa, kv::reduction::sum);

  EXPECT_EQ(std::get<kv::sink_options>(kv::policy_spec::parse("sink:32,sinks=2").options).sinks, 2);
  const auto h2o = std::get<kv::h2o_options>(kv::policy_spec::parse("h2o:32,recent=4,gqa=sum").options);
  EXPECT_EQ(h2o.recent, 4);
  EXPECT_EQ(h2o.gqa, kv::reduction::sum);
  EXPECT_TRUE(std::get<kv::tova_options>(kv::policy_spec::parse("tova:32,per_kv_head=1").options).per_kv_head);
}

TEST(kv_factory, parse_rejects_unknown_or_malformed_options_naming_them) {
  expect_error([] { kv::policy_spec::parse("h2o:64,window=8"); }, {"window", "does not apply to h2o"});
  expect_error([] { kv::policy_spec::parse("quest:64,gqa=median"); }, {"gqa \"median\""});
  expect_error([] { kv::policy_spec::parse("snapkv:64,window"); }, {"not key=value"});
  expect_error([] { kv::policy_spec::parse("snapkv:64,window=x"); }, {"window \"x\"", "not a number"});
  expect_error([] { kv::policy_spec::parse("quest:64,bounds=fp8"); }, {"bounds \"fp8\""});
  expect_error([] { kv::policy_spec::parse("tova:64,per_kv_head=yes"); }, {"per_kv_head \"yes\""});
}
