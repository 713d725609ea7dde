// The repetition rule (vLLM's repetition_detection) against a brute-force
// scan of every prefix, on generated sequences; upstream's own test cases'
// verdicts; rollback, reset and clone; and the either-rule pair.
#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "lil/guardian/either.hpp"
#include "lil/guardian/repetition.hpp"
#include "support/allocation_counter.hpp"

namespace {

using lil::repetition_detector;
using lil::repetition_options;

repetition_options rule(std::uint32_t min_size, std::uint32_t max_size, std::uint32_t count, std::uint64_t min_tokens = 0) {
  repetition_options o;
  o.min_pattern_size = min_size;
  o.max_pattern_size = max_size;
  o.min_count = count;
  o.min_tokens = min_tokens;
  return o;
}

// The rule read literally off its definition: does the sequence end in
// `count` copies of some p-gram, p in range? Returns the smallest such p, or 0.
std::uint32_t brute_force(const std::vector<int>& s, const repetition_options& o) {
  if (!o.enabled()) return 0;
  for (std::uint32_t p = o.smallest(); p <= o.max_pattern_size; ++p) {
    const std::size_t span = std::size_t{p} * o.min_count;
    if (span > s.size()) break;
    bool all = true;
    for (std::uint32_t c = 1; c < o.min_count && all; ++c)
      for (std::uint32_t k = 0; k < p && all; ++k)
        all = s[s.size() - 1 - k] == s[s.size() - 1 - k - std::size_t{c} * p];
    if (all) return p;
  }
  return 0;
}

// Over every prefix: the first n where the brute force says stop, and its p.
std::pair<std::uint64_t, std::uint32_t> first_stop(const std::vector<int>& s, const repetition_options& o) {
  std::vector<int> prefix;
  for (std::size_t n = 0; n < s.size(); ++n) {
    prefix.push_back(s[n]);
    if (prefix.size() < o.min_tokens) continue;
    if (const auto p = brute_force(prefix, o)) return {prefix.size(), p};
  }
  return {0, 0};
}

bool verdict_of(const std::vector<int>& s, const repetition_options& o) {
  repetition_detector d(o);
  for (int id : s) d.accept_id(id);
  return d.stopped();
}

// Sequences that wander and sometimes fall into loops of varied sizes.
std::vector<int> generate(std::mt19937& rng, std::size_t length, int alphabet) {
  std::vector<int> s;
  std::uniform_int_distribution<int> token(0, alphabet - 1), coin(0, 9), period(1, 12), repeats(1, 6);
  while (s.size() < length) {
    if (coin(rng) < 3 && !s.empty()) {
      const std::size_t p = std::min<std::size_t>(static_cast<std::size_t>(period(rng)), s.size());
      const int r = repeats(rng);
      for (int k = 0; k < r * static_cast<int>(p) && s.size() < length; ++k) s.push_back(s[s.size() - p]);
    } else {
      s.push_back(token(rng));
    }
  }
  return s;
}

TEST(Repetition, MatchesBruteForceOnGeneratedSequences) {
  std::mt19937 rng(20260101);
  const repetition_options rules[] = {rule(1, 1, 2),  rule(1, 5, 3),  rule(2, 5, 3), rule(0, 12, 2),
                                      rule(3, 3, 4),  rule(1, 20, 5), rule(4, 9, 2), rule(1, 5, 3, 40),
                                      rule(1, 2, 10), rule(5, 5, 2)};
  int stops = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const auto s = generate(rng, 200, trial % 3 == 0 ? 2 : 6);
    for (const auto& o : rules) {
      const auto [n, p] = first_stop(s, o);
      repetition_detector d(o);
      std::uint64_t got = 0;
      for (std::size_t i = 0; i < s.size(); ++i)
        if (d.accept_id(s[i]) == lil::verdict::stop && got == 0) got = i + 1;
      ASSERT_EQ(got, n) << "trial " << trial << " rule " << o.min_pattern_size << ".." << o.max_pattern_size << " x"
                        << o.min_count;
      EXPECT_EQ(d.decision().stopped_at, n);
      EXPECT_EQ(d.decision().pattern_size, p);
      stops += n != 0;
    }
  }
  EXPECT_GT(stops, 300);  // the generator does produce loops
}

