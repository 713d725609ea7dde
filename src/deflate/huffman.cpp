#include "huffman.hpp"

#include <cstring>

#include "bit_writer.hpp"

namespace lil::deflate {

namespace {

// Room for every leaf of the largest alphabet plus its internal nodes.
constexpr unsigned max_nodes = 2 * lit_len_codes + 1;

struct work {
  std::uint32_t freq[max_nodes];
  std::uint16_t parent[max_nodes];
  std::uint8_t depth[max_nodes];
  std::uint16_t length[max_nodes];
  std::uint16_t heap[max_nodes];  // 1-based min-heap at the front, merge order at the back
  unsigned heap_len;
  unsigned heap_top;               // first index of the merge order at the back
  std::uint16_t count_of_length[max_code_bits + 1];

  bool lighter(unsigned a, unsigned b) const noexcept {
    return freq[a] < freq[b] || (freq[a] == freq[b] && depth[a] <= depth[b]);
  }

  // Restores the heap property below position k.
  void sift_down(unsigned k) noexcept {
    unsigned v = heap[k];
    for (unsigned child = k * 2; child <= heap_len; child *= 2) {
      if (child < heap_len && lighter(heap[child + 1], heap[child])) ++child;
      if (lighter(v, heap[child])) break;
      heap[k] = heap[child];
      k = child;
    }
    heap[k] = static_cast<std::uint16_t>(v);
  }
};

unsigned extra_of(const alphabet& a, unsigned symbol) noexcept {
  return (a.extra_bits && symbol >= a.extra_base) ? a.extra_bits[symbol - a.extra_base] : 0;
}

// Reads the lengths off the merge tree (parents before children) and repairs
// lengths over the limit. Returns the cost of the code in bits.
void assign_lengths(work& w, const alphabet& a, int max_code, code_lengths& out) noexcept {
  std::memset(w.count_of_length, 0, sizeof w.count_of_length);
  unsigned overflow = 0;
  w.length[w.heap[w.heap_top]] = 0;  // the root
  unsigned h = w.heap_top + 1;
  for (; h < max_nodes; ++h) {
    unsigned n = w.heap[h];
    unsigned bits = w.length[w.parent[n]] + 1u;
    if (bits > a.max_bits) {
      bits = a.max_bits;
      ++overflow;
    }
    w.length[n] = static_cast<std::uint16_t>(bits);
    if (static_cast<int>(n) > max_code) continue;  // internal node
    ++w.count_of_length[bits];
    std::uint64_t f = w.freq[n];
    unsigned extra = extra_of(a, n);
    out.bits += f * (bits + extra);
    if (a.fixed_bits) out.fixed_bits += f * (a.fixed_bits[n] + extra);
  }
  if (overflow == 0) return;

  // Each pair of overflowing leaves becomes the two children of a leaf moved
  // one level down from the deepest level below the limit that has one.
  do {
    unsigned bits = a.max_bits - 1;
    while (w.count_of_length[bits] == 0) --bits;
    --w.count_of_length[bits];
    w.count_of_length[bits + 1] += 2;
    --w.count_of_length[a.max_bits];
    overflow -= overflow >= 2 ? 2 : overflow;
  } while (overflow > 0);

  // Hand the corrected lengths out again, longest to the least frequent.
  h = max_nodes;
  for (unsigned bits = a.max_bits; bits != 0; --bits) {
    unsigned n = w.count_of_length[bits];
    while (n != 0) {
      unsigned m = w.heap[--h];
      if (static_cast<int>(m) > max_code) continue;
      if (w.length[m] != bits) {
        out.bits += (static_cast<std::uint64_t>(bits) - w.length[m]) * w.freq[m];
        w.length[m] = static_cast<std::uint16_t>(bits);
      }
      --n;
    }
  }
}

}  // namespace

code_lengths build_code_lengths(const std::uint32_t* freq, const alphabet& a, std::uint8_t* lengths) noexcept {
  work w;
  code_lengths out;
  int max_code = -1;
  w.heap_len = 0;
  w.heap_top = max_nodes;
  for (unsigned n = 0; n < a.size; ++n) {
    w.freq[n] = freq[n];
    w.length[n] = 0;
    if (freq[n] != 0) {
      w.heap[++w.heap_len] = static_cast<std::uint16_t>(n);
      max_code = static_cast<int>(n);
      w.depth[n] = 0;
    }
  }

  // A code needs at least two symbols. The dummies are priced at one bit
  // each up front and at their real length below, so that their net cost is
  // zero - they are never sent.
  std::uint64_t dummy_bits = 0, dummy_fixed_bits = 0;
  while (w.heap_len < 2) {
    unsigned node = max_code < 2 ? static_cast<unsigned>(++max_code) : 0u;
    w.heap[++w.heap_len] = static_cast<std::uint16_t>(node);
    w.freq[node] = 1;
    w.depth[node] = 0;
    dummy_bits += 1;
    if (a.fixed_bits) dummy_fixed_bits += a.fixed_bits[node];
  }
  out.max_code = max_code;

  for (unsigned k = w.heap_len / 2; k >= 1; --k) w.sift_down(k);

  unsigned next_node = a.size;
  do {
    unsigned least = w.heap[1];
    w.heap[1] = w.heap[w.heap_len--];
    w.sift_down(1);
    unsigned second = w.heap[1];
    w.heap[--w.heap_top] = static_cast<std::uint16_t>(least);
    w.heap[--w.heap_top] = static_cast<std::uint16_t>(second);
    w.freq[next_node] = w.freq[least] + w.freq[second];
    w.depth[next_node] =
        static_cast<std::uint8_t>((w.depth[least] >= w.depth[second] ? w.depth[least] : w.depth[second]) + 1);
    w.parent[least] = w.parent[second] = static_cast<std::uint16_t>(next_node);
    w.heap[1] = static_cast<std::uint16_t>(next_node++);
    w.sift_down(1);
  } while (w.heap_len >= 2);
  w.heap[--w.heap_top] = w.heap[1];

  assign_lengths(w, a, max_code, out);
  out.bits -= dummy_bits;
  out.fixed_bits -= dummy_fixed_bits;

  for (unsigned n = 0; n < a.size; ++n) lengths[n] = static_cast<std::uint8_t>(w.length[n]);
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
