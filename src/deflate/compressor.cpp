// The streaming compressor: the window's refill and slide schedule, block
// closing, the end-of-input path, and the journaled size report.
//
// Schedule. gzip and zlib (given all input at once, as compress2 is) refill
// their 64 KiB buffer to the brim whenever fewer than MIN_LOOKAHEAD bytes lie
// ahead of the parse, sliding it first once the parse has passed
// slide_threshold. With the buffer always full until the input runs out, a
// slide happens at the first step boundary past the threshold, whatever the
// data. We parse eagerly - as soon as MIN_LOOKAHEAD bytes are ahead - and
// slide by that same rule, so positions, slides and block boundaries match the
// reference step for step while costing only the bytes fed.
//
// End of input. With fewer than MIN_LOOKAHEAD bytes left, the reference
// notices the end: gzip zeroes the two bytes after it and may slide once more
// (never again); zlib re-checks the slide before every remaining step. Those
// late slides move nothing that is still read, so here they only shift how
// positions compare ("window_shift"). gzip's match finder can read up to 257
// bytes past the end; what its buffer holds there is the input one half-window
// earlier, or zeros before enough input has passed - place_eof_bytes() rebuilds it.
//
// Size report. The end-of-input path runs on the real state with every
// overwritten chain head and tail byte journaled (the chain links need no
// journal: window.hpp), the open block is priced instead of written, and the
// journal is undone - but only back to the first step of the tail that more
// input could change (in size-only mode; the steps before it are the steady
// parse's own, and stay). A report then parses its bytes about once, as
// the stream would anyway, plus the last dozen or so positions again; what
// remains is the three Huffman builds that price the open block.
#include "lil/deflate/compressor.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "bit_writer.hpp"
#include "block_writer.hpp"
#include "lil/deflate/checksum.hpp"
#include "parser.hpp"
#include "symbols.hpp"
#include "window.hpp"

namespace lil::deflate {

namespace detail {

namespace {
// gzip's match finder reads at most this far past the last input byte.
constexpr unsigned eof_span = max_match + 8;
// A tail parse links each of its (<262) positions at most once; only the
// chain heads it overwrites are journaled (window.hpp says why not the links).
constexpr unsigned max_journal = min_lookahead + 16;
}  // namespace

struct engine {
  parse_config config;
  int level;
  bool lazy;
  bool keep_output;

  sliding_window window;
  parse_cursor cursor;
  std::uint64_t slides = 0;
  std::uint64_t total_in = 0;

  block_tally tally;
  std::vector<std::uint8_t> symbol_lc;     // kept output only
  std::vector<std::uint16_t> symbol_dist;  // kept output only

  bit_writer writer;  // holds the output bytes (kept output only)
  std::uint64_t closed_bits = 0;  // size-only mode: bits of the closed blocks
  bool finished = false;
  std::uint64_t final_bytes = 0;

  // Size-report scratch.
  // Chain heads overwritten by a tail parse: which, and what they held.
  std::uint16_t journal_hash[max_journal];
  std::uint16_t journal_old[max_journal];
  unsigned journal_len = 0;
  unsigned char eof_saved[eof_span];

  // Keeping the tail's progress (sizes only). A report's tail parse starts
  // from the state the steady parse resumes from once more input arrives,
  // and the two take the same step as long as the step's search (if any)
  // gives the same answer and none of the tail's end-of-input rules fires.
  // A search gives the same answer when it read nothing at or past the end of
  // the input (the only bytes that differ); the end-of-input rules concern
  // only the last few positions, a window shift, and the slide line. So every
  // tail step before the first search that touched the end, the first step
  // with few bytes left or the first that could reach the slide line, is the
  // steady parse's own step. Without output to write, such a step is real
  // progress: the report keeps it instead of undoing it, and the steady parse
  // resumes where it ended. Only the rest of the tail is undone, so each byte
  // is parsed about once, reports or not, plus a dozen or so positions again.
  struct parse_point {
    parse_cursor cursor;
    unsigned hash;
    unsigned journal_len;
    std::uint64_t bits;  // the stream's bits, closed blocks priced
  };
  parse_point step_start{};    // before the tail step now running
  parse_point kept{};          // where the steady parse resumes
  block_tally kept_tally{};
  bool keeping = false;        // the tail's steps are still real progress

  explicit engine(const options& o)
      : config{level_table[o.level], rules_of(o.profile)}, level(o.level), lazy(is_lazy(o.level)),
        keep_output(o.keep_output) {
    if (keep_output) {
      symbol_lc.resize(config.rules.max_block_symbols + 1);
      symbol_dist.resize(config.rules.max_block_symbols + 1);
    }
    clear();
  }

