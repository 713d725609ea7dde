// The streaming compressor: exact size reports at any moment, any chunking,
// clones and resets - each checked against compressing from scratch.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "lil/deflate/compressor.hpp"
#include "support/deflate_oracle.hpp"

namespace lil::deflate {
namespace {

using test::bytes;

options make_options(int level, profile p, bool keep_output = false) {
  options o;
  o.level = level;
  o.profile = p;
  o.keep_output = keep_output;
  return o;
}

std::vector<bytes> sample_inputs() {
  std::vector<bytes> inputs = {test::wordy(150000, 1), test::periodic(120000, 300, 2), test::random_bytes(70000, 3),
                               bytes(90000, 'x')};
#ifdef LIL_TEST_CORPUS
  inputs.push_back(test::read_all(std::string(LIL_TEST_CORPUS) + "/alice29.txt"));
  inputs.push_back(test::read_all(std::string(LIL_TEST_CORPUS) + "/kennedy.xls"));
#endif
  return inputs;
}

// Feeds `data` in random chunks, reporting at random moments; every report
// must equal the from-scratch size of the prefix fed so far.
void check_reports(const bytes& data, int level, profile p, std::uint32_t seed, bool against_oracle) {
  SCOPED_TRACE("level " + std::to_string(level) + " profile " + profile_name(p));
  std::mt19937 rng(seed);
  compressor c(make_options(level, p));
  std::size_t fed = 0;
  int oracle_checks = 0;
  while (fed < data.size()) {
    // Mostly steps of about 1/50 of the input, sometimes a few bytes, sometimes 64 KiB.
    const unsigned kind = rng() % 8;
    std::size_t chunk = kind == 0 ? 1 + rng() % 16 : kind == 1 ? 1 + rng() % 65536 : 1 + rng() % (data.size() / 25 + 1);
    chunk = std::min(chunk, data.size() - fed);
    c.feed(data.data() + fed, chunk);
    fed += chunk;
    const std::uint64_t reported = c.size_if_finished();
    ASSERT_EQ(reported, c.size_if_finished()) << "a second report differs at " << fed;
    const std::uint64_t scratch = deflate_size(data.data(), fed, make_options(level, p));
    ASSERT_EQ(reported, scratch) << "prefix of " << fed << " bytes";
    if (against_oracle && oracle_checks < 12 && rng() % 8 == 0) {
      ++oracle_checks;
      bytes prefix(data.begin(), data.begin() + static_cast<long>(fed));
      std::uint64_t reference = p == profile::zlib ? test::zlib_raw_size(prefix.data(), prefix.size(), level)
                                                   : test::gzip_oracle(prefix, level).size() - 18;
      ASSERT_EQ(reported, reference) << "reference disagrees on a prefix of " << fed << " bytes";
    }
  }
}

TEST(size_report, equals_from_scratch_size_of_every_prefix) {
  std::uint32_t seed = 1;
  for (const bytes& data : sample_inputs())
    for (int level : {1, 3, 4, 6, 9})
      for (profile p : {profile::gzip, profile::zlib}) check_reports(data, level, p, ++seed, level == 6 || level == 1);
}

TEST(size_report, equals_from_scratch_at_every_byte_of_a_short_input) {
  bytes data = test::wordy(1500, 7);
  for (int level : {1, 6, 9})
    for (profile p : {profile::gzip, profile::zlib}) {
      compressor c(make_options(level, p));
      for (std::size_t i = 0; i < data.size(); ++i) {
        ASSERT_EQ(c.size_if_finished(), deflate_size(data.data(), i, make_options(level, p))) << "prefix " << i;
        c.feed(&data[i], 1);
      }
    }
}

TEST(size_report, leaves_the_stream_unchanged) {
  bytes data = test::wordy(200000, 11);
  for (profile p : {profile::gzip, profile::zlib})
    for (int level : {2, 6, 9}) {
      compressor plain(make_options(level, p, true));
      compressor probed(make_options(level, p, true));
      plain.feed(data.data(), data.size());
      for (std::size_t i = 0; i < data.size(); i += 777) {
        probed.feed(data.data() + i, std::min<std::size_t>(777, data.size() - i));
        (void)probed.size_if_finished();
      }
      plain.finish();
      probed.finish();
      EXPECT_TRUE(plain.output() == probed.output()) << profile_name(p) << " level " << level;
      EXPECT_EQ(probed.size_if_finished(), probed.output().size());
    }
}

// In sizes-only mode a report keeps the steps of its tail parse that more
// input cannot change. A compressor that keeps output keeps none, so the two
// must agree at every report - asked twice in a row too, and right before and
// after the window slides (small chunks put reports on both sides of the
// slide line) - and must end in the same stream.
TEST(size_report, kept_tail_progress_changes_no_report_and_no_output) {
  std::vector<bytes> inputs = {test::wordy(200000, 5), test::random_bytes(80000, 6)};
  for (const bytes& data : inputs)
    for (profile p : {profile::gzip, profile::zlib})
      for (int level : {1, 4, 6, 9}) {
        SCOPED_TRACE("level " + std::to_string(level) + " profile " + profile_name(p));
        std::mt19937 rng(static_cast<std::uint32_t>(level * 31 + static_cast<int>(p)));
        compressor sizes(make_options(level, p));
        compressor kept(make_options(level, p, true));
        for (std::size_t fed = 0; fed < data.size();) {
          const std::size_t n = std::min<std::size_t>(data.size() - fed, 1 + rng() % 700);
          sizes.feed(data.data() + fed, n);
          kept.feed(data.data() + fed, n);
          fed += n;
          const std::uint64_t size = sizes.size_if_finished();
          ASSERT_EQ(size, kept.size_if_finished()) << "after " << fed << " bytes";
          if (rng() % 4 == 0) {
            ASSERT_EQ(sizes.size_if_finished(), size) << "asked again after " << fed << " bytes";
          }
        }
        sizes.finish();
        kept.finish();
        EXPECT_EQ(sizes.size_if_finished(), kept.output().size());
      }
}

TEST(chunking, never_changes_the_output) {
  bytes data = test::wordy(300000, 21);
  data.insert(data.end(), 70000, 'z');
  bytes more = test::random_bytes(50000, 22);
  data.insert(data.end(), more.begin(), more.end());
  std::mt19937 rng(5);
  for (profile p : {profile::gzip, profile::zlib})
    for (int level : {1, 6, 9}) {
      bytes whole = compress(data.data(), data.size(), make_options(level, p));
      for (std::size_t max_chunk : {1u, 7u, 4096u, 65536u}) {
        if (max_chunk == 1 && level != 6) continue;  // byte-at-a-time is slow; one level suffices
        compressor c(make_options(level, p, true));
        bytes streamed;
        for (std::size_t i = 0; i < data.size();) {
          std::size_t n = std::min<std::size_t>(1 + rng() % max_chunk, data.size() - i);
          c.feed(data.data() + i, n);
          i += n;
          bytes part = c.take_output();
          streamed.insert(streamed.end(), part.begin(), part.end());
        }
        c.finish();
        bytes tail = c.take_output();
        streamed.insert(streamed.end(), tail.begin(), tail.end());
        EXPECT_TRUE(streamed == whole) << profile_name(p) << " level " << level << " chunks up to " << max_chunk;
      }
    }
}

TEST(clone, continues_independently_of_its_original) {
  bytes a = test::wordy(100000, 31), b = test::random_bytes(40000, 32), c2 = test::wordy(60000, 33);
  compressor original(make_options(6, profile::gzip, true));
  original.feed(a.data(), a.size());
  compressor fork = original;
  original.feed(b.data(), b.size());
  fork.feed(c2.data(), c2.size());
  original.finish();
  fork.finish();
  bytes ab = a, ac = a;
  ab.insert(ab.end(), b.begin(), b.end());
  ac.insert(ac.end(), c2.begin(), c2.end());
  EXPECT_TRUE(original.output() == compress(ab.data(), ab.size(), make_options(6, profile::gzip)));
  EXPECT_TRUE(fork.output() == compress(ac.data(), ac.size(), make_options(6, profile::gzip)));
}

TEST(reset, gives_a_fresh_stream_with_the_same_options) {
  bytes a = test::wordy(80000, 41), b = test::wordy(30000, 42);
  compressor c(make_options(9, profile::zlib, true));
  c.feed(a.data(), a.size());
  c.finish();
  c.reset();
  EXPECT_FALSE(c.finished());
  EXPECT_EQ(c.bytes_in(), 0u);
  c.feed(b.data(), b.size());
  c.finish();
  EXPECT_TRUE(c.output() == compress(b.data(), b.size(), make_options(9, profile::zlib)));
}

TEST(errors, feed_after_finish_is_refused) {
  compressor c;
  c.finish();
  EXPECT_THROW(c.feed("x", 1), lil::error);
}

TEST(errors, bad_level_is_refused_naming_the_value) {
  for (int level : {0, 10, -1}) {
    try {
      compressor c(make_options(level, profile::gzip));
      FAIL() << "level " << level << " accepted";
    } catch (const lil::error& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(level)), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("level"), std::string::npos) << e.what();
    }
  }
}

TEST(memory, state_stays_within_300_KiB_and_size_only_is_smaller) {
  for (profile p : {profile::gzip, profile::zlib}) {
    std::size_t full = compressor::state_bytes(make_options(6, p, true));
    std::size_t size_only = compressor::state_bytes(make_options(6, p, false));
    EXPECT_LE(full, 300u * 1024u) << profile_name(p);
    EXPECT_LT(size_only, full);
    EXPECT_LE(size_only, 200u * 1024u);
  }
}

}  // namespace
}  // namespace lil::deflate
