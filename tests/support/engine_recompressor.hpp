// The paper's way of computing C(n) with lil's own engine: keep every byte and
// compress all of it from scratch at each check (deflate::deflate_size). The
// baseline the incremental guardian must equal exactly, in both profiles.
#pragma once

#include <cstdint>
#include <string>

#include "lil/deflate/compressor.hpp"

namespace lil::test {

class engine_recompressor {
 public:
  explicit engine_recompressor(const deflate::options& opts = {}) : opts_(opts) {}
  void feed(const void* data, std::size_t size) { data_.append(static_cast<const char*>(data), size); }
  std::uint64_t size_if_finished() noexcept { return deflate::deflate_size(data_.data(), data_.size(), opts_); }
  void reset() noexcept { data_.clear(); }

 private:
  deflate::options opts_;
  std::string data_;
};

}  // namespace lil::test
