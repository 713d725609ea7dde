// A stream past 4 GiB: 64-bit counters, and a round trip checked on the fly
// (the input is regenerated, never stored). Labelled `long`.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdint>
#include <random>
#include <vector>

#include "lil/deflate/compressor.hpp"

namespace lil::deflate {
namespace {

// Deterministic input, chunk by chunk: mostly text-like words with runs of
// noise, so that every block kind appears.
class source {
 public:
  explicit source(std::uint32_t seed) : rng_(seed) {}
  void next(std::vector<unsigned char>& chunk) {
    for (std::size_t i = 0; i < chunk.size();) {
      if (rng_() % 64 == 0) {
        std::size_t n = std::min<std::size_t>(chunk.size() - i, 200 + rng_() % 3000);
        for (std::size_t k = 0; k < n; ++k) chunk[i++] = static_cast<unsigned char>(rng_());
      } else {
        unsigned w = rng_() % 50;
        for (unsigned k = 0; k < 3 + w % 6 && i < chunk.size(); ++k) chunk[i++] = static_cast<unsigned char>('a' + (w * 7 + k) % 26);
        if (i < chunk.size()) chunk[i++] = ' ';
      }
    }
  }

 private:
  std::mt19937 rng_;
};

TEST(huge_stream, gzip_member_over_4GiB_round_trips_with_64_bit_counters) {
  const std::uint64_t total = (std::uint64_t{4} << 30) + 123457;
  const std::size_t chunk_size = 1 << 20;
  options o;
  o.level = 1;
  encoder enc(o, container::gzip);
  compressor sizer(o);  // size-only twin: its report must equal the real length

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
    sizer.feed(in.data(), n);
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
  EXPECT_EQ(sizer.bytes_in(), total);
  EXPECT_EQ(sizer.size_if_finished() + 18, compressed);  // raw size + gzip header and trailer
}

}  // namespace
}  // namespace lil::deflate
