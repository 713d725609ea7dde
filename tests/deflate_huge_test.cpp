// A stream past 4 GiB: 64-bit counters, and a round trip checked on the fly
// (the input is regenerated, never stored). Labelled `long`.
#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include "lil/deflate/compressor.hpp"

namespace lil::deflate {
namespace {

// Deterministic input, chunk by chunk, cheap to regenerate: each chunk is a
// window into a fixed mix of text-like words and noise, at an offset that
// moves with the chunk number, with the chunk number stamped into it.
class source {
 public:
  explicit source(std::uint32_t seed) : pool_(pool_size + (1 << 20)) {
    std::mt19937 rng(seed);
    for (std::size_t i = 0; i < pool_.size();) {
      if (rng() % 64 == 0) {
        for (unsigned k = 0, n = 200 + rng() % 3000; k < n && i < pool_.size(); ++k)
          pool_[i++] = static_cast<unsigned char>(rng());
      } else {
        unsigned w = rng() % 50;
        for (unsigned k = 0; k < 3 + w % 6 && i < pool_.size(); ++k)
          pool_[i++] = static_cast<unsigned char>('a' + (w * 7 + k) % 26);
        if (i < pool_.size()) pool_[i++] = ' ';
      }
    }
  }
  void next(std::vector<unsigned char>& chunk) {
    const std::size_t offset = (chunk_ * 7919u) % pool_size;
    std::copy(pool_.begin() + static_cast<long>(offset), pool_.begin() + static_cast<long>(offset + chunk.size()),
              chunk.begin());
    for (std::size_t i = 0; i < 8 && i < chunk.size(); ++i) chunk[i] = static_cast<unsigned char>(chunk_ >> (8 * i));
    ++chunk_;
  }

 private:
  static constexpr std::size_t pool_size = 1 << 20;
  std::vector<unsigned char> pool_;
  std::uint64_t chunk_ = 0;
};

TEST(huge_stream, gzip_member_over_4GiB_round_trips_with_64_bit_counters) {
  const std::uint64_t total = (std::uint64_t{4} << 30) + 123457;
  const std::size_t chunk_size = 1 << 20;
  options o;
  o.level = 1;
  encoder enc(o, container::gzip);

  z_stream z{};
  ASSERT_EQ(inflateInit2(&z, 15 + 16), Z_OK);  // gzip wrapper: checks CRC-32 and ISIZE
  source produce(1), expect(1);
  std::vector<unsigned char> in(chunk_size), want(chunk_size), got(chunk_size);
  std::size_t got_fill = 0;
  std::uint64_t verified = 0, compressed = 0;
  int zrc = Z_OK;

  auto drain = [&](std::vector<unsigned char> out) {
    compressed += out.size();
    z.next_in = out.data();
    z.avail_in = static_cast<uInt>(out.size());
    while (z.avail_in > 0 && zrc != Z_STREAM_END) {
      z.next_out = got.data() + got_fill;
      z.avail_out = static_cast<uInt>(got.size() - got_fill);
      zrc = inflate(&z, Z_NO_FLUSH);
      ASSERT_TRUE(zrc == Z_OK || zrc == Z_STREAM_END) << "inflate error " << zrc;
      got_fill = got.size() - z.avail_out;
      if (got_fill == got.size()) {
        expect.next(want);
        ASSERT_TRUE(want == got) << "mismatch in the MiB at " << verified;
        verified += got_fill;
        got_fill = 0;
      }
    }
  };

  for (std::uint64_t fed = 0; fed < total;) {
    std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_size, total - fed));
    in.resize(n);
    produce.next(in);
    enc.feed(in.data(), n);
    fed += n;
    drain(enc.take_output());
    if (HasFatalFailure()) return;
  }
  enc.finish();
  drain(enc.take_output());
  if (HasFatalFailure()) return;
  EXPECT_EQ(zrc, Z_STREAM_END);
  // The last partial MiB.
  want.resize(got_fill);
  expect.next(want);
  EXPECT_TRUE(std::equal(want.begin(), want.end(), got.begin()));
  verified += got_fill;
  inflateEnd(&z);

  EXPECT_EQ(verified, total);
  EXPECT_EQ(enc.bytes_in(), total);
  EXPECT_GT(compressed, 18u);}

}  // namespace
}  // namespace lil::deflate
