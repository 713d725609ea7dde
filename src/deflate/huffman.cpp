#include "huffman.hpp"

#include <cstring>

#include "bit_writer.hpp"

namespace lil::deflate {

namespace {

// Room for every leaf of the largest alphabet plus its internal nodes.
constexpr unsigned max_nodes = 2 * lit_len_codes + 1;

// A heap entry packs a node's sort key above its id: frequency (32 bits, as
// wide as the tally's counts), depth (8 bits), node (16 bits). "a is lighter
// than b" - fewer occurrences, or as many and no deeper - is then one 64-bit
// comparison of the keys with the ids masked out: a <= (b | node_mask).
// Comparing ids too would break ties differently from the reference, whose
// heap keeps the first of two equal keys where it stands.
constexpr std::uint64_t node_mask = 0xffff;
constexpr std::uint64_t no_entry = ~std::uint64_t{0};  // heavier than any entry

LIL_ALWAYS_INLINE std::uint64_t entry(std::uint32_t freq, unsigned depth, unsigned node) noexcept {
  return (std::uint64_t{freq} << 24) | (std::uint64_t{depth & 0xffu} << 16) | node;
}
LIL_ALWAYS_INLINE bool lighter(std::uint64_t a, std::uint64_t b) noexcept { return a <= (b | node_mask); }
LIL_ALWAYS_INLINE unsigned node_of(std::uint64_t e) noexcept { return static_cast<unsigned>(e & node_mask); }
LIL_ALWAYS_INLINE std::uint32_t freq_of(std::uint64_t e) noexcept { return static_cast<std::uint32_t>(e >> 24); }
LIL_ALWAYS_INLINE unsigned depth_of(std::uint64_t e) noexcept { return static_cast<unsigned>(e >> 16) & 0xffu; }

struct work {
  std::uint64_t heap[max_nodes + 2];  // 1-based min-heap; heap[len + 1] is always no_entry
  const std::uint32_t* leaf_freq;     // the caller's, or `freq` when dummies were added
  std::uint32_t freq[max_nodes];      // the caller's plus the dummies, when there are any
  std::uint16_t parent[max_nodes];
  std::uint8_t length[max_nodes];     // clamped to the limit, so 8 bits suffice
  std::uint16_t order[max_nodes];     // merge order, filled from the back: parents before children
  unsigned heap_len;
  unsigned heap_top;                  // first index of the merge order
  std::uint16_t count_of_length[max_code_bits + 1];

