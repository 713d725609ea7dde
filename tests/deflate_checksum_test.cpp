// The container checksums agree with zlib's for every length and split.
#include <gtest/gtest.h>

#include "lil/deflate/checksum.hpp"
#include "support/deflate_oracle.hpp"

namespace lil::deflate {
namespace {

TEST(checksum, crc32_and_adler32_equal_zlibs_for_every_length_and_split) {
  test::bytes data = test::random_bytes(20000, 1);
  for (std::size_t n : {0u, 1u, 7u, 8u, 9u, 63u, 5551u, 5552u, 5553u, 20000u}) {
    EXPECT_EQ(crc32(0, data.data(), n), ::crc32(0, data.data(), static_cast<uInt>(n))) << n;
    EXPECT_EQ(adler32(1, data.data(), n), ::adler32(1, data.data(), static_cast<uInt>(n))) << n;
    std::size_t half = n / 3;
    EXPECT_EQ(crc32(crc32(0, data.data(), half), data.data() + half, n - half),
              ::crc32(0, data.data(), static_cast<uInt>(n)));
    EXPECT_EQ(adler32(adler32(1, data.data(), half), data.data() + half, n - half),
              ::adler32(1, data.data(), static_cast<uInt>(n)));
  }
  test::bytes ones(100000, 0xff);  // the worst case for Adler-32's deferred reduction
  EXPECT_EQ(adler32(1, ones.data(), ones.size()), ::adler32(1, ones.data(), static_cast<uInt>(ones.size())));
}

}  // namespace
}  // namespace lil::deflate
