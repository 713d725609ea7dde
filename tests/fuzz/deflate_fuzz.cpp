// libFuzzer target: for arbitrary input, split arbitrarily and compressed at
// an arbitrary level and profile,
//   - every size report equals the from-scratch size of the prefix,
//   - the raw stream inflates (zlib) back to the input,
//   - in profile zlib, the stream equals zlib's own.
// The first two bytes choose level, profile and chunking; the rest is data.
#include <zlib.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "lil/deflate/compressor.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "deflate_fuzz: %s\n", what);
  std::abort();
}

std::vector<unsigned char> zlib_raw(const unsigned char* data, std::size_t n, int level) {
  z_stream z{};
  deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  std::vector<unsigned char> out(deflateBound(&z, n));
  z.next_in = const_cast<unsigned char*>(data);
  z.avail_in = static_cast<uInt>(n);
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

std::vector<unsigned char> inflate_raw(const std::vector<unsigned char>& in, std::size_t expected) {
  std::vector<unsigned char> out(expected + 1);
  z_stream z{};
  inflateInit2(&z, -15);
  z.next_in = const_cast<unsigned char*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&z, Z_FINISH);
  out.resize(z.total_out);
  inflateEnd(&z);
  if (rc != Z_STREAM_END) fail("raw stream does not inflate");
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* raw, std::size_t size) {
  if (size < 2) return 0;
  const int level = 1 + raw[0] % 9;
  const auto rules = (raw[0] & 0x80) ? lil::deflate::profile::zlib : lil::deflate::profile::gzip;
  const unsigned chunk_seed = raw[1];
  const unsigned char* data = raw + 2;
  const std::size_t n = size - 2;

  lil::deflate::options o;
  o.level = level;
  o.profile = rules;
  lil::deflate::compressor c(o);
  lil::deflate::options scratch = o;
  scratch.keep_output = false;
  std::size_t fed = 0;
  unsigned state = chunk_seed * 2654435761u + 1;
  while (fed < n) {
    state = state * 1103515245u + 12345u;
    std::size_t chunk = 1 + (state >> 16) % 1024;
    if (chunk > n - fed) chunk = n - fed;
    c.feed(data + fed, chunk);
    fed += chunk;
    if (c.size_if_finished() != lil::deflate::deflate_size(data, fed, scratch)) fail("size report != from scratch");
  }
  c.finish();
  std::vector<unsigned char> stream = c.output();
  if (stream.size() != c.size_if_finished()) fail("finished size != output length");
  std::vector<unsigned char> back = inflate_raw(stream, n);
  if (back.size() != n || (n && std::memcmp(back.data(), data, n) != 0)) fail("round trip differs");
  if (rules == lil::deflate::profile::zlib && stream != zlib_raw(data, n, level)) fail("differs from zlib");
  return 0;
}
