// The engine against the real references: byte-identical output to GNU gzip
// (profile gzip) and to zlib's compress2 (profile zlib) at every level, and
// every raw stream inflates back to its input.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lil/deflate/compressor.hpp"
#include "support/deflate_oracle.hpp"

namespace lil::deflate {
namespace {

using test::bytes;

bytes encode(const bytes& data, int level, profile p, container box) {
  options o;
  o.level = level;
  o.profile = p;
  return compress(data.data(), data.size(), o, box);
}

void expect_identical_to_references(const bytes& data, int level, const std::string& what) {
  SCOPED_TRACE(what + " at level " + std::to_string(level));
  bytes ours_gzip = encode(data, level, profile::gzip, container::gzip);
  bytes gzip = test::gzip_oracle(data, level);
  ASSERT_EQ(ours_gzip.size(), gzip.size());
  EXPECT_TRUE(ours_gzip == gzip) << "gzip profile output differs from gzip -n";

  bytes ours_zlib = encode(data, level, profile::zlib, container::zlib);
  bytes zlib = test::zlib_oracle(data, level);
  ASSERT_EQ(ours_zlib.size(), zlib.size());
  EXPECT_TRUE(ours_zlib == zlib) << "zlib profile output differs from compress2";

  for (profile p : {profile::gzip, profile::zlib}) {
    bytes raw = encode(data, level, p, container::raw);
    EXPECT_TRUE(test::inflate_raw(raw) == data) << profile_name(p) << " raw stream does not round-trip";
    options o;
    o.level = level;
    o.profile = p;
    EXPECT_EQ(deflate_size(data.data(), data.size(), o), raw.size());
  }
}

#ifdef LIL_TEST_CORPUS
class corpus_file : public ::testing::TestWithParam<std::string> {};

TEST_P(corpus_file, output_is_byte_identical_to_gzip_and_zlib_at_every_level) {
  const std::string path = std::string(LIL_TEST_CORPUS) + "/" + GetParam();
  bytes data = test::read_all(path);
  for (int level = 1; level <= 9; ++level) expect_identical_to_references(data, level, GetParam());
}

INSTANTIATE_TEST_SUITE_P(canterbury, corpus_file,
                         ::testing::Values("alice29.txt", "asyoulik.txt", "cp.html", "fields.c", "grammar.lsp",
                                           "kennedy.xls", "lcet10.txt", "plrabn12.txt", "ptt5", "sum", "xargs.1"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& ch : name)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return name;
                         });
#endif

struct generated {
  std::string name;
  bytes data;
};

std::vector<generated> generated_inputs() {
  const std::size_t mib = 1 << 20;
  return {
      {"empty", {}},
      {"one_byte", {0x41}},
      {"two_bytes", {0x41, 0x41}},
      {"zeros_1MiB", bytes(mib, 0)},
      {"random_1MiB", test::random_bytes(mib, 1)},
      {"period_7_repeats", test::periodic(300000, 7, 2)},
      {"period_just_under_32KiB", test::periodic(200000, 32767, 3)},
      {"period_32KiB", test::periodic(200000, 32768, 4)},
      {"period_just_over_32KiB", test::periodic(200000, 32769, 5)},
      {"period_257", test::periodic(100000, 257, 6)},
      {"period_258", test::periodic(100000, 258, 7)},
      {"period_259", test::periodic(100000, 259, 8)},
      {"wordy_text", test::wordy(400000, 9)},
  };
}

TEST(generated_input, output_is_byte_identical_to_gzip_and_zlib) {
  for (const auto& g : generated_inputs())
    for (int level : {1, 2, 3, 4, 6, 9}) expect_identical_to_references(g.data, level, g.name);
}

// The end of the input is where gzip and zlib differ most: their buffers
// slide every 32 KiB, refill below 262 bytes of lookahead, and gzip reads
// past the end. Every length around those lines, for data whose matches run
// into the end.
TEST(generated_input, lengths_around_window_slides_are_byte_identical) {
  std::vector<std::size_t> lengths;
  for (std::size_t base : {262u, 32768u, 65274u, 65536u, 98042u, 98304u, 131072u, 163578u})
    for (int delta : {-3, -2, -1, 0, 1, 2, 3, 257, 258, 259, 261})
      if (static_cast<long>(base) + delta >= 0) lengths.push_back(base + static_cast<std::size_t>(delta));
  std::uint32_t seed = 100;
  for (std::size_t n : lengths) {
    ++seed;
    std::vector<generated> inputs = {
        {"periodic_5", test::periodic(n, 5, seed)},
        {"periodic_4096", test::periodic(n, 4096, seed)},
        {"periodic_32768", test::periodic(n, 32768, seed)},
        {"wordy", test::wordy(n, seed, 12)},
        {"zeros", bytes(n, 0)},
    };
    for (const auto& g : inputs)
      for (int level : {1, 3, 4, 6, 9}) expect_identical_to_references(g.data, level, g.name + "_" + std::to_string(n));
  }
}

}  // namespace
}  // namespace lil::deflate
