// guardian<>: the decode-loop verbs, checked against the paper's rule computed
// from scratch with zlib (tests/support/zlib_sizer.hpp). The guardian here runs
// on a zlib stand-in compressor, so these tests pin the guardian's own logic
// (buffering, checks, clone, rollback); guardian_engine_test.cpp runs the same
// properties on lil's DEFLATE engine.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "lil/guardian/guardian.hpp"
#include "support/allocation_counter.hpp"
#include "support/token_streams.hpp"
#include "support/zlib_sizer.hpp"


namespace {

using lil::guardian_options;
using lil::reason;
using lil::verdict;
using lil::test::oracle_rule;
using lil::test::zlib_recompressor;
using zguardian = lil::guardian<zlib_recompressor>;

guardian_options options_for(const oracle_rule& r) {
  guardian_options o;
  o.rule.check_every = static_cast<std::uint32_t>(r.f);
  o.rule.min_gain = r.t;
  o.rule.patience = r.patience;
  o.rule.warmup_tokens = r.warmup;
  o.rule.relative_gain = r.relative;
  o.rule.relative_checks = r.relative_checks;
  o.level = r.level;
  o.profile = lil::deflate::profile::zlib;
  o.curve_capacity = 100000;
  return o;
}

template <class G>
void accept_all(G& g, const std::vector<std::string>& tokens, std::size_t from = 0, std::size_t to = ~std::size_t{0}) {
  for (std::size_t i = from; i < tokens.size() && i < to; ++i) g.accept(tokens[i]);
}

template <class G>
std::vector<std::pair<std::uint64_t, std::uint64_t>> curve_of(const G& g) {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
  for (const auto& p : g.curve()) out.emplace_back(p.tokens, p.size);
  return out;
}

template <class G>
void expect_same_state(const G& a, const G& b) {
  EXPECT_EQ(a.tokens(), b.tokens());
  EXPECT_EQ(a.bytes(), b.bytes());
  EXPECT_EQ(curve_of(a), curve_of(b));
  const auto da = a.decision(), db = b.decision();
  EXPECT_EQ(da.action, db.action);
  EXPECT_EQ(da.why, db.why);
  EXPECT_EQ(da.stopped_at, db.stopped_at);
  EXPECT_EQ(da.last.point.size, db.last.point.size);
  EXPECT_EQ(da.last.gain, db.last.gain);
}

// Returns whether the oracle stopped, so that callers can check that both
// outcomes were exercised.
bool expect_matches_oracle(const std::vector<std::string>& tokens, const oracle_rule& rule) {
  zguardian g(options_for(rule));
  accept_all(g, tokens);
  const auto want = lil::test::zlib_oracle(tokens, rule);
  EXPECT_EQ(g.decision().stopped_at, want.stop) << "f=" << rule.f << " t=" << rule.t << " level=" << rule.level;
  EXPECT_EQ(curve_of(g), want.checks);
  EXPECT_EQ(g.decision().stop(), want.stop != 0);
  return want.stop != 0;
}

TEST(guardian, stop_matches_paper_rule_on_generated_streams) {
  int stopped = 0, went_on = 0;
  for (std::uint64_t seed = 1; seed <= 3; ++seed)
    for (std::uint64_t f : {1, 7, 50, 250})
      for (double t : {0.0, 5.0, 20.0, 60.0})
        for (int level : {1, 6, 9}) {
          oracle_rule r;
          r.f = f;
          r.t = t;
          r.level = level;
          const std::size_t total = static_cast<std::size_t>(std::min<std::uint64_t>(f * 12, 2000));
          const bool stop =
              expect_matches_oracle(lil::test::looping_stream(seed, total / 3, 13 + seed, total, seed == 3), r);
          (stop ? stopped : went_on) += 1;
        }
  EXPECT_GT(stopped, 20);
  EXPECT_GT(went_on, 20);
}

TEST(guardian, extensions_match_the_oracle_on_generated_streams) {
  int stopped = 0;
  for (std::uint64_t seed = 1; seed <= 4; ++seed) {
    const auto tokens = lil::test::looping_stream(seed, 900, 40, 4000, seed % 2 == 0);
    oracle_rule r;
    r.f = 100;
    r.patience = 3;
    stopped += expect_matches_oracle(tokens, r);
    r = oracle_rule{};
    r.f = 100;
    r.warmup = 2500;
    stopped += expect_matches_oracle(tokens, r);
    r = oracle_rule{};
    r.f = 100;
    r.t = 0;
    r.relative = 0.3;
    r.relative_checks = 5;
    stopped += expect_matches_oracle(tokens, r);
  }
  EXPECT_GT(stopped, 0);
}

TEST(guardian, looping_output_is_stopped_and_fresh_output_is_not) {
  oracle_rule r;
  zguardian looping(options_for(r));
  accept_all(looping, lil::test::looping_stream(11, 1000, 20, 5000));
  EXPECT_TRUE(looping.decision().stop());
  EXPECT_GT(looping.decision().stopped_at, 1000u);
  zguardian fresh(options_for(r));
  accept_all(fresh, lil::test::random_stream(12, 5000));
  EXPECT_FALSE(fresh.decision().stop());
}

TEST(guardian, no_check_before_f_tokens) {
  zguardian g(options_for(oracle_rule{}));
  const auto tokens = lil::test::random_stream(3, 249);
  accept_all(g, tokens);
  const auto d = g.decision();
  EXPECT_EQ(d.why, reason::no_check_yet);
  EXPECT_EQ(d.last.point.tokens, 0u);
  EXPECT_EQ(d.tokens, 249u);
  EXPECT_TRUE(g.curve().empty());
}

TEST(guardian, decision_reports_the_figures_of_the_last_check) {
  oracle_rule r;
  r.f = 50;
  const auto tokens = lil::test::random_stream(4, 180);
  zguardian g(options_for(r));
  accept_all(g, tokens);
  const auto want = lil::test::zlib_oracle(tokens, r);
  const auto d = g.decision();
  ASSERT_EQ(want.checks.size(), 3u);
  EXPECT_EQ(d.tokens, 180u);
  EXPECT_EQ(d.last.point.tokens, 150u);
  EXPECT_EQ(d.last.point.size, want.checks[2].second);
  EXPECT_EQ(d.last.gain, static_cast<std::int64_t>(want.checks[2].second) - static_cast<std::int64_t>(want.checks[1].second));
  EXPECT_EQ(d.last.threshold, 20.0);
  std::string first150;
  for (int i = 0; i < 150; ++i) first150 += tokens[i];
  EXPECT_EQ(d.last.point.bytes, first150.size());
}

TEST(guardian, stop_is_kept_while_more_tokens_arrive) {
  oracle_rule r;
  r.f = 100;
  zguardian g(options_for(r));
  auto tokens = lil::test::looping_stream(5, 400, 10, 1500);
  const auto more = lil::test::random_stream(6, 1500);
  tokens.insert(tokens.end(), more.begin(), more.end());
  std::uint64_t first = 0;
  for (const auto& t : tokens) {
    if (g.accept(t) == verdict::stop && first == 0) first = g.tokens();
  }
  ASSERT_NE(first, 0u);
  EXPECT_EQ(g.decision().stopped_at, first);
  EXPECT_TRUE(g.decision().stop());
  EXPECT_EQ(g.decision().why, reason::plateau);
  EXPECT_EQ(g.decision().last.why, reason::gaining);  // the curve went on rising
}

TEST(guardian, ids_stand_for_four_little_endian_bytes) {
  oracle_rule r;
  r.f = 30;
  std::mt19937 rng(7);
  std::vector<lil::token_id> ids;
  std::vector<std::string> as_text;
  for (int i = 0; i < 400; ++i) {
    const auto id = static_cast<lil::token_id>(i < 200 ? rng() % 32000 : (i % 7) * 11);
    ids.push_back(id);
    const auto u = static_cast<std::uint32_t>(id);
    as_text.push_back(std::string{static_cast<char>(u & 0xff), static_cast<char>((u >> 8) & 0xff),
                                  static_cast<char>((u >> 16) & 0xff), static_cast<char>(u >> 24)});
  }
  zguardian by_id(options_for(r)), by_text(options_for(r));
  for (auto id : ids) by_id.accept_raw_id(id);
  accept_all(by_text, as_text);
  expect_same_state(by_id, by_text);
  EXPECT_EQ(by_id.bytes(), 4u * ids.size());
  unsigned char b[4];
  lil::encode_token_id(-2, b);
  EXPECT_EQ(b[0], 0xfe);
  EXPECT_EQ(b[3], 0xff);
}

TEST(guardian, accepting_a_batch_equals_accepting_one_by_one) {
  oracle_rule r;
  r.f = 25;
  const auto tokens = lil::test::looping_stream(8, 300, 9, 1200);
  std::vector<std::string_view> views(tokens.begin(), tokens.end());
  zguardian one(options_for(r)), batched(options_for(r));
  accept_all(one, tokens);
  std::mt19937 rng(9);
  for (std::size_t i = 0; i < views.size();) {
    const std::size_t n = std::min<std::size_t>(1 + rng() % 60, views.size() - i);
    batched.accept(views.data() + i, n);
    i += n;
  }
  expect_same_state(one, batched);
  std::vector<lil::token_id> ids(500);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<lil::token_id>(i % 37);
  zguardian a(options_for(r)), b(options_for(r));
  for (auto id : ids) a.accept_raw_id(id);
  b.accept_raw_ids(ids.data(), 123);
  b.accept_raw_ids(ids.data() + 123, ids.size() - 123);
  expect_same_state(a, b);
}

TEST(guardian, clone_forks_an_independent_sequence) {
  oracle_rule r;
  r.f = 40;
  const auto prefix = lil::test::random_stream(10, 333);
  const auto left = lil::test::looping_stream(11, 10, 5, 600);
  const auto right = lil::test::random_stream(12, 600);
  zguardian g(options_for(r));
  accept_all(g, prefix);
  zguardian fork = g.clone();
  accept_all(g, left);
  accept_all(fork, right);

  zguardian want_left(options_for(r)), want_right(options_for(r));
  accept_all(want_left, prefix);
  accept_all(want_left, left);
  accept_all(want_right, prefix);
  accept_all(want_right, right);
  expect_same_state(g, want_left);
  expect_same_state(fork, want_right);
  EXPECT_NE(curve_of(g), curve_of(fork));
}

TEST(guardian, rollback_within_the_limit_is_as_if_never_accepted) {
  oracle_rule r;
  r.f = 50;
  const auto tokens = lil::test::looping_stream(13, 500, 17, 2000);
  const auto junk = lil::test::random_stream(14, 2000);
  std::mt19937 rng(15);
  zguardian g(options_for(r)), clean(options_for(r));
  std::size_t j = 0;
  for (const auto& t : tokens) {
    g.accept(t);
    clean.accept(t);
    // Drafts that fit before the next check, then rejected.
    const std::size_t room = 49 - (g.tokens() % 50);
    const std::size_t k = room == 0 ? 0 : rng() % (room + 1);
    for (std::size_t i = 0; i < k; ++i) g.accept(junk[j++ % junk.size()]);
    ASSERT_TRUE(g.rollback(k));
  }
  expect_same_state(g, clean);
}

TEST(guardian, rollback_can_return_only_to_the_last_check) {
  oracle_rule r;
  r.f = 10;
  const auto tokens = lil::test::random_stream(16, 40);
  zguardian g(options_for(r));
  accept_all(g, tokens, 0, 13);  // check at 10, three tokens since
  EXPECT_EQ(g.rollback_limit(), 3u);
  const zguardian before = g;
  EXPECT_FALSE(g.rollback(4));  // refused: would cross the check at n = 10
  expect_same_state(g, before);
  EXPECT_EQ(g.rollback_limit(), 3u);
  EXPECT_TRUE(g.rollback(3));
  EXPECT_EQ(g.tokens(), 10u);
  EXPECT_EQ(g.rollback_limit(), 0u);
  EXPECT_FALSE(g.rollback(1));
  EXPECT_TRUE(g.rollback(0));
  // And the sequence continues as if the three had never come.
  accept_all(g, tokens, 10, 40);
  zguardian want(options_for(r));
  accept_all(want, tokens);
  expect_same_state(g, want);
}

TEST(guardian, rollback_limit_is_zero_right_after_a_check) {
  oracle_rule r;
  r.f = 5;
  zguardian g(options_for(r));
  accept_all(g, lil::test::random_stream(17, 5));
  EXPECT_EQ(g.curve().size(), 1u);
  EXPECT_EQ(g.rollback_limit(), 0u);
  EXPECT_FALSE(g.rollback(1));
}

TEST(guardian, full_buffer_commits_early_and_limits_rollback) {
  oracle_rule r;
  r.f = 100;
  auto o = options_for(r);
  o.pending_capacity = 16;
  zguardian g(o);
  const std::vector<std::string> five = {"aaaaa", "bbbbb", "ccccc", "ddddd", "eeeee"};
  accept_all(g, five, 0, 3);  // 15 bytes buffered
  EXPECT_EQ(g.rollback_limit(), 3u);
  g.accept(five[3]);  // does not fit: the 15 bytes go to the compressor
  EXPECT_EQ(g.rollback_limit(), 1u);
  EXPECT_FALSE(g.rollback(2));
  EXPECT_TRUE(g.rollback(1));
  EXPECT_EQ(g.tokens(), 3u);
  EXPECT_EQ(g.bytes(), 15u);
  // Early commits never change the sizes: the whole stream still matches.
  const auto tokens = lil::test::looping_stream(18, 700, 23, 3000);
  zguardian small(o);
  accept_all(small, tokens);
  const auto want = lil::test::zlib_oracle(tokens, r);
  EXPECT_EQ(curve_of(small), want.checks);
  EXPECT_EQ(small.decision().stopped_at, want.stop);
}

TEST(guardian, token_larger_than_the_buffer_is_fed_at_once) {
  oracle_rule r;
  r.f = 4;
  auto o = options_for(r);
  o.pending_capacity = 8;
  zguardian g(o);
  std::vector<std::string> tokens = {"ab", std::string(100, 'x') + "yz", "cd", "ef", "gh", "ij", "kl", "mn"};
  accept_all(g, tokens, 0, 2);
  EXPECT_EQ(g.rollback_limit(), 0u);
  EXPECT_FALSE(g.rollback(1));
  accept_all(g, tokens, 2);
  const auto want = lil::test::zlib_oracle(tokens, r);
  EXPECT_EQ(curve_of(g), want.checks);
  EXPECT_EQ(g.bytes(), 2u + 102u + 12u);
}

TEST(guardian, empty_tokens_count_as_tokens) {
  oracle_rule r;
  r.f = 3;
  zguardian g(options_for(r));
  std::vector<std::string> tokens = {"", "", "", "abc", "", "", ""};
  accept_all(g, tokens);
  EXPECT_EQ(g.tokens(), 7u);
  EXPECT_EQ(curve_of(g), lil::test::zlib_oracle(tokens, r).checks);
  EXPECT_TRUE(g.rollback(1));
  EXPECT_EQ(g.bytes(), 3u);
}

TEST(guardian, reset_is_a_fresh_sequence) {
  oracle_rule r;
  r.f = 30;
  zguardian g(options_for(r));
  accept_all(g, lil::test::looping_stream(19, 100, 5, 900));
  ASSERT_TRUE(g.decision().stop());
  g.reset();
  EXPECT_EQ(g.tokens(), 0u);
  EXPECT_FALSE(g.decision().stop());
  EXPECT_TRUE(g.curve().empty());
  const auto tokens = lil::test::random_stream(20, 500);
  accept_all(g, tokens);
  zguardian fresh(options_for(r));
  accept_all(fresh, tokens);
  expect_same_state(g, fresh);
}

TEST(guardian, bad_options_name_the_field) {
  auto expect_error = [](const guardian_options& o, const std::string& field) {
    try {
      zguardian g(o);
      FAIL() << "no error for " << field;
    } catch (const lil::error& e) {
      EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
  };
  guardian_options o;
  o.level = 0;
  expect_error(o, "level");
  o.level = 10;
  expect_error(o, "level");
  o = guardian_options{};
  o.rule.check_every = 0;
  expect_error(o, "check_every");
  o = guardian_options{};
  o.rule.min_gain = -3;
  expect_error(o, "min_gain");
  o = guardian_options{};
  o.pending_capacity = std::size_t{1} << 31;
  expect_error(o, "pending_capacity");
}

// A compressor stand-in that never allocates, so the test below sees only the
// guardian's own allocations. Its "size" is a cheap function of the bytes.
struct non_allocating_sizer {
  explicit non_allocating_sizer(const lil::deflate::options& = {}) {}
  void feed(const void* data, std::size_t size) noexcept {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < size; ++i) distinct_ += (p[i] * 131u + 7u) % 3 == 0;
  }
  std::uint64_t size_if_finished() noexcept { return distinct_; }
  void reset() noexcept { distinct_ = 0; }
  std::uint64_t distinct_ = 0;
};

TEST(guardian, per_token_path_never_allocates) {
  guardian_options o;
  o.rule.check_every = 16;
  o.pending_capacity = 32;  // forces early commits too
  o.curve_capacity = 8;     // and a full curve
  lil::guardian<non_allocating_sizer> g(o);
  const auto tokens = lil::test::looping_stream(21, 500, 7, 3000);
  std::vector<std::string_view> views(tokens.begin(), tokens.end());
  std::vector<lil::token_id> ids(300, 5);
  const std::size_t before = lil::test::allocations();
  std::size_t stops = 0;
  for (std::size_t i = 0; i < 1000; ++i) {
    stops += g.accept(views[i]) == verdict::stop;
    if (i % 5 == 0) stops += g.rollback(g.rollback_limit() / 2);
  }
  g.accept(views.data() + 1000, 1000);
  g.accept_raw_ids(ids.data(), ids.size());
  g.accept_raw_id(3);
  stops += g.decision().stop();
  g.reset();
  g.accept(views[0]);
  EXPECT_EQ(lil::test::allocations(), before);
  (void)stops;
}

TEST(guardian, state_bytes_counts_buffers_and_curve) {
  guardian_options o;
  o.pending_capacity = 1000;
  o.curve_capacity = 10;
  lil::guardian<non_allocating_sizer> g(o);
  EXPECT_EQ(g.state_bytes(), sizeof(g) + 1000 + 250 * sizeof(std::uint32_t) + 10 * sizeof(lil::check_point));
  EXPECT_EQ(g.pending_capacity(), 1000u);
}

}  // namespace
