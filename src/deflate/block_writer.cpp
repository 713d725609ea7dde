#include "block_writer.hpp"

#include <array>
#include <cstring>

#include "huffman.hpp"
#include "symbols.hpp"

namespace lil::deflate {

namespace {

constexpr unsigned block_type_bits = 3;
constexpr unsigned stored_header_bytes = 4;  // LEN and NLEN

constexpr std::array<std::uint8_t, lit_len_codes + 2> make_fixed_lit_len_bits() {
  std::array<std::uint8_t, lit_len_codes + 2> bits{};
  for (unsigned s = 0; s < bits.size(); ++s) bits[s] = static_cast<std::uint8_t>(fixed_lit_len_bits(s));
  return bits;
}
constexpr auto fixed_lit_len = make_fixed_lit_len_bits();

constexpr std::array<std::uint8_t, dist_codes> make_fixed_dist_bits() {
  std::array<std::uint8_t, dist_codes> bits{};
  for (auto& b : bits) b = fixed_dist_bits;
  return bits;
}
constexpr auto fixed_dist = make_fixed_dist_bits();

const alphabet lit_len_alphabet{lit_len_codes, max_code_bits, length_extra_bits.data(), literals + 1,
                                fixed_lit_len.data()};
const alphabet dist_alphabet{dist_codes, max_code_bits, dist_extra_bits.data(), 0, fixed_dist.data()};
const alphabet bit_len_alphabet{bit_len_codes, max_bl_bits, bit_len_extra_bits.data(), 0, nullptr};

// Run-length coding of a code-length sequence (RFC 1951, 3.2.7), shared by
// the pricing pass (counting code-length symbols) and the writing pass.
// `emit(symbol, repeat_count)` is called per code-length symbol; for 16/17/18
// repeat_count is what the extra bits encode.
template <class Emit>
void run_length_code(const std::uint8_t* lengths, int max_code, Emit&& emit) {
  int previous = -1;
  int next = lengths[0];
  int run = 0;
  int max_run = 7, min_run = 4;
  if (next == 0) max_run = 138, min_run = 3;
  for (int n = 0; n <= max_code; ++n) {
    int current = next;
    // One past the last code reads as a length no code has, ending the run.
    next = n + 1 <= max_code ? lengths[n + 1] : -2;
    if (++run < max_run && current == next) continue;
    if (run < min_run) {
      for (int i = 0; i < run; ++i) emit(static_cast<unsigned>(current), 0);
    } else if (current != 0) {
      if (current != previous) {
        emit(static_cast<unsigned>(current), 0);
        --run;
      }
      emit(rep_3_6, run);
    } else if (run <= 10) {
      emit(repz_3_10, run);
    } else {
      emit(repz_11_138, run);
    }
    run = 0;
    previous = current;
    if (next == 0) {
      max_run = 138, min_run = 3;
    } else if (current == next) {
      max_run = 6, min_run = 3;
    } else {
      max_run = 7, min_run = 4;
    }
  }
}

}  // namespace

void block_tally::clear() noexcept {
  std::memset(lit_len_freq, 0, sizeof lit_len_freq);
  std::memset(dist_freq, 0, sizeof dist_freq);
  lit_len_freq[end_block] = 1;
  symbols = 0;
  matches = 0;
}

void plan_block(const block_tally& tally, block_plan& plan) noexcept {
  code_lengths lit = build_code_lengths(tally.lit_len_freq, lit_len_alphabet, plan.lit_len_bits);
  code_lengths dist = build_code_lengths(tally.dist_freq, dist_alphabet, plan.dist_bits);
  plan.lit_len_max_code = lit.max_code;
  plan.dist_max_code = dist.max_code;

  std::uint32_t bl_freq[bit_len_codes] = {};
  auto count = [&bl_freq](unsigned symbol, int) { ++bl_freq[symbol]; };
  run_length_code(plan.lit_len_bits, lit.max_code, count);
  run_length_code(plan.dist_bits, dist.max_code, count);
  code_lengths bl = build_code_lengths(bl_freq, bit_len_alphabet, plan.bit_len_bits);

  // At least 4 code-length lengths are always sent.
  int last = bit_len_codes - 1;
  for (; last >= 3; --last)
    if (plan.bit_len_bits[bit_len_order[last]] != 0) break;
  plan.bit_len_last = last;

  // HLIT, HDIST, HCLEN (5+5+4 bits) and 3 bits per code-length length.
  plan.dynamic_bits = lit.bits + dist.bits + bl.bits + 3u * (last + 1) + 5 + 5 + 4;
  plan.fixed_bits = lit.fixed_bits + dist.fixed_bits;
}

block_kind choose_block(const block_plan& plan, std::uint64_t stored_len, bool stored_possible) noexcept {
  // The reference compares byte counts rounded up from bits, header included.
  std::uint64_t dynamic_bytes = (plan.dynamic_bits + block_type_bits + 7) >> 3;
  std::uint64_t fixed_bytes = (plan.fixed_bits + block_type_bits + 7) >> 3;
  std::uint64_t best = fixed_bytes <= dynamic_bytes ? fixed_bytes : dynamic_bytes;
  if (stored_possible && stored_len + stored_header_bytes <= best) return block_kind::stored;
  if (fixed_bytes == best) return block_kind::fixed;
  return block_kind::dynamic;
}

std::uint64_t block_bits(block_kind kind, const block_plan& plan, std::uint64_t stored_len,
                         std::uint64_t bit_pos) noexcept {
  switch (kind) {
    case block_kind::stored: {
      std::uint64_t after_header = bit_pos + block_type_bits;
      std::uint64_t pad = (8 - after_header % 8) % 8;
      return block_type_bits + pad + 8 * (stored_header_bytes + stored_len);
    }
    case block_kind::fixed:
      return block_type_bits + plan.fixed_bits;
    case block_kind::dynamic:
      return block_type_bits + plan.dynamic_bits;
  }
  return 0;
}

namespace {

struct code_set {
  const std::uint8_t* lit_bits;
  const std::uint16_t* lit_codes;
  const std::uint8_t* dist_bits;
  const std::uint16_t* dist_codes;
};

void write_symbols(bit_writer& out, const code_set& codes, const block_tally& tally, const block_symbols& symbols) {
  for (std::uint32_t i = 0; i < tally.symbols; ++i) {
    unsigned lc = symbols.lc[i];
    unsigned dist = symbols.dist[i];
    if (dist == 0) {
      out.put(codes.lit_codes[lc], codes.lit_bits[lc]);
      continue;
    }
    unsigned code = length_code(lc);
    unsigned symbol = literals + 1 + code;
    out.put(codes.lit_codes[symbol], codes.lit_bits[symbol]);
    if (unsigned extra = length_extra_bits[code]) out.put(lc - length_base(code), extra);
    --dist;
    code = dist_code(dist);
    out.put(codes.dist_codes[code], codes.dist_bits[code]);
    if (unsigned extra = dist_extra_bits[code]) out.put(dist - dist_base(code), extra);
  }
  out.put(codes.lit_codes[end_block], codes.lit_bits[end_block]);
}

}  // namespace

void write_block(bit_writer& out, block_kind kind, const block_plan& plan, const block_tally& tally,
                 const block_symbols& symbols, const unsigned char* stored, std::uint64_t stored_len, bool last) {
  const unsigned last_bit = last ? 1u : 0u;
  if (kind == block_kind::stored) {
    out.put(0u << 1 | last_bit, block_type_bits);
    out.align();
    unsigned len = static_cast<unsigned>(stored_len) & 0xffffu;
    out.put(len, 16);
    out.put(~len & 0xffffu, 16);
    out.put_bytes(stored, static_cast<std::size_t>(stored_len));
    return;
  }
  if (kind == block_kind::fixed) {
    static const auto fixed_codes = [] {
      struct {
        std::uint16_t lit[lit_len_codes + 2];
        std::uint16_t dist[dist_codes];
      } c{};
      make_codes(fixed_lit_len.data(), lit_len_codes + 2, c.lit);
      make_codes(fixed_dist.data(), dist_codes, c.dist);
      return c;
    }();
    out.put(1u << 1 | last_bit, block_type_bits);
    write_symbols(out, {fixed_lit_len.data(), fixed_codes.lit, fixed_dist.data(), fixed_codes.dist}, tally, symbols);
    return;
  }

  std::uint16_t lit_codes[lit_len_codes];
  std::uint16_t dist_codes_[dist_codes];
  std::uint16_t bl_codes[bit_len_codes];
  make_codes(plan.lit_len_bits, lit_len_codes, lit_codes);
  make_codes(plan.dist_bits, dist_codes, dist_codes_);
  make_codes(plan.bit_len_bits, bit_len_codes, bl_codes);

  out.put(2u << 1 | last_bit, block_type_bits);
  const unsigned lit_count = static_cast<unsigned>(plan.lit_len_max_code) + 1;
  const unsigned dist_count = static_cast<unsigned>(plan.dist_max_code) + 1;
  out.put(lit_count - 257, 5);
  out.put(dist_count - 1, 5);
  out.put(static_cast<unsigned>(plan.bit_len_last) + 1 - 4, 4);
  for (int i = 0; i <= plan.bit_len_last; ++i) out.put(plan.bit_len_bits[bit_len_order[i]], 3);
  auto send = [&](unsigned symbol, int repeat) {
    out.put(bl_codes[symbol], plan.bit_len_bits[symbol]);
    if (symbol == rep_3_6) out.put(static_cast<unsigned>(repeat - 3), 2);
    else if (symbol == repz_3_10) out.put(static_cast<unsigned>(repeat - 3), 3);
    else if (symbol == repz_11_138) out.put(static_cast<unsigned>(repeat - 11), 7);
  };
  run_length_code(plan.lit_len_bits, plan.lit_len_max_code, send);
  run_length_code(plan.dist_bits, plan.dist_max_code, send);
  write_symbols(out, {plan.lit_len_bits, lit_codes, plan.dist_bits, dist_codes_}, tally, symbols);
}

}  // namespace lil::deflate