  // A fork copies everything, the size-report scratch included (a few KiB
  // beside the window): no member refers to another. Assigning between two
  // engines of the same options reuses the memory the target already holds
  // (every member is an array or a vector of the same size).
  engine(const engine&) = default;
  engine& operator=(const engine&) = default;

  void clear() noexcept {
    window.clear();
    cursor = parse_cursor{};
    slides = 0;
    total_in = 0;
    tally.clear();
    writer.clear();
    closed_bits = 0;
    finished = false;
    final_bytes = 0;
    keeping = false;
  }

  // The tail parse made a search; `clean`: it read nothing at or past the
  // end of the input.
  void tail_searched(bool clean) noexcept {
    if (!clean && keeping) stop_keeping(step_start);  // this step may differ: keep up to its start
  }

  // --- keeping the tail's progress ---------------------------------------------

  // Fewer bytes than this ahead, and a step may meet an end-of-input rule.
  static constexpr unsigned keep_margin = 16;

  // Called before each step of a report's tail parse.
  void tail_step_begins(std::uint64_t bits) noexcept {
    if (!keeping) return;
    step_start = {cursor, window.hash, journal_len, bits};
    // No kept step may reach the slide line: the steady parse slides there
    // only if the input goes on, and gzip, finding the end where the tail
    // began, slides by where that was - a kept step must not move either.
    if (cursor.lookahead < keep_margin || cursor.window_shift != 0 ||
        cursor.position + max_match + 1 >= slide_threshold)
      stop_keeping(step_start);
  }

  // The steps before `at` are kept. No step has tallied since `at` began.
  void stop_keeping(const parse_point& at) noexcept {
    kept = at;
    kept.cursor.window_shift = 0;  // set by this tail only (gzip's, before its first step)
    kept_tally = tally;
    keeping = false;
  }

  std::uint64_t bits_so_far() const noexcept { return keep_output ? writer.bits_written() : closed_bits; }

  // --- tally -----------------------------------------------------------------

  template <bool Record>
  LIL_ALWAYS_INLINE bool tally_literal(unsigned char c) noexcept {
    if (Record) {
      symbol_lc[tally.symbols] = c;
      symbol_dist[tally.symbols] = 0;
    }
    ++tally.lit_len_freq[c];
    ++tally.symbols;
    return block_is_full();
  }

  template <bool Record>
  LIL_ALWAYS_INLINE bool tally_match(unsigned distance, unsigned length) noexcept {
    const unsigned lc = length - min_match;
    if (Record) {
      symbol_lc[tally.symbols] = static_cast<std::uint8_t>(lc);
      symbol_dist[tally.symbols] = static_cast<std::uint16_t>(distance);
    }
    ++tally.lit_len_freq[literals + 1 + length_code(lc)];
    ++tally.dist_freq[dist_code(distance - 1)];
    ++tally.symbols;
    ++tally.matches;
    return block_is_full();
  }

  LIL_ALWAYS_INLINE bool block_is_full() const noexcept {
    if (config.rules.early_block_split && level > 2 && (tally.symbols & 0xfff) == 0 && early_split_pays())
      return true;
    return tally.symbols == config.rules.max_block_symbols;
  }

  // gzip's guess: with few matches and an estimate (8 bits per symbol, 5 plus
  // extra bits per distance) under half the input, end the block now.
  bool early_split_pays() const noexcept {
    std::uint64_t estimate = std::uint64_t{tally.symbols} * 8;
    for (unsigned d = 0; d < dist_codes; ++d) estimate += std::uint64_t{tally.dist_freq[d]} * (5 + dist_extra_bits[d]);
    estimate >>= 3;
    std::uint64_t input = static_cast<std::uint64_t>(cursor.position - cursor.block_start);
    return tally.matches < tally.symbols / 2 && estimate < input / 2;
  }

  // --- closing blocks -----------------------------------------------------------

  // Writes (Record) or prices the open block as ending at the cursor.
  template <bool Record>
  void close_block(bool last, std::uint64_t* priced_bits) {
    const std::uint64_t stored_len = static_cast<std::uint64_t>(cursor.position - cursor.block_start);
    const bool stored_possible = cursor.block_start - static_cast<std::int64_t>(cursor.window_shift) >= 0;
    block_plan plan;
    plan_block(tally, plan);
    const block_kind kind = choose_block(plan, stored_len, stored_possible);
    if (Record) {
      const unsigned char* stored = stored_possible ? window.bytes + cursor.block_start : nullptr;
      write_block(writer, kind, plan, tally, {symbol_lc.data(), symbol_dist.data()}, stored, stored_len, last);
    } else {
      *priced_bits += block_bits(kind, plan, stored_len, *priced_bits);
    }
    tally.clear();
    cursor.block_start = cursor.position;
  }

