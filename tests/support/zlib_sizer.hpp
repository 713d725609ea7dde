// A stand-in compressor for the guardian tests, and the independent oracle.
//
// zlib_recompressor keeps every byte it is fed and answers size_if_finished()
// by compressing all of it from scratch with zlib: raw DEFLATE (windowBits
// -15), memLevel 8, default strategy, at the level of its options. That is, by
// definition, C(n) in the zlib profile, computed the paper's way; it is slow
// and allocates, which is fine for tests.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "lil/deflate/compressor.hpp"

namespace lil::test {

// Exact size of zlib's raw DEFLATE stream of `data` at `level`.
inline std::uint64_t zlib_raw_size(const void* data, std::size_t size, int level) {
  z_stream s{};
  if (deflateInit2(&s, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) throw std::runtime_error("deflateInit2");
  std::vector<unsigned char> out(deflateBound(&s, static_cast<uLong>(size)) + 16);
  s.next_in = static_cast<Bytef*>(const_cast<void*>(data));
  s.avail_in = static_cast<uInt>(size);
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  const int rc = ::deflate(&s, Z_FINISH);
  const std::uint64_t n = s.total_out;
  deflateEnd(&s);
  if (rc != Z_STREAM_END) throw std::runtime_error("deflate did not finish");
  return n;
}
inline std::uint64_t zlib_raw_size(const std::string& s, int level) { return zlib_raw_size(s.data(), s.size(), level); }

class zlib_recompressor {
 public:
  explicit zlib_recompressor(const deflate::options& opts = {}) : opts_(opts) {}
  void feed(const void* data, std::size_t size) { data_.append(static_cast<const char*>(data), size); }
  std::uint64_t size_if_finished() noexcept { return zlib_raw_size(data_, opts_.level); }
  void reset() noexcept { data_.clear(); }
  std::uint64_t bytes_in() const noexcept { return data_.size(); }
  const std::string& data() const noexcept { return data_; }
  const deflate::options& opts() const noexcept { return opts_; }

 private:
  deflate::options opts_;
  std::string data_;
};

// The paper's rule written out plainly, from scratch at every check, with
// zlib: the first n tokens' text is the concatenation of their texts.
struct oracle_result {
  std::uint64_t stop = 0;                                          // 0: never stopped
  std::vector<std::pair<std::uint64_t, std::uint64_t>> checks;    // (n, C(n))
};

struct oracle_rule {
  std::uint64_t f = 250;
  double t = 20;
  int level = 6;
  std::uint32_t patience = 1;
  std::uint64_t warmup = 0;
  double relative = 0;
  std::uint32_t relative_checks = 4;
};

template <class SizeOf>
oracle_result run_oracle(const std::vector<std::string>& tokens, const oracle_rule& rule, SizeOf size_of) {
  oracle_result r;
  std::string prefix;
  std::uint32_t low_in_a_row = 0;
  for (std::uint64_t n = 1; n <= tokens.size(); ++n) {
    prefix += tokens[n - 1];
    if (n % rule.f != 0) continue;
    const std::uint64_t c = size_of(prefix);
    r.checks.emplace_back(n, c);
    const std::size_t k = r.checks.size();
    if (k < 2) continue;
    double threshold = rule.t;
    if (rule.relative > 0 && k > rule.relative_checks) {
      const double slope = (static_cast<double>(r.checks[rule.relative_checks - 1].second) -
                            static_cast<double>(r.checks[0].second)) /
                           static_cast<double>(rule.relative_checks - 1);
      if (rule.relative * slope > threshold) threshold = rule.relative * slope;
    }
    const double gain = static_cast<double>(c) - static_cast<double>(r.checks[k - 2].second);
    low_in_a_row = gain < threshold ? low_in_a_row + 1 : 0;
    if (r.stop == 0 && low_in_a_row >= rule.patience && n >= rule.warmup) r.stop = n;
  }
  return r;
}

inline oracle_result zlib_oracle(const std::vector<std::string>& tokens, const oracle_rule& rule) {
  return run_oracle(tokens, rule, [&](const std::string& s) { return zlib_raw_size(s, rule.level); });
}

}  // namespace lil::test