  // Restores the heap property below position k, placing the same entry at
  // the same slot as the textbook sift (the reference's): the hole first runs
  // down the path of lighter children, then the entry climbs back up it while
  // it is lighter than what moved up. Keys only grow along that path, so both
  // stop at the same place; this way costs one comparison per level on the
  // way down instead of two, and the child choice needs no branch.
  // (Descending two levels per step - children and grandchildren loaded at
  // once - shortens the chain of dependent loads but measured slower on real
  // blocks' frequencies, whose heap shapes the branch predictor cannot learn.)
  LIL_ALWAYS_INLINE void sift_down(unsigned k) noexcept {
    const std::uint64_t v = heap[k];
    unsigned hole = k;
    for (unsigned child = 2 * k; child <= heap_len; child = 2 * hole) {
      child += lighter(heap[child + 1], heap[child]) ? 1u : 0u;  // heap[len + 1] never wins
      heap[hole] = heap[child];
      hole = child;
    }
    while (hole > k && lighter(v, heap[hole / 2])) {
      heap[hole] = heap[hole / 2];
      hole /= 2;
    }
    heap[hole] = v;
  }
};

// Lengths over the limit were clamped to it. Each pair of overflowing leaves
// becomes the two children of a leaf moved one level down from the deepest
// level below the limit that has one; then the lengths are handed out again.
void repair_overflow(work& w, const alphabet& a, int max_code, unsigned overflow) noexcept {
  do {
    unsigned bits = a.max_bits - 1;
    while (w.count_of_length[bits] == 0) --bits;
    --w.count_of_length[bits];
    w.count_of_length[bits + 1] += 2;
    --w.count_of_length[a.max_bits];
    overflow -= overflow >= 2 ? 2 : overflow;
  } while (overflow > 0);

  // Hand the corrected lengths out again, longest to the least frequent.
  unsigned h = max_nodes;
  for (unsigned bits = a.max_bits; bits != 0; --bits) {
    unsigned n = w.count_of_length[bits];
    while (n != 0) {
      unsigned m = w.order[--h];
      if (static_cast<int>(m) > max_code) continue;
      w.length[m] = static_cast<std::uint8_t>(bits);
      --n;
    }
  }
}

// The code's cost: every used symbol at its length (unused ones have
// frequency 0), plus the extra bits, which do not depend on the code.
void price(const work& w, const alphabet& a, int max_code, code_lengths& out) noexcept {
  std::uint64_t bits = 0, fixed = 0, extra = 0;
  for (int n = 0; n <= max_code; ++n) bits += std::uint64_t{w.leaf_freq[n]} * w.length[n];
  if (a.fixed_bits)
    for (int n = 0; n <= max_code; ++n) fixed += std::uint64_t{w.leaf_freq[n]} * a.fixed_bits[n];
  if (a.extra_bits)
    for (int n = static_cast<int>(a.extra_base); n <= max_code; ++n)
      extra += std::uint64_t{w.leaf_freq[n]} * a.extra_bits[n - a.extra_base];
  out.bits += bits + extra;
  if (a.fixed_bits) out.fixed_bits += fixed + extra;
}

// Reads the lengths off the merge tree (parents before children), repairs
// lengths over the limit and prices the code into `out`.
void assign_lengths(work& w, const alphabet& a, int max_code, code_lengths& out) noexcept {
  std::memset(w.count_of_length, 0, sizeof w.count_of_length);
  unsigned overflow = 0;
  w.length[w.order[w.heap_top]] = 0;  // the root
  // Branch-free: whether a node is a leaf or an internal one follows no
  // pattern a predictor can learn, so leaves are counted and priced in
  // separate passes over the symbols below.
  for (unsigned h = w.heap_top + 1; h < max_nodes; ++h) {
    const unsigned n = w.order[h];
    const unsigned bits = w.length[w.parent[n]] + 1u;
    overflow += bits > a.max_bits ? 1u : 0u;
    w.length[n] = static_cast<std::uint8_t>(bits < a.max_bits ? bits : a.max_bits);
  }
  // Unused symbols have length 0 and land in count_of_length[0], unused.
  for (int n = 0; n <= max_code; ++n) ++w.count_of_length[w.length[n]];
  w.count_of_length[0] = 0;
  if (overflow != 0) repair_overflow(w, a, max_code, overflow);
  price(w, a, max_code, out);
}

}  // namespace

code_lengths build_code_lengths(const std::uint32_t* freq, const alphabet& a, std::uint8_t* lengths) noexcept {
  work w;
  code_lengths out;
  int max_code = -1;
  w.heap_len = 0;
  w.heap_top = max_nodes;
  w.leaf_freq = freq;
  std::memset(w.length, 0, a.size);
  // Branch-free: which symbols a block used follows no learnable pattern.
  // Every symbol is written into the next free slot; only used ones advance.
  for (unsigned n = 0; n < a.size; ++n) {
    const bool used = freq[n] != 0;
    w.heap[w.heap_len + 1] = entry(freq[n], 0, n);
    w.heap_len += used ? 1u : 0u;
    max_code = used ? static_cast<int>(n) : max_code;
  }

  // A code needs at least two symbols. The dummies are priced at one bit
  // each up front and at their real length below, so that their net cost is
  // zero - they are never sent.
  std::uint64_t dummy_bits = 0, dummy_fixed_bits = 0;
  if (w.heap_len < 2) {
    std::memcpy(w.freq, freq, a.size * sizeof *freq);
    w.leaf_freq = w.freq;
  }
  while (w.heap_len < 2) {
    unsigned node = max_code < 2 ? static_cast<unsigned>(++max_code) : 0u;
    w.heap[++w.heap_len] = entry(1, 0, node);
    w.freq[node] = 1;
    dummy_bits += 1;
    if (a.fixed_bits) dummy_fixed_bits += a.fixed_bits[node];
  }
  out.max_code = max_code;
  w.heap[w.heap_len + 1] = no_entry;

  for (unsigned k = w.heap_len / 2; k >= 1; --k) w.sift_down(k);

  unsigned next_node = a.size;
  do {
    const std::uint64_t least = w.heap[1];
    w.heap[1] = w.heap[w.heap_len];
    w.heap[w.heap_len--] = no_entry;
    w.sift_down(1);
    const std::uint64_t second = w.heap[1];
    w.order[--w.heap_top] = static_cast<std::uint16_t>(node_of(least));
    w.order[--w.heap_top] = static_cast<std::uint16_t>(node_of(second));
    // 32-bit sum and 8-bit depth, wrapping as the reference's fields would.
    const std::uint32_t sum = freq_of(least) + freq_of(second);
    const unsigned deeper = depth_of(least) >= depth_of(second) ? depth_of(least) : depth_of(second);
    w.parent[node_of(least)] = w.parent[node_of(second)] = static_cast<std::uint16_t>(next_node);
    w.heap[1] = entry(sum, deeper + 1, next_node++);
    w.sift_down(1);
  } while (w.heap_len >= 2);
  w.order[--w.heap_top] = static_cast<std::uint16_t>(node_of(w.heap[1]));

  assign_lengths(w, a, max_code, out);
  out.bits -= dummy_bits;
  out.fixed_bits -= dummy_fixed_bits;

  std::memcpy(lengths, w.length, a.size);
  return out;
}

void make_codes(const std::uint8_t* lengths, unsigned count, std::uint16_t* codes) noexcept {
  unsigned per_length[max_code_bits + 1] = {};
  for (unsigned n = 0; n < count; ++n) ++per_length[lengths[n]];
  per_length[0] = 0;
  unsigned next[max_code_bits + 1] = {};
  unsigned code = 0;
  for (unsigned bits = 1; bits <= max_code_bits; ++bits) {
    code = (code + per_length[bits - 1]) << 1;
    next[bits] = code;
  }
  for (unsigned n = 0; n < count; ++n) {
    unsigned len = lengths[n];
    codes[n] = len ? static_cast<std::uint16_t>(reverse_bits(next[len]++, len)) : 0;
  }
}

}  // namespace lil::deflate