  // --- the parser's host -------------------------------------------------------

  // Journal (size report) and Record (output kept) select what the parser's
  // inserts and tallies do; everything else is the same parse.
  template <bool Journal, bool Record>
  struct host {
    engine& e;
    sliding_window& window;
    parse_cursor& cursor;
    const parse_config& config;
    std::uint64_t* priced_bits;  // where closed blocks are priced when not recorded

    explicit host(engine& en, std::uint64_t* priced)
        : e(en), window(en.window), cursor(en.cursor), config(en.config), priced_bits(priced) {}

    LIL_ALWAYS_INLINE unsigned insert(unsigned pos) noexcept {
      if (Journal) {
        return window.insert(pos, [this](unsigned hash, chain_pos old_head) {
          e.journal_hash[e.journal_len] = static_cast<std::uint16_t>(hash);
          e.journal_old[e.journal_len++] = old_head;
        });
      }
      return window.insert(pos, [](unsigned, chain_pos) {});
    }
    LIL_ALWAYS_INLINE void tail_searched(bool clean) noexcept {
      if (Journal) e.tail_searched(clean);
    }
    LIL_ALWAYS_INLINE bool tally_literal(unsigned char c) noexcept { return e.tally_literal<Record>(c); }
    LIL_ALWAYS_INLINE bool tally_match(unsigned d, unsigned len) noexcept { return e.tally_match<Record>(d, len); }
    void close_block() { e.close_block<Record>(false, priced_bits); }
  };

  // --- steady state ---------------------------------------------------------------

  void slide() noexcept {
    window.slide();
    cursor.position -= window_size;
    cursor.match_start -= window_size;  // may wrap, as the reference's unsigned does
    cursor.block_start -= window_size;
    ++slides;
  }

  template <bool Record>
  void pump_steady() {
    host<false, Record> h(*this, &closed_bits);
    if (lazy) {
      search_ahead ahead;
      while (cursor.lookahead >= min_lookahead) {
        lazy_step<false>(h, ahead);
        if (cursor.position > slide_threshold) slide();
      }
    } else {
      while (cursor.lookahead >= min_lookahead) {
        greedy_step<false>(h);
        if (cursor.position > slide_threshold) slide();
      }
    }
  }

  void feed(const unsigned char* data, std::size_t size) {
    total_in += size;
    while (size > 0) {
      const unsigned end = cursor.position + cursor.lookahead;
      const std::size_t room = buffer_span - end;
      const std::size_t take = size < room ? size : room;
      std::memcpy(window.bytes + end, data, take);
      cursor.lookahead += static_cast<unsigned>(take);
      data += take;
      size -= take;
      if (cursor.lookahead < min_lookahead) continue;
      if (!cursor.hash_primed) {
        window.prime(cursor.position);
        cursor.hash_primed = true;
      }
      if (keep_output) pump_steady<true>();
      else pump_steady<false>();
    }
  }

  // --- end of input -------------------------------------------------------------------

  // What gzip's buffer holds past the end of the input (see the file comment):
  // two zeroed bytes, then the byte one half-window earlier if the buffer has
  // held input there before, else the zero it started with.
  // Where byte i past the end comes from: null for a zero, else its source.
  const unsigned char* eof_source(unsigned end, unsigned i, std::uint64_t epochs) const noexcept {
    if (i < 2 || epochs == 0) return nullptr;
    const unsigned physical = end + i;
    const unsigned logical_cell = physical - cursor.window_shift;
    if (logical_cell < window_size && epochs < 2) return nullptr;
    if (physical >= window_size) return window.bytes + (physical - window_size);
    return window.left_behind + (kept_on_slide - (window_size - physical));
  }

  // The source only changes kind where i crosses 2, or the end crosses one
  // or two half-windows; between those cuts consecutive bytes come from
  // consecutive sources, so each run is one memset or memcpy.
  template <bool Journal>
  void place_eof_bytes() noexcept {
    const unsigned end = cursor.position + cursor.lookahead;
    const std::uint64_t epochs = slides + (cursor.window_shift ? 1 : 0);
    unsigned char* dst = window.bytes + end;
    if (Journal) std::memcpy(eof_saved, dst, eof_span);
    auto cut = [end](unsigned at) { return at > end ? (at - end < eof_span ? at - end : eof_span) : 0u; };
    unsigned cuts[5] = {0, 2, cut(window_size), cut(2 * window_size), eof_span};
    std::sort(cuts, cuts + 5);
    for (unsigned k = 0; k + 1 < 5; ++k) {
      const unsigned from = cuts[k], to = cuts[k + 1];
      if (from >= to) continue;
      if (const unsigned char* src = eof_source(end, from, epochs)) std::memcpy(dst + from, src, to - from);
      else std::memset(dst + from, 0, to - from);
    }
  }

