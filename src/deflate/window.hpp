// lil/deflate/window.hpp - the sliding window and its hash chains.
//
// What it holds
//   The last 32..64 KiB of input in a 64 KiB buffer, and for every position in
//   the last 32 KiB a link to the previous position whose next three bytes hash
//   alike ("hash chains"): head[h] is the newest position with hash h, prev[p]
//   the one before p. A match search walks one chain from its head.
//
// Why gzip's exact layout
//   Window positions are 16-bit and relative to the buffer, and the buffer
//   slides by 32 KiB when the parse nears its end - exactly when gzip and zlib
//   slide theirs. Three observable things depend on that schedule: whether a
//   closing block's bytes are still in the window (a stored block needs them),
//   which bytes gzip's match finder sees past the end of the input, and which
//   far positions are cut off. Reproducing the layout makes all three exact
//   without special cases.
//
// Costs
//   Insertion is a shift, an XOR and two stores. A slide copies 32 KiB and
//   rebases 64 K chain entries: about two operations per input byte, amortised.
#pragma once

#include <cstdint>
#include <cstring>

#include "lil/config.hpp"
#include "lil/deflate/params.hpp"

namespace lil::deflate::detail {

inline constexpr unsigned buffer_span = 2 * window_size;  // gzip's window_size
// Reads may run past the buffer's span near the end of input (up to a match
// length beyond the last byte, eight bytes at a time).
inline constexpr unsigned buffer_slack = 512;
// The parse stops refilling (and slides) once fewer than this many bytes lie
// between the parse position and the end of the buffer.
inline constexpr unsigned slide_threshold = buffer_span - min_lookahead;  // 65274
// Bytes kept from the half that leaves the window at a slide: gzip may still
// read them past the end of the input (see eof_bytes in compressor.cpp).
inline constexpr unsigned kept_on_slide = max_match + 8;

// A position in the chains; 0 doubles as "none" (gzip never matches against
// position 0 of its buffer, so it costs nothing).
using chain_pos = std::uint16_t;
inline constexpr unsigned no_pos = 0;

struct sliding_window {
  alignas(64) unsigned char bytes[buffer_span + buffer_slack];
  chain_pos head[hash_size];
  chain_pos prev[window_size];
  unsigned char left_behind[kept_on_slide];  // the last bytes of the half dropped at the last slide
  unsigned hash = 0;                          // rolling hash of the next insertion

  void clear() noexcept {
    std::memset(bytes, 0, sizeof bytes);
    std::memset(head, 0, sizeof head);
    std::memset(prev, 0, sizeof prev);
    std::memset(left_behind, 0, sizeof left_behind);
    hash = 0;
  }

  static LIL_ALWAYS_INLINE unsigned roll(unsigned h, unsigned char next) noexcept {
    return ((h << hash_shift) ^ next) & hash_mask;
  }

  // Starts the rolling hash at `pos` (its first two bytes).
  void prime(unsigned pos) noexcept { hash = roll(bytes[pos], bytes[pos + 1]); }

  // Links `pos` into its chain; returns the previous head of that chain.
  // `save` is called with each 16-bit slot before it is overwritten (the size
  // report's journal uses it; the normal path passes a no-op).
  template <class Save>
  LIL_ALWAYS_INLINE unsigned insert(unsigned pos, Save&& save) noexcept {
    hash = roll(hash, bytes[pos + min_match - 1]);
    chain_pos* link = &prev[pos & window_mask];
    chain_pos* top = &head[hash];
    save(link);
    save(top);
    unsigned previous = *top;
    *link = static_cast<chain_pos>(previous);
    *top = static_cast<chain_pos>(pos);
    return previous;
  }

  // Moves the upper half down and rebases every chain entry; entries that
  // fall off the window become "none".
  void slide() noexcept {
    std::memcpy(left_behind, bytes + window_size - kept_on_slide, kept_on_slide);
    std::memcpy(bytes, bytes + window_size, window_size);
    rebase(head, hash_size);
    rebase(prev, window_size);
  }

 private:
  static void rebase(chain_pos* table, unsigned count) noexcept {
    for (unsigned i = 0; i < count; ++i) {
      unsigned p = table[i];
      table[i] = static_cast<chain_pos>(p >= window_size ? p - window_size : no_pos);
    }
  }
};

}  // namespace lil::deflate::detail