// The cases of vLLM's tests/v1/core (check_sequence_repetition and
// check_stop with repetition_detection), with the verdicts upstream asserts.
TEST(Repetition, UpstreamCasesGiveUpstreamVerdicts) {
  EXPECT_TRUE(verdict_of({1, 2, 3, 1, 2, 3, 1, 2, 3}, rule(2, 3, 3)));
  EXPECT_FALSE(verdict_of({1, 2, 3, 1, 2, 3}, rule(2, 3, 3)));
  EXPECT_TRUE(verdict_of({1, 2, 1, 2, 1, 2, 1, 2}, rule(2, 5, 4)));
  EXPECT_FALSE(verdict_of({1, 2, 3, 4, 5, 6, 7, 8, 9}, rule(2, 5, 2)));
  EXPECT_FALSE(verdict_of({}, rule(2, 3, 2)));
  EXPECT_FALSE(verdict_of({1, 2, 1, 2, 1, 2}, rule(2, 0, 2)));  // max 0: off
  EXPECT_TRUE(verdict_of({1, 2, 3, 4, 5, 6, 5, 6, 5, 6}, rule(2, 3, 3)));
  std::vector<int> eight;
  for (int r = 0; r < 5; ++r)
    for (int k = 1; k <= 8; ++k) eight.push_back(k);
  EXPECT_TRUE(verdict_of(eight, rule(2, 10, 3)));
  EXPECT_TRUE(verdict_of({10, 20, 10, 20, 10, 20}, rule(2, 5, 3)));
  EXPECT_FALSE(verdict_of({10, 20, 10, 20, 10, 20}, rule(2, 5, 3, 10)));  // min_tokens 10
  EXPECT_FALSE(verdict_of({10, 20, 30, 40, 50, 60}, rule(2, 5, 3)));
  EXPECT_TRUE(verdict_of({10, 20, 30, 10, 20, 30}, rule(3, 3, 2)));
  EXPECT_TRUE(verdict_of({7, 8, 9, 10, 7, 8, 9, 10, 7, 8, 9, 10}, rule(2, 5, 3)));
  EXPECT_FALSE(verdict_of({10, 20, 10, 20, 10, 20}, rule(3, 5, 3)));
  EXPECT_FALSE(verdict_of({10, 20, 10, 20, 10, 20}, rule(2, 5, 5)));
}

TEST(Repetition, SettingsAreCheckedAsUpstreamDoes) {
  EXPECT_THROW(repetition_detector(rule(4, 3, 3)), lil::error);
  EXPECT_THROW(repetition_detector(rule(1, 3, 1)), lil::error);
  EXPECT_NO_THROW(repetition_detector(rule(0, 0, 0)));  // off
  EXPECT_EQ(rule(0, 3, 2).smallest(), 1u);
}

TEST(Repetition, TextsCompareByContent) {
  repetition_detector d(rule(1, 3, 3));
  for (const char* t : {"Wait", ",", " let", " me", "Wait", ",", " let", "Wait", ","}) d.accept(std::string(t));
  EXPECT_FALSE(d.stopped());
  for (const char* t : {" let", "Wait", ",", " let"}) d.accept(std::string(t));
  EXPECT_TRUE(d.stopped());
  EXPECT_EQ(d.decision().pattern_size, 3u);
}

