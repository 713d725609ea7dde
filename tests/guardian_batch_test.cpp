// guardian_batch: one serving step for many sequences equals driving each
// sequence's guardian on its own.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "lil/guardian/batch.hpp"
#include "support/token_streams.hpp"
#include "support/zlib_sizer.hpp"

namespace {

using lil::verdict;
using zbatch = lil::guardian_batch<lil::test::zlib_recompressor>;
using zguardian = lil::guardian<lil::test::zlib_recompressor>;

lil::guardian_options small_interval() {
  lil::guardian_options o;
  o.rule.check_every = 40;
  o.profile = lil::deflate::profile::zlib;
  o.curve_capacity = 64;
  return o;
}

// Sequence i: a loop for odd i (it should stop), fresh text for even i; some
// sequences skip some steps (they have no token then).
std::vector<std::vector<std::string>> streams(std::size_t n, std::size_t steps) {
  std::vector<std::vector<std::string>> s;
  for (std::size_t i = 0; i < n; ++i)
    s.push_back(i % 2 ? lil::test::looping_stream(100 + i, 90, 5 + i % 4, steps)
                      : lil::test::random_stream(200 + i, steps));
  return s;
}
bool skips(std::size_t seq, std::size_t step) { return (seq * 7 + step) % 11 == 0; }

TEST(guardian_batch, a_step_equals_each_sequence_on_its_own) {
  const std::size_t n = 12, steps = 400;
  const auto s = streams(n, steps);
  zbatch batch(n, small_interval());
  std::vector<zguardian> alone(n, zguardian(small_interval()));
  std::vector<std::string_view> texts(n);
  std::vector<verdict> verdicts(n);
  for (std::size_t step = 0; step < steps; ++step) {
    for (std::size_t i = 0; i < n; ++i) {
      texts[i] = skips(i, step) ? std::string_view() : std::string_view(s[i][step]);
      if (!skips(i, step)) alone[i].accept(s[i][step]);
    }
    const std::size_t stops = batch.accept_texts(texts.data(), verdicts.data());
    std::size_t want_stops = 0;
    for (std::size_t i = 0; i < n; ++i) {
      ASSERT_EQ(verdicts[i], alone[i].decision().action) << "sequence " << i << " step " << step;
      want_stops += alone[i].stopped();
    }
    ASSERT_EQ(stops, want_stops);
  }
  std::size_t stopped = 0;
  for (std::size_t i = 0; i < n; ++i) {
    EXPECT_EQ(batch[i].tokens(), alone[i].tokens());
    EXPECT_EQ(batch[i].decision().stopped_at, alone[i].decision().stopped_at);
    EXPECT_EQ(batch[i].curve().size(), alone[i].curve().size());
    stopped += batch[i].stopped();
  }
  EXPECT_EQ(batch.stopped_count(), stopped);
  EXPECT_GT(stopped, 0u);
  EXPECT_LT(stopped, n);
}

TEST(guardian_batch, ids_step_skips_no_token) {
  const std::size_t n = 5;
  zbatch batch(n, small_interval());
  std::vector<lil::token_id> ids(n);
  for (int step = 0; step < 200; ++step) {
    for (std::size_t i = 0; i < n; ++i) ids[i] = i == 2 ? lil::no_token : static_cast<lil::token_id>(step % 3 + i);
    batch.accept_raw_ids(ids.data(), nullptr, 0, n);
  }
  EXPECT_EQ(batch[0].tokens(), 200u);
  EXPECT_EQ(batch[2].tokens(), 0u);
  EXPECT_EQ(batch[1].bytes(), 800u);
  EXPECT_TRUE(batch[1].stopped());
}

TEST(guardian_batch, ranges_cover_the_step_in_pieces) {
  const std::size_t n = 9, steps = 300;
  const auto s = streams(n, steps);
  zbatch whole(n, small_interval()), pieces(n, small_interval());
  std::vector<std::string_view> texts(n);
  std::vector<verdict> a(n), b(n);
  for (std::size_t step = 0; step < steps; ++step) {
    for (std::size_t i = 0; i < n; ++i) texts[i] = s[i][step];
    const std::size_t stops_whole = whole.accept_texts(texts.data(), a.data());
    const std::size_t stops_pieces = pieces.accept_texts(texts.data(), b.data(), 0, 4) +
                                     pieces.accept_texts(texts.data(), b.data(), 4, n);
    ASSERT_EQ(a, b);
    ASSERT_EQ(stops_whole, stops_pieces);
  }
}

TEST(guardian_batch, reset_frees_a_slot_for_a_new_request) {
  const std::size_t n = 3;
  const auto s = streams(n, 400);
  zbatch batch(n, small_interval());
  std::vector<std::string_view> texts(n);
  for (std::size_t step = 0; step < 400; ++step) {
    for (std::size_t i = 0; i < n; ++i) texts[i] = s[i][step];
    batch.accept_texts(texts.data());
  }
  ASSERT_TRUE(batch[1].stopped());
  batch.reset(1);
  EXPECT_FALSE(batch[1].stopped());
  EXPECT_EQ(batch[1].tokens(), 0u);
  EXPECT_EQ(batch[0].tokens(), 400u);
  batch.reset();
  EXPECT_EQ(batch.stopped_count(), 0u);
  EXPECT_EQ(batch[0].tokens(), 0u);
}

TEST(guardian_batch, state_bytes_is_the_sum_of_the_sequences) {
  zbatch batch(4, small_interval());
  EXPECT_GE(batch.state_bytes(), 4 * batch[0].state_bytes());
  EXPECT_EQ(batch.size(), 4u);
}

}  // namespace