  template <bool Journal, bool Record>
  void run_tail(std::uint64_t* priced_bits) {
    host<Journal, Record> h(*this, priced_bits);
    search_ahead no_ahead;  // (the tail searches step by step)
    const bool gzip_like = !config.rules.slide_during_tail;
    cursor.window_shift = 0;
    if (gzip_like) {
      // gzip's last refill finds the end of input; it slides first if due.
      if (cursor.position >= slide_threshold) cursor.window_shift = window_size;
      place_eof_bytes<Journal>();
    }
    if (!cursor.hash_primed) {
      window.prime(cursor.position);
      cursor.hash_primed = true;
    }
    for (;;) {
      if (Journal) tail_step_begins(*priced_bits);
      // zlib checks for a slide before every step, the last (empty) one too.
      if (!gzip_like && cursor.window_shift == 0 && cursor.position >= slide_threshold)
        cursor.window_shift = window_size;
      if (cursor.lookahead == 0) break;
      if (lazy) lazy_step<true>(h, no_ahead);
      else greedy_step<true>(h);
    }
    if (lazy && cursor.match_available) {
      tally_literal<Record>(window.bytes[cursor.position - 1]);
      cursor.match_available = false;
    }
    close_block<Record>(true, priced_bits);
  }

  std::uint64_t size_if_finished() noexcept {
    if (finished) return final_bytes;
    const unsigned end = cursor.position + cursor.lookahead;
    std::uint64_t bits = bits_so_far();
    journal_len = 0;
    // With output kept, a kept step would owe the symbol buffer its symbols
    // and a closed block its bytes; before the hash is primed (the first 262
    // bytes), the tail primes it over bytes not yet fed. Either way keep
    // nothing: stop before the first step.
    keeping = true;
    if (keep_output || !cursor.hash_primed) stop_keeping({cursor, window.hash, 0, bits});
    run_tail<true, false>(&bits);
    if (keeping) stop_keeping(step_start);  // (the last step always stops it; for safety)
    while (journal_len > kept.journal_len) {
      --journal_len;
      window.head[journal_hash[journal_len]] = journal_old[journal_len];
    }
    cursor = kept.cursor;
    if (!config.rules.slide_during_tail) std::memcpy(window.bytes + end, eof_saved, eof_span);
    window.hash = kept.hash;
    tally = kept_tally;
    if (!keep_output) closed_bits = kept.bits;
    return (bits + 7) / 8;
  }

