// lil/deflate/bit_writer.hpp - the LSB-first bit packer DEFLATE streams use.
//
// DEFLATE packs fields starting at the least significant bit of each byte;
// Huffman codes are stored bit-reversed so that they too can be emitted LSB
// first. Bits gather in a 64-bit accumulator and leave in whole bytes, so a
// field costs a shift and an OR; a block costs one buffer append per 7 bytes.
// The writer also counts every bit it was given: the compressor's size
// arithmetic is checked against it in the tests.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "lil/config.hpp"

namespace lil::deflate {

class bit_writer {
 public:
  explicit bit_writer(std::vector<unsigned char>& out) noexcept : out_(&out) {}

  // Appends the low `count` bits of `value` (count <= 32).
  LIL_ALWAYS_INLINE void put(std::uint32_t value, unsigned count) {
    acc_ |= static_cast<std::uint64_t>(value) << fill_;
    fill_ += count;
    total_ += count;
    if (fill_ >= 32) spill();
  }

  // Pads with zero bits to the next byte boundary (stored blocks, stream end).
  void align() {
    unsigned pad = (8 - fill_ % 8) % 8;
    fill_ += pad;
    total_ += pad;
    spill_all();
  }

  // Raw bytes; the writer must be aligned.
  void put_bytes(const unsigned char* data, std::size_t size) {
    spill_all();
    out_->insert(out_->end(), data, data + size);
    total_ += 8 * static_cast<std::uint64_t>(size);
  }

  std::uint64_t bits_written() const noexcept { return total_; }
  void rebind(std::vector<unsigned char>& out) noexcept { out_ = &out; }

  // The partial byte (fewer than 8 bits) still in the accumulator after spilling.
  void spill_all() {
    while (fill_ >= 8) {
      out_->push_back(static_cast<unsigned char>(acc_));
      acc_ >>= 8;
      fill_ -= 8;
    }
  }

 private:
  void spill() {
    unsigned char bytes[4];
    std::uint32_t low = static_cast<std::uint32_t>(acc_);
    for (int i = 0; i < 4; ++i) bytes[i] = static_cast<unsigned char>(low >> (8 * i));
    out_->insert(out_->end(), bytes, bytes + 4);
    acc_ >>= 32;
    fill_ -= 32;
  }

  std::vector<unsigned char>* out_;
  std::uint64_t acc_ = 0;
  unsigned fill_ = 0;
  std::uint64_t total_ = 0;
};

// Reverses the low `count` bits of `code` (Huffman codes go out MSB first
// inside an LSB-first stream).
inline constexpr std::uint32_t reverse_bits(std::uint32_t code, unsigned count) noexcept {
  std::uint32_t r = 0;
  for (unsigned i = 0; i < count; ++i) {
    r = (r << 1) | (code & 1);
    code >>= 1;
  }
  return r;
}

}  // namespace lil::deflate
