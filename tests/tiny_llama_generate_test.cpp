// generate.hpp: greedy decoding is reproducible, stops where it says it does,
// and a session that stops early yields a prefix of the undisturbed run (why
// one greedy generation serves a configuration with and without Guardian).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "eval.hpp"
#include "tiny_llama_test_support.hpp"

namespace {

using namespace tiny_llama_test;

struct fixture_models {
  tiny_llama::checkpoint model = tiny_llama::checkpoint::from_file(reasoner_model());
  tiny_llama::tokenizer tok = tiny_llama::tokenizer::from_file(reasoner_tokenizer());
  std::vector<tiny_llama::problem> problems = tiny_llama::load_problems(reasoner_problems());
};

const fixture_models& models() {
  static const fixture_models m;
  return m;
}

tiny_llama::generation run(const std::vector<int>& prompt, int cap) {
  tiny_llama::state s(models().model.cfg());
  tiny_llama::sampler greedy(models().model.cfg().vocab_size);
  tiny_llama::dense_session session;
  return tiny_llama::generate(models().model, s, prompt, cap, greedy, session);
}

TEST(tiny_llama_generate, greedy_generation_is_reproducible) {
  const auto prompt = models().tok.encode(models().problems[3].prompt, true, false);
  const auto first = run(prompt, 400);
  const auto second = run(prompt, 400);
  EXPECT_FALSE(first.tokens.empty());
  EXPECT_EQ(first.tokens, second.tokens);
  EXPECT_EQ(first.reason, second.reason);
}

TEST(tiny_llama_generate, the_reasoner_ends_its_trace_with_the_end_token_after_an_answer) {
  const auto prompt = models().tok.encode(models().problems[0].prompt, true, false);
  const auto g = run(prompt, 600);
  EXPECT_EQ(g.reason, tiny_llama::stop_reason::end_token);
  const std::string text = models().tok.decode_all(g.tokens, prompt.back());
  EXPECT_NE(text.find("chk "), std::string::npos) << text;
  EXPECT_EQ(text.substr(text.size() - 6, 4), "ans=") << text;
}

struct stop_after {
  int remaining;
  std::vector<int> seen;
  void attend(const tiny_llama::attention_step& step) noexcept { tiny_llama::dense_attention(step); }
  void prefill_done() noexcept {}
  bool accept(int token) {
    seen.push_back(token);
    return --remaining > 0;
  }
};

TEST(tiny_llama_generate, a_session_that_stops_early_yields_a_prefix_of_the_full_run) {
  const auto prompt = models().tok.encode(models().problems[1].prompt, true, false);
  const auto full = run(prompt, 400);
  ASSERT_GT(full.tokens.size(), 20u);
  tiny_llama::state s(models().model.cfg());
  tiny_llama::sampler greedy(models().model.cfg().vocab_size);
  stop_after session{17, {}};
  const auto cut = tiny_llama::generate(models().model, s, prompt, 400, greedy, session);
  EXPECT_EQ(cut.reason, tiny_llama::stop_reason::session);
  ASSERT_EQ(cut.tokens.size(), 17u);
  EXPECT_EQ(session.seen, cut.tokens);
  EXPECT_TRUE(std::equal(cut.tokens.begin(), cut.tokens.end(), full.tokens.begin()));
}

TEST(tiny_llama_generate, the_token_cap_is_respected) {
  const auto prompt = models().tok.encode(models().problems[2].prompt, true, false);
  const auto g = run(prompt, 9);
  EXPECT_EQ(g.tokens.size(), 9u);
  EXPECT_EQ(g.reason, tiny_llama::stop_reason::token_cap);
  EXPECT_TRUE(run(prompt, 0).tokens.empty());
}

TEST(tiny_llama_generate, prompts_that_do_not_fit_are_rejected) {
  EXPECT_THROW(run({}, 10), lil::error);
  EXPECT_THROW(run(std::vector<int>(static_cast<std::size_t>(models().model.cfg().seq_len), 5), 10), lil::error);
  EXPECT_THROW(run({1, 9999}, 10), lil::error);
}

TEST(tiny_llama_generate, evaluation_outcomes_do_not_depend_on_the_thread_count) {
  std::vector<tiny_llama::problem> few(models().problems.begin(), models().problems.begin() + 6);
  const auto one = tiny_llama::evaluate_reasoner(models().model, models().tok, few, {300, 1});
  const auto two = tiny_llama::evaluate_reasoner(models().model, models().tok, few, {300, 2});
  ASSERT_EQ(one.outcomes.size(), two.outcomes.size());
  for (std::size_t i = 0; i < one.outcomes.size(); ++i) EXPECT_EQ(one.outcomes[i].tokens, two.outcomes[i].tokens);
  EXPECT_EQ(one.accuracy, two.accuracy);
}

}  // namespace
