// Test support: the reference implementations as oracles, and test inputs.
//
// gzip is the real binary (run on a temporary file, as `gzip -n -c -L < file`,
// so that it reads with full-size reads exactly as from any regular file);
// zlib is the library linked into the tests.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>

namespace lil::test {

using bytes = std::vector<unsigned char>;

inline bytes read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return bytes(std::istreambuf_iterator<char>(in), {});
}

inline void write_all(const std::string& path, const bytes& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

// A per-process temporary path.
inline std::string temp_path(const std::string& tag) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir ? dir : "/tmp") + "/lil_test_" + std::to_string(::getpid()) + "_" + tag;
}

// GNU gzip's output for `data` at `level` (header as gzip -n writes it).
inline bytes gzip_oracle(const bytes& data, int level) {
  const std::string in = temp_path("gzin"), out = temp_path("gzout");
  write_all(in, data);
  const std::string cmd = std::string(LIL_TEST_GZIP) + " -n -c -" + std::to_string(level) + " < " + in + " > " + out;
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("gzip failed: " + cmd);
  bytes result = read_all(out);
  std::remove(in.c_str());
  std::remove(out.c_str());
  return result;
}

// zlib's compress2() output (zlib container).
inline bytes zlib_oracle(const bytes& data, int level) {
  uLongf size = compressBound(static_cast<uLong>(data.size()));
  bytes out(size);
  if (compress2(out.data(), &size, data.data(), static_cast<uLong>(data.size()), level) != Z_OK)
    throw std::runtime_error("compress2 failed");
  out.resize(size);
  return out;
}

// Size of zlib's raw DEFLATE stream (windowBits -15, memLevel 8, default strategy).
inline std::uint64_t zlib_raw_size(const unsigned char* data, std::size_t n, int level) {
  // compress2's stream minus its 2-byte header and 4-byte trailer.
  bytes d(data, data + n);
  return zlib_oracle(d, level).size() - 6;
}

// Inflates a raw DEFLATE stream with zlib; throws if it is not valid.
inline bytes inflate_raw(const bytes& stream) {
  z_stream z{};
  if (inflateInit2(&z, -15) != Z_OK) throw std::runtime_error("inflateInit2 failed");
  bytes out;
  unsigned char buf[1 << 16];
  z.next_in = const_cast<unsigned char*>(stream.data());
  z.avail_in = static_cast<uInt>(stream.size());
  int rc;
  do {
    z.next_out = buf;
    z.avail_out = sizeof buf;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      throw std::runtime_error("inflate failed: " + std::to_string(rc));
    }
    out.insert(out.end(), buf, buf + (sizeof buf - z.avail_out));
  } while (rc != Z_STREAM_END);
  bool trailing = z.avail_in != 0;
  inflateEnd(&z);
  if (trailing) throw std::runtime_error("bytes after the end of the DEFLATE stream");
  return out;
}

// --- generated inputs -----------------------------------------------------------

inline bytes random_bytes(std::size_t n, std::uint32_t seed) {
  std::mt19937 rng(seed);
  bytes b(n);
  for (auto& x : b) x = static_cast<unsigned char>(rng());
  return b;
}

// `n` bytes repeating a random block of `period` bytes.
inline bytes periodic(std::size_t n, std::size_t period, std::uint32_t seed) {
  bytes unit = random_bytes(period, seed);
  bytes b(n);
  for (std::size_t i = 0; i < n; ++i) b[i] = unit[i % period];
  return b;
}

// Text-like bytes: words from a small random vocabulary.
inline bytes wordy(std::size_t n, std::uint32_t seed, int vocabulary = 40) {
  std::mt19937 rng(seed);
  std::vector<std::string> words;
  for (int i = 0; i < vocabulary; ++i) {
    std::string w;
    int len = 1 + static_cast<int>(rng() % 7);
    for (int j = 0; j < len; ++j) w.push_back(static_cast<char>('a' + rng() % 12));
    words.push_back(w);
  }
  bytes b;
  b.reserve(n + 16);
  while (b.size() < n) {
    const std::string& w = words[rng() % words.size()];
    b.insert(b.end(), w.begin(), w.end());
    b.push_back(rng() % 9 == 0 ? '\n' : ' ');
  }
  b.resize(n);
  return b;
}

}  // namespace lil::test
