// lil/deflate/compressor.hpp - the streaming, gzip-faithful DEFLATE compressor.
//
// What it computes
//   The exact DEFLATE stream that GNU gzip 1.12 (profile gzip) or zlib 1.2.13
//   at windowBits 15 / memLevel 8 / default strategy (profile zlib) writes for
//   the same input and level, and - at any moment, without finishing the stream
//   - the exact size in bytes that raw stream would have if the input ended now.
//
// The algorithm (RFC 1951 with the reference parsers' rules)
//   Input flows into a 64 KiB window laid out as gzip lays its own out; each
//   position is hashed by its next three bytes into chains of earlier positions
//   (src/deflate/window.hpp; the engine's inner pieces are private to src/deflate); the match finder walks a chain for the longest earlier copy
//   (match_finder.hpp); the parser takes matches greedily (levels 1-3) or
//   lazily, one position late (levels 4-9), and tallies literal/length and
//   distance symbols (parser.hpp); a block ends when the symbol buffer fills or,
//   for gzip, when an early estimate says the block compresses well, and is
//   written as the cheapest of stored / fixed / dynamic Huffman
//   (block_writer.hpp, huffman.hpp).
//
// Why it can answer "size if finished now" cheaply
//   The reference implementations only look at a position once MIN_LOOKAHEAD
//   (262) bytes follow it, unless the input has ended. So everything except the
//   last <262 bytes is parsed exactly as it will be in the final stream, and
//   blocks already closed have a known bit length. A size report runs the
//   end-of-input path on that short tail and prices the open block (building
//   its Huffman trees from the tallied frequencies), then undoes, through a
//   small journal, the part of the tail's effect that more input could change;
//   the tail steps before it are the ones the stream will take anyway, and
//   stay (sizes-only mode). Its cost is the tree build plus a few positions -
//   a constant - plus the bytes fed since the last report, never the prefix.
//
// Exactness details that matter, and where they live
//   - gzip reads past the end of the data (its match finder does not clamp to
//     the lookahead); the bytes it sees there are reconstructed exactly
//     (src/deflate/compressor.cpp, eof_byte).
//   - Stored blocks are possible only while the block's first byte is still in
//     gzip's window, so the window's slide schedule is reproduced to the byte.
//   - zlib guards hash insertions near the end of input; gzip does not.
//
// Cost and memory
//   About 2x64 KiB of hash chains plus the 64 KiB window; a compressor that
//   keeps its output adds the symbol buffer (96 KiB for gzip, 48 KiB for zlib).
//   `options::keep_output = false` (sizes only) is the documented smaller
//   option: no symbol buffer, no output; this is what Guardian uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "lil/config.hpp"
#include "lil/deflate/params.hpp"

namespace lil::deflate {

struct options {
  int level = 6;                    // 1..9, as gzip -1..-9 and zlib levels
  deflate::profile profile = deflate::profile::gzip;  // whose block rules to reproduce
  bool keep_output = true;          // false: sizes only (smaller, no output)
};

namespace detail {
struct engine;  // src/deflate/compressor.cpp
}

// One compressor per stream. Not thread-safe: one thread at a time per object;
// different objects may be used concurrently. Copying clones the whole state
// (an independent fork of the stream).
class LIL_API compressor {
 public:
  explicit compressor(const options& opts = {});
  compressor(const compressor& other);
  compressor& operator=(const compressor& other);
  compressor(compressor&&) noexcept;
  compressor& operator=(compressor&&) noexcept;
  ~compressor();

  // Appends input. Any chunking gives the same stream. In size-only mode this
  // never allocates; with output kept it may grow the output buffer.
  void feed(const void* data, std::size_t size);
  void feed(std::string_view bytes) { feed(bytes.data(), bytes.size()); }

  // Exact size in bytes of the raw DEFLATE stream if the input ended now.
  // Leaves the stream exactly as it was (the output to come is unchanged;
  // in size-only mode the parse may have moved on); never allocates.
  std::uint64_t size_if_finished() noexcept;

  // Ends the stream: the final block is written and the bit writer aligned.
  // feed() after finish() is an error (throws lil::error).
  void finish();
  bool finished() const noexcept;

  // Raw DEFLATE bytes produced so far (complete bytes only until finish()).
  // The caller may drain it: take_output() moves it out and clears it.
  const std::vector<unsigned char>& output() const noexcept;
  std::vector<unsigned char> take_output();

  std::uint64_t bytes_in() const noexcept;
  // Bits of the raw stream already decided (closed blocks only).
  std::uint64_t bits_closed() const noexcept;

  // Back to an empty stream with the same options; keeps its memory.
  void reset() noexcept;

  // Becomes an exact copy of `other` (the same stream so far) in place: with
  // the same options in size-only mode it copies into the memory it already
  // holds and never allocates (a guardian prices a hypothetical tail on such
  // a spare); otherwise it is a plain copy assignment.
  void copy_state_from(const compressor& other);

  const options& opts() const noexcept { return opts_; }

  // Heap bytes held by a compressor with these options (its whole state).
  static std::size_t state_bytes(const options& opts) noexcept;

 private:
  options opts_;
  std::unique_ptr<detail::engine> engine_;
};

// Exact size of the raw DEFLATE stream of `data` (from scratch).
LIL_API std::uint64_t deflate_size(const void* data, std::size_t size, const options& opts = {});

// The three containers a DEFLATE stream travels in:
//   raw  - the bare DEFLATE stream (RFC 1951);
//   gzip - one member exactly as `gzip -n` writes it from a pipe (RFC 1952);
//   zlib - exactly as zlib's compress2() writes it (RFC 1950).
enum class container : unsigned char { raw, gzip, zlib };

// A compressor inside its container: header, checksum and trailer.
class LIL_API encoder {
 public:
  explicit encoder(const options& opts = {}, container box = container::raw);
  void feed(const void* data, std::size_t size);
  void finish();
  // Bytes ready to be written; take_output() moves them out.
  std::vector<unsigned char> take_output();
  std::uint64_t bytes_in() const noexcept { return length_; }

 private:
  compressor deflater_;
  container box_;
  std::uint32_t check_;        // CRC-32 (gzip) or Adler-32 (zlib)
  std::uint64_t length_ = 0;   // input bytes, for gzip's ISIZE
  std::vector<unsigned char> pending_;  // header, then trailer
};

// Whole-buffer compression in a container.
LIL_API std::vector<unsigned char> compress(const void* data, std::size_t size,
                                            const options& opts = {},
                                            container box = container::raw);

}  // namespace lil::deflate
