// guardian_session.hpp: Guardian in the real decode loop. It stops a decode
// forced to repeat a phrase; an enforced run is exactly the observed run cut
// at the recorded stop (why one generation serves both columns of
// `lil demo`); greedy runs with Guardian observing are reproducible.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "guardian_session.hpp"
#include "kv_session.hpp"
#include "sweep.hpp"
#include "tiny_llama_test_support.hpp"

namespace {

using namespace tiny_llama_test;

// The demo's rule: the paper's f = 250, t = 20 scaled by a tenth.
lil::guardian_options demo_rule() {
  lil::guardian_options o;
  o.rule.check_every = 25;
  o.rule.min_gain = 2;
  return o;
}

// Ignores the logits and spells `phrase` over and over: a decode loop forced
// into the degenerate repetition that sparse attention produces.
struct repeat_phrase {
  std::vector<int> tokens;
  std::size_t next = 0;
  int sample(const float*, int) noexcept { return tokens[next++ % tokens.size()]; }
};

// The reasoner's tokenizer has one token per character and no merges, so
// the phrase's tokens are its encoding without the dummy-prefix space.
repeat_phrase phrase(const std::string& text) {
  std::vector<int> t = models().tok.encode(text, false, false);
  t.erase(t.begin());
  return {t, 0};
}

using guarded_kv = tiny_llama::guardian_session<tiny_llama::kv_session>;

guarded_kv make_session(const lil::kv::policy_spec& spec, const std::vector<int>& prompt, tiny_llama::guardian_mode mode,
                        const lil::guardian_options& rule = demo_rule()) {
  return guarded_kv(tiny_llama::kv_session(spec, models().model.cfg()), models().tok, prompt.back(), rule, mode);
}

TEST(tiny_llama_guardian_session, guardian_stops_a_decode_forced_to_repeat_a_phrase) {
  const auto& m = models();
  const auto prompt = m.tok.encode(m.problems[0].prompt, true, false);
  tiny_llama::state s(m.model.cfg());
  repeat_phrase pick = phrase("chk H=S-1 no\nredo\n");
  auto session = make_session(lil::kv::policy_spec::full(), prompt, tiny_llama::guardian_mode::enforce);
  const auto g = tiny_llama::generate(m.model, s, prompt, 600, pick, session);

  EXPECT_EQ(g.reason, tiny_llama::stop_reason::session);
  const auto record = session.record();
  ASSERT_NE(record.stop, 0u);
  EXPECT_EQ(g.tokens.size(), record.stop);
  // The first check that may stop is at 2f; a loop this tight is caught at
  // one of the first checks after it, far before the cap.
  EXPECT_EQ(record.stop % 25, 0u);
  EXPECT_GE(record.stop, 50u);
  EXPECT_LE(record.stop, 100u);
  EXPECT_LT(record.last_check.gain, 2.0);
  EXPECT_EQ(m.tok.decode_all(g.tokens, prompt.back()).substr(0, 18), "chk H=S-1 no\nredo\n");
}

TEST(tiny_llama_guardian_session, guardian_lets_varied_text_run_to_the_cap) {
  // The same forced decode, but text that keeps changing (every digit
  // sequence written once): C(n) keeps growing, so Guardian never stops.
  const auto& m = models();
  const auto prompt = m.tok.encode(m.problems[0].prompt, true, false);
  std::string varied;
  for (unsigned x = 12345; varied.size() < 400; x = x * 1103515245u + 12345u) varied += std::to_string(x % 997) + ";";
  tiny_llama::state s(m.model.cfg());
  repeat_phrase pick = phrase(varied);
  auto session = make_session(lil::kv::policy_spec::full(), prompt, tiny_llama::guardian_mode::enforce);
  const auto g = tiny_llama::generate(m.model, s, prompt, 300, pick, session);
  EXPECT_EQ(g.reason, tiny_llama::stop_reason::token_cap);
  EXPECT_EQ(session.record().stop, 0u);
  EXPECT_EQ(g.tokens.size(), 300u);
}

TEST(tiny_llama_guardian_session, observing_never_stops_the_loop_but_records_the_stop) {
  const auto& m = models();
  const auto prompt = m.tok.encode(m.problems[0].prompt, true, false);
  tiny_llama::state s(m.model.cfg());
  repeat_phrase enforced_pick = phrase("ans=3\n"), observed_pick = phrase("ans=3\n");
  auto enforced = make_session(lil::kv::policy_spec::full(), prompt, tiny_llama::guardian_mode::enforce);
  auto observed = make_session(lil::kv::policy_spec::full(), prompt, tiny_llama::guardian_mode::observe);
  const auto cut = tiny_llama::generate(m.model, s, prompt, 300, enforced_pick, enforced);
  const auto whole = tiny_llama::generate(m.model, s, prompt, 300, observed_pick, observed);
  EXPECT_EQ(whole.reason, tiny_llama::stop_reason::token_cap);
  EXPECT_EQ(whole.tokens.size(), 300u);
  ASSERT_NE(observed.record().stop, 0u);
  EXPECT_EQ(observed.record().stop, enforced.record().stop);
  EXPECT_EQ(cut.tokens.size(), enforced.record().stop);
  EXPECT_LE(observed.record().seconds_to_stop, whole.decode_seconds);
}

// The property `lil demo` rests on, on real greedy runs where sparse
// attention makes the model loop and Guardian stops it.
TEST(tiny_llama_guardian_session, enforced_run_is_the_observed_run_cut_at_its_stop) {
  const auto& m = models();
  int stops_seen = 0;
  for (const char* policy : {"sink", "tova"})
    for (int problem = 0; problem < 3; ++problem) {
      SCOPED_TRACE(std::string(policy) + ":16, problem " + std::to_string(problem));
      const auto spec = tiny_llama::demo_config(policy, 16).spec;
      const auto prompt = m.tok.encode(m.problems[static_cast<std::size_t>(problem)].prompt, true, false);
      tiny_llama::state s(m.model.cfg());
      tiny_llama::sampler greedy_a(m.model.cfg().vocab_size), greedy_b(m.model.cfg().vocab_size);
      auto observed = make_session(spec, prompt, tiny_llama::guardian_mode::observe);
      const auto whole = tiny_llama::generate(m.model, s, prompt, 400, greedy_a, observed);
      auto enforced = make_session(spec, prompt, tiny_llama::guardian_mode::enforce);
      const auto cut = tiny_llama::generate(m.model, s, prompt, 400, greedy_b, enforced);

      const std::size_t stop = observed.record().stop;
      EXPECT_EQ(enforced.record().stop, stop);
      if (stop == 0) {
        EXPECT_EQ(cut.tokens, whole.tokens);
        continue;
      }
      ++stops_seen;
      EXPECT_EQ(cut.reason, tiny_llama::stop_reason::session);
      ASSERT_EQ(cut.tokens.size(), stop);
      ASSERT_LE(stop, whole.tokens.size());
      EXPECT_TRUE(std::equal(cut.tokens.begin(), cut.tokens.end(), whole.tokens.begin()));
    }
  // The property is only tested where Guardian fires: it must fire somewhere here.
  EXPECT_GT(stops_seen, 0);
}

TEST(tiny_llama_guardian_session, greedy_runs_with_guardian_observing_are_reproducible) {
  const auto& m = models();
  const auto prompt = m.tok.encode(m.problems[5].prompt, true, false);
  tiny_llama::sweep_options options;
  options.max_new_tokens = 300;
  options.guardian = demo_rule();
  for (const char* policy : {"full", "h2o", "quest"}) {
    SCOPED_TRACE(policy);
    const auto config = tiny_llama::demo_config(policy, 32);
    tiny_llama::state s1(m.model.cfg()), s2(m.model.cfg());
    const auto a = tiny_llama::run_sequence(m.model, m.tok, s1, prompt, config, options);
    const auto b = tiny_llama::run_sequence(m.model, m.tok, s2, prompt, config, options);
    EXPECT_FALSE(a.tokens.empty());
    EXPECT_EQ(a.tokens, b.tokens);
    EXPECT_EQ(a.guardian.stop, b.guardian.stop);
    EXPECT_EQ(a.kv_bytes, b.kv_bytes);
  }
}

}  // namespace
