// kv_session.hpp: every lil::kv policy runs through the real (reasoner) model
// at every demo budget, Full decodes exactly like dense attention, and the
// evicting policies hold no more than their budget.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "eval.hpp"
#include "kv_session.hpp"
#include "tiny_llama_test_support.hpp"

namespace {

using namespace tiny_llama_test;

const int budgets[] = {16, 32, 64, 128};

// SnapKV protects an observation window inside its budget; at the demo's
// small budgets the window shrinks to half the budget (paper default 32).
lil::kv::policy_spec spec_for(const std::string& name, int budget) {
  if (name == "snapkv") {
    lil::kv::snapkv_options o;
    o.budget = budget;
    o.window = std::min(o.window, budget / 2);
    return o;
  }
  return lil::kv::policy_spec::parse(name + ":" + std::to_string(budget));
}

TEST(tiny_llama_kv_session, every_policy_runs_through_the_model_at_every_budget) {
  std::vector<tiny_llama::problem> two(models().problems.begin(), models().problems.begin() + 2);
  for (const std::string name : {"sink", "h2o", "quest", "snapkv", "tova"})
    for (int budget : budgets) {
      SCOPED_TRACE(name + ":" + std::to_string(budget));
      const tiny_llama::kv_sessions sessions{spec_for(name, budget), models().model.cfg()};
      tiny_llama::reasoner_summary r;
      ASSERT_NO_THROW(r = tiny_llama::evaluate_reasoner(models().model, models().tok, two, {150, 1}, sessions));
      for (const auto& o : r.outcomes) {
        EXPECT_FALSE(o.tokens.empty());
        EXPECT_GT(o.kv_bytes, 0u);
      }
    }
}

TEST(tiny_llama_kv_session, the_full_policy_decodes_exactly_like_dense_attention) {
  std::vector<tiny_llama::problem> few(models().problems.begin(), models().problems.begin() + 4);
  const auto dense = tiny_llama::evaluate_reasoner(models().model, models().tok, few, {400, 2});
  const auto full = tiny_llama::evaluate_reasoner(models().model, models().tok, few, {400, 2},
                                                  tiny_llama::kv_sessions{lil::kv::policy_spec::full(), models().model.cfg()});
  for (std::size_t i = 0; i < few.size(); ++i) EXPECT_EQ(dense.outcomes[i].tokens, full.outcomes[i].tokens) << "problem " << i;
  EXPECT_EQ(dense.kv_bytes, full.kv_bytes);
}

TEST(tiny_llama_kv_session, evicting_policies_hold_at_most_their_budget) {
  const auto& c = models().model.cfg();
  const auto prompt = models().tok.encode(models().problems[0].prompt, true, false);
  for (const std::string name : {"sink", "h2o", "tova"})
    for (int budget : budgets) {
      SCOPED_TRACE(name + ":" + std::to_string(budget));
      tiny_llama::state s(c);
      tiny_llama::sampler greedy(c.vocab_size);
      tiny_llama::kv_session session(spec_for(name, budget), c);
      const auto g = tiny_llama::generate(models().model, s, prompt, 200, greedy, session);
      ASSERT_GT(g.positions, budget);
      const auto m = session.memory();
      EXPECT_LE(m.tokens_held, budget);
      EXPECT_LE(session.kv_bytes(), static_cast<std::size_t>(budget) * s.kv_bytes_per_token());
    }
}

}  // namespace