  void finish() {
    if (keep_output) {
      run_tail<false, true>(nullptr);
      writer.align();
      final_bytes = writer.bits_written() / 8;
    } else {
      std::uint64_t bits = closed_bits;
      run_tail<false, false>(&bits);
      closed_bits = bits;
      final_bytes = (bits + 7) / 8;
    }
    finished = true;
  }
};

}  // namespace detail

// --- compressor ---------------------------------------------------------------

namespace {
void check_options(const options& o) {
  if (o.level < 1 || o.level > 9)
    lil::detail::throw_error("deflate options: level must be 1..9, got " + std::to_string(o.level));
  if (o.profile != profile::gzip && o.profile != profile::zlib)
    lil::detail::throw_error("deflate options: unknown profile " + std::to_string(static_cast<int>(o.profile)));
}
}  // namespace

compressor::compressor(const options& opts) : opts_(opts) {
  check_options(opts);
  engine_ = std::make_unique<detail::engine>(opts);
}

compressor::compressor(const compressor& other)
    : opts_(other.opts_), engine_(std::make_unique<detail::engine>(*other.engine_)) {}

compressor& compressor::operator=(const compressor& other) {
  if (this != &other) {
    opts_ = other.opts_;
    engine_ = std::make_unique<detail::engine>(*other.engine_);
  }
  return *this;
}

void compressor::copy_state_from(const compressor& other) {
  if (this == &other) return;
  const bool same = opts_.level == other.opts_.level && opts_.profile == other.opts_.profile &&
                    opts_.keep_output == other.opts_.keep_output;
  if (!same) {
    *this = other;
    return;
  }
  *engine_ = *other.engine_;
}

compressor::compressor(compressor&&) noexcept = default;
compressor& compressor::operator=(compressor&&) noexcept = default;
compressor::~compressor() = default;

void compressor::feed(const void* data, std::size_t size) {
  if (engine_->finished) lil::detail::throw_error("deflate compressor: feed() after finish()");
  engine_->feed(static_cast<const unsigned char*>(data), size);
}

std::uint64_t compressor::size_if_finished() noexcept { return engine_->size_if_finished(); }

void compressor::finish() {
  if (engine_->finished) return;
  engine_->finish();
}

bool compressor::finished() const noexcept { return engine_->finished; }

const std::vector<unsigned char>& compressor::output() const noexcept { return engine_->writer.bytes(); }

std::vector<unsigned char> compressor::take_output() {
  return engine_->writer.take_bytes();
}

std::uint64_t compressor::bytes_in() const noexcept { return engine_->total_in; }
std::uint64_t compressor::bits_closed() const noexcept { return engine_->bits_so_far(); }

void compressor::reset() noexcept { engine_->clear(); }

std::size_t compressor::state_bytes(const options& opts) noexcept {
  std::size_t bytes = sizeof(detail::engine);
  if (opts.keep_output) {
    const std::size_t symbols = rules_of(opts.profile).max_block_symbols + 1;
    bytes += symbols * (sizeof(std::uint8_t) + sizeof(std::uint16_t));
  }
  return bytes;
}

std::uint64_t deflate_size(const void* data, std::size_t size, const options& opts) {
  options o = opts;
  o.keep_output = false;
  compressor c(o);
  c.feed(data, size);
  c.finish();
  return c.size_if_finished();
}

// --- containers ------------------------------------------------------------------

namespace {

void put_le32(std::vector<unsigned char>& v, std::uint32_t x) {
  for (int i = 0; i < 4; ++i) v.push_back(static_cast<unsigned char>(x >> (8 * i)));
}
void put_be32(std::vector<unsigned char>& v, std::uint32_t x) {
  for (int i = 3; i >= 0; --i) v.push_back(static_cast<unsigned char>(x >> (8 * i)));
}

// gzip's header with no name and no time stamp; XFL marks -1 (fastest) and
// -9 (best) as gzip does; OS 3 (Unix).
void gzip_header(std::vector<unsigned char>& v, int level) {
  const unsigned char xfl = level == 1 ? 4 : level == 9 ? 2 : 0;
  const unsigned char header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3};
  for (unsigned char byte : header) v.push_back(byte);  // (insert() trips a GCC 12 false warning)
}

// zlib's two-byte header: deflate with a 32 KiB window, the level bucket
// compress2 records, and the check bits that make it a multiple of 31.
void zlib_header(std::vector<unsigned char>& v, int level) {
  const unsigned level_flags = level < 2 ? 0 : level < 6 ? 1 : level == 6 ? 2 : 3;
  unsigned header = (8u + ((15u - 8u) << 4)) << 8 | level_flags << 6;
  header += 31 - header % 31;
  v.push_back(static_cast<unsigned char>(header >> 8));
  v.push_back(static_cast<unsigned char>(header & 0xff));
}

}  // namespace

namespace {
options with_output(options o) {
  o.keep_output = true;
  return o;
}
}  // namespace

encoder::encoder(const options& opts, container box)
    : deflater_(with_output(opts)), box_(box), check_(box == container::zlib ? 1u : 0u) {
  if (box_ == container::gzip) gzip_header(pending_, opts.level);
  if (box_ == container::zlib) zlib_header(pending_, opts.level);
}

void encoder::feed(const void* data, std::size_t size) {
  if (box_ == container::gzip) check_ = crc32(check_, data, size);
  if (box_ == container::zlib) check_ = adler32(check_, data, size);
  length_ += size;
  deflater_.feed(data, size);
}

void encoder::finish() {
  if (deflater_.finished()) return;
  deflater_.finish();
  std::vector<unsigned char> body = deflater_.take_output();
  pending_.insert(pending_.end(), body.begin(), body.end());
  if (box_ == container::gzip) {
    put_le32(pending_, check_);
    put_le32(pending_, static_cast<std::uint32_t>(length_));
  } else if (box_ == container::zlib) {
    put_be32(pending_, check_);
  }
}

std::vector<unsigned char> encoder::take_output() {
  std::vector<unsigned char> ready;
  ready.swap(pending_);
  if (!deflater_.finished()) {
    std::vector<unsigned char> body = deflater_.take_output();
    ready.insert(ready.end(), body.begin(), body.end());
  }
  return ready;
}

std::vector<unsigned char> compress(const void* data, std::size_t size, const options& opts, container box) {
  encoder e(opts, box);
  e.feed(data, size);
  e.finish();
  return e.take_output();
}

}  // namespace lil::deflate