TEST(Repetition, RollbackEqualsNeverHavingSeenTheTokens) {
  std::mt19937 rng(7);
  const auto o = rule(1, 6, 3);
  for (int trial = 0; trial < 200; ++trial) {
    const auto s = generate(rng, 120, 3);
    const auto drafts = generate(rng, 20, 3);
    repetition_detector live(o), reference(o);
    std::size_t cut = static_cast<std::size_t>(trial) % s.size();
    for (std::size_t i = 0; i < cut; ++i) {
      live.accept_id(s[i]);
      reference.accept_id(s[i]);
    }
    const std::size_t k = static_cast<std::size_t>(trial) % 16 + 1;
    for (std::size_t i = 0; i < k; ++i) live.accept_id(drafts[i]);
    ASSERT_TRUE(live.rollback(k));
    for (std::size_t i = cut; i < s.size(); ++i) {
      ASSERT_EQ(live.accept_id(s[i]), reference.accept_id(s[i])) << "trial " << trial << " token " << i;
      ASSERT_EQ(live.decision().stopped_at, reference.decision().stopped_at);
    }
  }
}

TEST(Repetition, RollbackPastTheWindowIsRefused) {
  auto o = rule(1, 2, 2);
  o.rollback_window = 4;
  repetition_detector d(o);
  for (int i = 0; i < 10; ++i) d.accept_id(i);
  EXPECT_EQ(d.rollback_limit(), 4u);
  EXPECT_FALSE(d.rollback(5));
  EXPECT_EQ(d.tokens(), 10u);
  EXPECT_TRUE(d.rollback(4));
  EXPECT_EQ(d.tokens(), 6u);
}

TEST(Repetition, ResetAndCloneAreIndependent) {
  repetition_detector d(rule(1, 2, 3));
  for (int id : {5, 5}) d.accept_id(id);
  repetition_detector fork = d.clone();
  d.accept_id(5);
  EXPECT_TRUE(d.stopped());
  EXPECT_FALSE(fork.stopped());
  fork.accept_id(6);
  EXPECT_FALSE(fork.stopped());
  d.reset();
  EXPECT_FALSE(d.stopped());
  EXPECT_EQ(d.tokens(), 0u);
  for (int id : {5, 5}) d.accept_id(id);
  EXPECT_FALSE(d.stopped());
}

TEST(Repetition, NoVerbAllocatesAfterConstruction) {
  repetition_detector d(rule(1, 64, 4));
  lil::guardian_or_repetition<> both(lil::guardian_options{}, rule(1, 16, 4));
  const std::string text = "token";
  const std::size_t before = lil::test::allocations();
  for (int i = 0; i < 5000; ++i) {
    d.accept_id(i % 97);
    d.accept(text);
    both.accept_token(i % 13, text);
    if (i % 50 == 0) {
      (void)d.rollback(3);
      (void)both.rollback(1);
    }
    (void)d.decision();
    (void)both.decision();
  }
  d.reset();
  both.reset();
  EXPECT_EQ(lil::test::allocations(), before);
}

TEST(Either, StopsAtTheEarlierRule) {
  lil::guardian_options g;  // the paper's rule: no stop before 500 tokens
  lil::guardian_or_repetition<> both(g, rule(1, 4, 8));
  for (int i = 0; i < 100; ++i) both.accept_token(i, "token " + std::to_string(i));
  EXPECT_FALSE(both.stopped());
  for (int i = 0; i < 7; ++i) both.accept_token(42, " again");
  EXPECT_FALSE(both.stopped());
  both.accept_token(42, " again");
  ASSERT_TRUE(both.stopped());
  EXPECT_EQ(both.decision().why, lil::reason::repetition);
  EXPECT_EQ(both.decision().stopped_at, 108u);
  EXPECT_FALSE(both.guardian_rule().stopped());
}

TEST(Either, RollbackIsBoundByBothRules) {
  lil::guardian_options g;
  g.rule.check_every = 10;
  auto r = rule(1, 2, 3);
  r.rollback_window = 3;
  lil::guardian_or_repetition<> both(g, r);
  for (int i = 0; i < 15; ++i) both.accept_id(i);
  EXPECT_EQ(both.rollback_limit(), 3u);  // guardian: 5 since the check at 10
  EXPECT_FALSE(both.rollback(4));
  EXPECT_TRUE(both.rollback(3));
  EXPECT_EQ(both.decision().tokens, 12u);
}

}  // namespace
