// guardian<> on lil's DEFLATE engine (what engines link): the rule's sizes and
// stops equal the from-scratch computations - zlib itself in the zlib profile,
// lil's engine recompressing from scratch in the gzip profile - and the
// per-token path never allocates.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "lil/guardian/guardian.hpp"
#include "support/engine_recompressor.hpp"
#include "support/allocation_counter.hpp"
#include "support/token_streams.hpp"
#include "support/zlib_sizer.hpp"


namespace {

using lil::deflate::profile;
using lil::test::oracle_rule;

lil::guardian_options options_for(const oracle_rule& r, profile p) {
  lil::guardian_options o;
  o.rule.check_every = static_cast<std::uint32_t>(r.f);
  o.rule.min_gain = r.t;
  o.rule.patience = r.patience;
  o.rule.warmup_tokens = r.warmup;
  o.rule.relative_gain = r.relative;
  o.rule.relative_checks = r.relative_checks;
  o.level = r.level;
  o.profile = p;
  o.curve_capacity = 100000;
  return o;
}

template <class G>
std::vector<std::pair<std::uint64_t, std::uint64_t>> run(G g, const std::vector<std::string>& tokens,
                                                         std::uint64_t* stop) {
  for (const auto& t : tokens) g.accept(t);
  *stop = g.decision().stopped_at;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
  for (const auto& p : g.curve()) out.emplace_back(p.tokens, p.size);
  return out;
}

std::vector<std::vector<std::string>> streams() {
  std::vector<std::vector<std::string>> s;
  s.push_back(lil::test::looping_stream(1, 3000, 37, 12000));
  s.push_back(lil::test::looping_stream(2, 1500, 400, 9000, true));
  s.push_back(lil::test::random_stream(3, 10000));
  // Long enough that the window slides many times over (32 KiB at ~4 B/token).
  s.push_back(lil::test::looping_stream(4, 30000, 2100, 40000));
  return s;
}

TEST(guardian_engine, zlib_profile_equals_zlib_from_scratch) {
  int stopped = 0;
  for (const auto& tokens : streams())
    for (int level : {1, 4, 6, 9})
      for (std::uint64_t f : {97, 250}) {
        oracle_rule r;
        r.f = f;
        r.level = level;
        std::uint64_t stop = 0;
        const auto curve = run(lil::guardian<>(options_for(r, profile::zlib)), tokens, &stop);
        const auto want = lil::test::zlib_oracle(tokens, r);
        ASSERT_EQ(curve, want.checks) << "level " << level << " f " << f;
        EXPECT_EQ(stop, want.stop);
        stopped += stop != 0;
      }
  EXPECT_GT(stopped, 0);
}

TEST(guardian_engine, incremental_equals_recompress_in_both_profiles) {
  for (profile p : {profile::gzip, profile::zlib})
    for (const auto& tokens : streams())
      for (int level : {1, 6, 9}) {
        oracle_rule r;
        r.level = level;
        r.f = 250;
        const auto o = options_for(r, p);
        std::uint64_t stop_inc = 0, stop_rec = 0;
        const auto inc = run(lil::guardian<>(o), tokens, &stop_inc);
        const auto rec = run(lil::guardian<lil::test::engine_recompressor>(o), tokens, &stop_rec);
        ASSERT_EQ(inc, rec) << lil::deflate::profile_name(p) << " level " << level;
        EXPECT_EQ(stop_inc, stop_rec);
      }
}

TEST(guardian_engine, extensions_equal_the_oracle) {
  const auto tokens = lil::test::looping_stream(5, 2500, 50, 9000, true);
  for (int variant = 0; variant < 3; ++variant) {
    oracle_rule r;
    r.f = 200;
    if (variant == 0) r.patience = 3;
    if (variant == 1) r.warmup = 6000;
    if (variant == 2) {
      r.t = 0;
      r.relative = 0.2;
    }
    std::uint64_t stop = 0;
    const auto curve = run(lil::guardian<>(options_for(r, profile::zlib)), tokens, &stop);
    const auto want = lil::test::zlib_oracle(tokens, r);
    EXPECT_EQ(curve, want.checks);
    EXPECT_EQ(stop, want.stop) << "variant " << variant;
    EXPECT_NE(want.stop, 0u) << "variant " << variant;
  }
}

TEST(guardian_engine, clone_and_rollback_keep_sizes_exact) {
  const auto tokens = lil::test::looping_stream(6, 3000, 60, 8000);
  const auto junk = lil::test::random_stream(7, 200);
  oracle_rule r;
  r.f = 250;
  lil::guardian<> g(options_for(r, profile::gzip));
  for (std::size_t i = 0; i < 4000; ++i) g.accept(tokens[i]);
  auto fork = g.clone();
  for (std::size_t i = 4000; i < tokens.size(); ++i) {
    g.accept(tokens[i]);
    fork.accept(tokens[i]);
    if (i % 250 == 100) {
      for (int k = 0; k < 30; ++k) fork.accept(junk[k]);
      ASSERT_TRUE(fork.rollback(30));
    }
  }
  std::uint64_t stop = 0;
  const auto want = run(lil::guardian<lil::test::engine_recompressor>(options_for(r, profile::gzip)), tokens, &stop);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> a, b;
  for (const auto& p : g.curve()) a.emplace_back(p.tokens, p.size);
  for (const auto& p : fork.curve()) b.emplace_back(p.tokens, p.size);
  EXPECT_EQ(a, want);
  EXPECT_EQ(b, want);
  EXPECT_EQ(fork.decision().stopped_at, stop);
}

// The counter must see what the engine allocates: its window is alignas(64),
// so it comes through the aligned operator new, which a counter replacing only
// the plain form would miss (a 200 KiB copy counted as 0 allocations).
TEST(guardian_engine, allocation_counter_sees_the_engines_aligned_allocations) {
  struct alignas(64) cache_line { unsigned char bytes[64]; };
  std::size_t before = lil::test::allocations();
  auto line = std::make_unique<cache_line>();
  EXPECT_GT(lil::test::allocations(), before);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(line.get()) % 64, 0u);
  lil::deflate::compressor c;
  c.feed("some bytes", 10);
  before = lil::test::allocations();
  lil::deflate::compressor copy = c;
  EXPECT_GT(lil::test::allocations(), before);
  EXPECT_EQ(copy.size_if_finished(), c.size_if_finished());
}

TEST(guardian_engine, per_token_path_never_allocates) {
  for (profile p : {profile::gzip, profile::zlib}) {
    lil::guardian_options o;
    o.profile = p;
    o.curve_capacity = 16;  // fills up: recording past it must not allocate either
    lil::guardian<> g(o);
    const auto tokens = lil::test::looping_stream(8, 20000, 300, 60000);
    std::vector<lil::token_id> ids(5000);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<lil::token_id>(i * 31 % 32000);
    const std::size_t before = lil::test::allocations();
    std::size_t stops = 0;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      stops += g.accept(tokens[i]) == lil::verdict::stop;
      if (i % 7 == 0) stops += g.rollback(g.rollback_limit() / 2);
    }
    g.reset();
    g.accept_ids(ids.data(), ids.size());
    stops += g.decision().stop();
    EXPECT_EQ(lil::test::allocations(), before) << lil::deflate::profile_name(p);
    (void)stops;
  }
}

}  // namespace
