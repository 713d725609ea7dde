// lil/kv/quest.hpp - Quest: query-aware page selection.
//
// What it computes
//   Tang et al. 2024, "Quest: Query-Aware Sparsity for Efficient Long-Context
//   LLM Inference": which tokens matter depends on the query, so nothing is
//   evicted; each step reads only the pages whose keys could score high
//   against the current query. Memory stays dense; reads (and time) shrink.
//
// The algorithm
//   Tokens fill pages of `page_size` slots in arrival order. Each page keeps,
//   per KV head and channel d, the min m_d and max M_d of its keys. For a
//   query q, sum_d max(q_d M_d, q_d m_d) bounds q.k from above for every key k
//   of the page (each term bounds q_d k_d, since k_d lies in [m_d, M_d]). It is
//   computed as sum_d (q+_d M_d + q-_d m_d) with q+ = max(q, 0) and
//   q- = min(q, 0): the same value, two multiply-adds per channel and no
//   branch. Per KV head, the bounds of its query heads are folded by `gqa`,
//   the top budget/page_size - 1 pages are kept, and the current (last,
//   possibly partial) page is always added. While the context fits in the
//   budget, every token is read.
//
// The GQA fold
//   mean (the default) or sum rank a page by the average (total) bound of the
//   group's query heads. Because the bound is linear in M and m once the signs
//   are split, sum_g sum_d (q+_gd M_d + q-_gd m_d) = sum_d (sum_g q+_gd) M_d +
//   (sum_g q-_gd) m_d: the group's q+ and q- are summed once per step and each
//   page costs one head's work whatever the group size. max reads a page if
//   any one query head's bound is high; it costs group-size times more (one
//   bound per query head; the tile stays in L1 between them).
//
// Paper defaults
//   Pages of 16 tokens; token budgets 256..4096 in the evaluation; the first
//   two layers dense (policy_spec::quest() and parse() ask for that explicitly).
//   The paper's models are multi-head; the GQA fold is ours and explicit.
//
// Stored bounds
//   fp32 by default: the paper keeps them in the cache's own precision, so
//   that they weigh 1/8 of the keys. bound_format::bf16 halves what select()
//   reads (rounding each max up and each min down: still an upper bound, a
//   little looser).
//
// Layout and costs
//   Bounds sit in tiles of 16 pages, channel-major inside a tile, so that
//   scoring broadcasts one q channel against 16 pages per multiply-add and
//   reads each tile as one contiguous block. select: per page and KV head
//   2 x head_dim multiply-adds (x group size with the max fold), a heap
//   selection of the top pages and a sort of them. Its reads are 2 x head_dim
//   floats per page and KV head, 1/16 of what dense attention reads for the
//   page's 16 keys and values. append: one min/max update per KV head.
//   bf16 rows are widened as even and odd pages (a shift and a mask on 32-bit
//   words, not a zero-extension, which SSE2 lacks); x86-64 builds without
//   -mavx score tiles in AVX2 where the CPU has it. The page sums are
//   memory-bound once the bounds leave L2 (docs/kv.md, the floor's table).
//   Memory: every token (max_context slots per KV head) plus 2 x head_dim
//   floats (or bf16) per page and KV head.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "lil/kv/math.hpp"
#include "lil/kv/policy.hpp"

#if defined(LIL_KV_VECTOR_MATH) && defined(LIL_KV_BF16_PAIRS) && defined(__x86_64__) && !defined(__AVX__)
#define LIL_KV_QUEST_AVX2 1
#endif

namespace lil::kv {

// How the per-page key bounds are stored. bf16 halves what select() reads,
// rounding each max up and each min down so that the bound stays an upper
// bound (a little looser: 8 significant bits).
enum class bound_format : std::uint8_t { fp32, bf16 };

struct quest_options {
  token_budget budget = 1024;  // tokens read per step, current page included
  int page_size = 16;
  reduction gqa = reduction::mean;
  bound_format bounds = bound_format::fp32;
};

class quest_policy final : public policy {
 public:
  quest_policy(const model_shape& shape, int layer, const quest_options& opts, detail::state_binding bind = {})
      : policy("quest", (check_shape(shape, layer, "quest"), shape), layer, opts.gqa, resolve(shape, opts),
               shape.max_context, std::min<std::int32_t>(shape.max_context, pages_in(shape, opts) * opts.page_size),
               /*shared_slots=*/true, bind),
        page_size_(opts.page_size),
        budget_pages_(pages_in(shape, opts)),
        tiles_((shape.max_context + opts.page_size * kTile - 1) / (opts.page_size * kTile)),
        bounds_per_head_(static_cast<std::size_t>(tiles_) * kTile * static_cast<std::size_t>(shape.head_dim)),
        bf16_(opts.bounds == bound_format::bf16),
        page_max_(bf16_ ? detail::seq_array<float>() : take<float>("quest.page_max", all_bounds(shape), 0.0f)),
        page_min_(bf16_ ? detail::seq_array<float>() : take<float>("quest.page_min", all_bounds(shape), 0.0f)),
        page_max16_(bf16_ ? take<std::uint16_t>("quest.page_max16", all_bounds(shape), 0)
                          : detail::seq_array<std::uint16_t>()),
        page_min16_(bf16_ ? take<std::uint16_t>("quest.page_min16", all_bounds(shape), 0)
                          : detail::seq_array<std::uint16_t>()),
        q_pos_(static_cast<std::size_t>(shape.n_heads) * static_cast<std::size_t>(shape.head_dim), 0.0f),
        q_neg_(q_pos_.size(), 0.0f),
        page_score_(static_cast<std::size_t>(tiles_) * kTile, 0.0f),
        tile_score_(kTile, 0.0f),
        page_order_(page_score_.size(), 0),
        chosen_(take<std::int32_t>(
            "quest.table", static_cast<std::size_t>(shape.n_kv_heads) * static_cast<std::size_t>(max_selected()), 0)) {}

  int page_size() const noexcept { return page_size_; }
  bound_format bounds() const noexcept { return bf16_ ? bound_format::bf16 : bound_format::fp32; }
  std::int32_t budget_pages() const noexcept { return budget_pages_; }
  std::int32_t pages() const noexcept { return (table(0).size() + page_size_ - 1) / page_size_; }
  // Every token is read until the pages exceed budget_pages().
  std::int32_t room() const noexcept override {
    return std::min(capacity(), budget_pages_ * page_size_) - table(0).size();
  }

  // The bound of page `page` of KV head `kv_head` for one query head's row q
  // (what the max fold ranks; the same sum, channel by channel, as select()).
  float upper_bound(const float* q, int kv_head, std::int32_t page) const noexcept {
    float bound = 0.0f;
    for (int c = 0; c < shape().head_dim; ++c) {
      const float qp = q[c] > 0.0f ? q[c] : 0.0f;
      const float qn = q[c] < 0.0f ? q[c] : 0.0f;
      const std::size_t at = bound_at(kv_head, page, c);
      bound += bf16_ ? qp * detail::from_bf16(page_max16_[at]) + qn * detail::from_bf16(page_min16_[at])
                     : qp * page_max_[at] + qn * page_min_[at];
    }
    return bound;
  }

  const append_result& append(std::int64_t position, const float* keys) override {
    check_position(position);
    auto& t = table(0);
    if (t.full()) fail_full(position);
    const std::int32_t slot = t.insert(position, next_arrival());
    const std::int32_t page = slot / page_size_;
    const bool first_in_page = slot % page_size_ == 0;
    const int d = shape().head_dim;
    for (int h = 0; h < shape().n_kv_heads; ++h) {
      const float* k = keys + static_cast<std::size_t>(h) * static_cast<std::size_t>(d);
      const std::size_t at = bound_at(h, page, 0);
      for (int c = 0; c < d; ++c) {
        const std::size_t i = at + static_cast<std::size_t>(c) * kTile;
        if (bf16_) {
          if (first_in_page || k[c] > detail::from_bf16(page_max16_[i])) page_max16_[i] = detail::bf16_rounded(k[c], true);
          if (first_in_page || k[c] < detail::from_bf16(page_min16_[i])) page_min16_[i] = detail::bf16_rounded(k[c], false);
        } else {
          page_max_[i] = first_in_page || k[c] > page_max_[i] ? k[c] : page_max_[i];
          page_min_[i] = first_in_page || k[c] < page_min_[i] ? k[c] : page_min_[i];
        }
      }
      set_append(h, slot, -1);
    }
    return append_done();
  }

  slot_lists select(const float* query) noexcept override {
    const std::int32_t n = table(0).size();
    const std::int32_t n_pages = (n + page_size_ - 1) / page_size_;
    if (n_pages <= budget_pages_) {
      select_all_live();
      return last_selection();
    }
    split_query(query);
    const std::int32_t current = n_pages - 1;
    const std::int32_t keep = budget_pages_ - 1;
    for (int h = 0; h < shape().n_kv_heads; ++h) {
      if (bf16_) {
        score_pages(h, current, page_max16_.data(), page_min16_.data());
      } else {
        score_pages(h, current, page_max_.data(), page_min_.data());
      }
      std::int32_t* order = page_order_.data();
      top_pages(current, keep, order);
      std::sort(order, order + keep);
      std::int32_t* out = &chosen_[static_cast<std::size_t>(h) * static_cast<std::size_t>(max_selected())];
      std::int32_t count = 0;
      for (std::int32_t k = 0; k < keep; ++k)
        for (std::int32_t s = order[k] * page_size_, e = s + page_size_; s < e; ++s) out[count++] = s;
      for (std::int32_t s = current * page_size_; s < n; ++s) out[count++] = s;
      set_selection(h, out, count);
    }
    return last_selection();
  }

 private:
  // Bounds are stored in tiles of kTile pages, channel-major inside a tile:
  // [kv head][tile][channel][page in tile]. Scoring then multiplies one
  // broadcast q channel by kTile pages at once and reads each tile as one
  // contiguous block.
  static constexpr int kTile = 16;

  std::size_t all_bounds(const model_shape& shape) const noexcept {
    return static_cast<std::size_t>(shape.n_kv_heads) * bounds_per_head_;
  }
  static std::int32_t pages_in(const model_shape& shape, const quest_options& o) {
    return resolve(shape, o) / o.page_size;
  }
  static std::int32_t resolve(const model_shape& shape, const quest_options& o) {
    const int b = o.budget.resolve(shape, "quest");
    if (o.page_size < 1)
      lil::detail::throw_error("kv quest: page_size " + detail::number(o.page_size) + " must be at least 1");
    if (b < o.page_size)
      lil::detail::throw_error("kv quest: budget " + detail::number(b) +
                               " tokens is below the protected current page (page_size " +
                               detail::number(o.page_size) + ")");
    return b;
  }

  std::size_t bound_at(int kv_head, std::int32_t page, int channel) const noexcept {
    const std::size_t d = static_cast<std::size_t>(shape().head_dim);
    return static_cast<std::size_t>(kv_head) * bounds_per_head_ +
           static_cast<std::size_t>(page / kTile) * kTile * d + static_cast<std::size_t>(channel) * kTile +
           static_cast<std::size_t>(page % kTile);
  }

  // The `keep` best of pages [0, n) by page_score_ (ties: the lower page),
  // into order[0..keep), unsorted. A min-heap of the best so far: most pages
  // lose one comparison against its root, so this is about one pass.
  void top_pages(std::int32_t n, std::int32_t keep, std::int32_t* order) const noexcept {
    const float* sc = page_score_.data();
    auto better = [sc](std::int32_t a, std::int32_t b) { return sc[a] > sc[b] || (sc[a] == sc[b] && a < b); };
    if (keep <= 0) return;
    for (std::int32_t p = 0; p < keep; ++p) order[p] = p;
    std::make_heap(order, order + keep, better);  // root: the worst kept page
    for (std::int32_t p = keep; p < n; ++p) {
      if (!better(p, order[0])) continue;
      std::pop_heap(order, order + keep, better);
      order[keep - 1] = p;
      std::push_heap(order, order + keep, better);
    }
  }

  // Max fold: q+ and q- per query head. Sum and mean: summed over each KV
  // head's group, in query-head order (see "The GQA fold").
  void split_query(const float* q) noexcept {
    const std::size_t d = static_cast<std::size_t>(shape().head_dim);
    if (gqa() == reduction::max) {
      for (std::size_t i = 0, n = static_cast<std::size_t>(shape().n_heads) * d; i < n; ++i) {
        q_pos_[i] = q[i] > 0.0f ? q[i] : 0.0f;
        q_neg_[i] = q[i] < 0.0f ? q[i] : 0.0f;
      }
      return;
    }
    const int g = shape().group_size();
    for (int h = 0; h < shape().n_kv_heads; ++h) {
      float* qp = &q_pos_[static_cast<std::size_t>(h) * d];
      float* qn = &q_neg_[static_cast<std::size_t>(h) * d];
      for (std::size_t i = 0; i < d; ++i) qp[i] = qn[i] = 0.0f;
      for (int k = 0; k < g; ++k) {
        const float* row = q + static_cast<std::size_t>(h * g + k) * d;
        for (std::size_t i = 0; i < d; ++i) {
          qp[i] += row[i] > 0.0f ? row[i] : 0.0f;
          qn[i] += row[i] < 0.0f ? row[i] : 0.0f;
        }
      }
    }
  }

  // page_score_[p] for pages [0, n_pages) of KV head h (entries past n_pages
  // in the last tile are meaningless). T: float or bf16 (std::uint16_t).
  template <class T>
  void score_pages(int h, std::int32_t n_pages, const T* max_base, const T* min_base) noexcept {
    const int d = shape().head_dim;
    const std::size_t tile_size = kTile * static_cast<std::size_t>(d);
    const T* mx = max_base + static_cast<std::size_t>(h) * bounds_per_head_;
    const T* mn = min_base + static_cast<std::size_t>(h) * bounds_per_head_;
    const int g = shape().group_size();
    const std::int32_t n_tiles = (n_pages + kTile - 1) / kTile;
    float* out = page_score_.data();
    if (gqa() != reduction::max) {
      const float* qp = &q_pos_[static_cast<std::size_t>(h) * static_cast<std::size_t>(d)];
      const float* qn = &q_neg_[static_cast<std::size_t>(h) * static_cast<std::size_t>(d)];
      const float inv = gqa() == reduction::mean ? 1.0f / static_cast<float>(g) : 1.0f;
      for (std::int32_t t = 0; t < n_tiles; ++t, mx += tile_size, mn += tile_size) {
        float* o = out + static_cast<std::size_t>(t) * kTile;
        scored_tile(qp, qn, mx, mn, d, o);
        for (int j = 0; j < kTile; ++j) o[j] *= inv;
      }
      return;
    }
    // Max fold: one pass per query head over each tile, which stays in L1.
    float* b = tile_score_.data();
    for (std::int32_t t = 0; t < n_tiles; ++t, mx += tile_size, mn += tile_size) {
      float* o = out + static_cast<std::size_t>(t) * kTile;
      for (int k = 0; k < g; ++k) {
        const std::size_t q_at = static_cast<std::size_t>(h * g + k) * static_cast<std::size_t>(d);
        scored_tile(&q_pos_[q_at], &q_neg_[q_at], mx, mn, d, k == 0 ? o : b);
        if (k > 0)
          for (int j = 0; j < kTile; ++j) o[j] = b[j] > o[j] ? b[j] : o[j];
      }
    }
  }

  // out[j] = sum_c (qp_c mx[c][j] + qn_c mn[c][j]) for the kTile pages j of a
  // tile, channel by channel: each q channel is broadcast against kTile pages.
  template <class T>
  static void bound_tile(const float* qp, const float* qn, const T* mx, const T* mn, int d, float* out) noexcept {
#if defined(LIL_KV_VECTOR_MATH)
    constexpr int n_vec = kTile / detail::vec_width;
    detail::vfloat acc[n_vec] = {};
    for (int c = 0; c < d; ++c, mx += kTile, mn += kTile) {
      const float p = qp[c], n = qn[c];
      for (int k = 0; k < n_vec; ++k)
        acc[k] += p * detail::load(mx + k * detail::vec_width) + n * detail::load(mn + k * detail::vec_width);
    }
    for (int k = 0; k < n_vec; ++k) detail::store(out + k * detail::vec_width, acc[k]);
#else
    for (int j = 0; j < kTile; ++j) out[j] = 0.0f;
    for (int c = 0; c < d; ++c, mx += kTile, mn += kTile)
      for (int j = 0; j < kTile; ++j) out[j] += qp[c] * widen(mx[j]) + qn[c] * widen(mn[j]);
#endif
  }

#if defined(LIL_KV_BF16_PAIRS)
  // bf16 tiles: the same sums, with each row of kTile pages widened as even
  // and odd pages (detail::load_bf16_pairs), accumulated in those lanes and
  // put back in page order once per tile. Each page's arithmetic is the
  // generic loop's, so scores are the same bits.
  static void bound_tile(const float* qp, const float* qn, const std::uint16_t* mx, const std::uint16_t* mn, int d,
                         float* out) noexcept {
    constexpr int span = 2 * detail::vec_width;  // pages per load
    constexpr int n_vec = kTile / span;
    detail::vfloat even[n_vec] = {}, odd[n_vec] = {};
    for (int c = 0; c < d; ++c, mx += kTile, mn += kTile) {
      const float p = qp[c], n = qn[c];
      for (int k = 0; k < n_vec; ++k) {
        detail::vfloat hi_e, hi_o, lo_e, lo_o;
        detail::load_bf16_pairs(mx + k * span, hi_e, hi_o);
        detail::load_bf16_pairs(mn + k * span, lo_e, lo_o);
        even[k] += p * hi_e + n * lo_e;
        odd[k] += p * hi_o + n * lo_o;
      }
    }
    for (int k = 0; k < n_vec; ++k)
      for (int i = 0; i < detail::vec_width; ++i) {
        out[k * span + 2 * i] = even[k][i];
        out[k * span + 2 * i + 1] = odd[k][i];
      }
  }
#endif

#if defined(LIL_KV_QUEST_AVX2)
  // x86-64 builds without -mavx: bound_tile in 8-float AVX2 vectors where the
  // CPU has them (checked once), else the SSE width. Only the width changes:
  // every page's multiplies and adds are the same (target "avx2" does not
  // enable FMA, so nothing is contracted), so the scores are the same bits.
  typedef float v8f __attribute__((vector_size(32), aligned(4), may_alias));
  typedef std::uint32_t v8u __attribute__((vector_size(32), aligned(4), may_alias));
  __attribute__((target("avx2"))) static void bound_tile_avx2(const float* qp, const float* qn, const float* mx,
                                                               const float* mn, int d, float* out) noexcept {
    v8f acc[kTile / 8] = {};
    for (int c = 0; c < d; ++c, mx += kTile, mn += kTile) {
      const float p = qp[c], n = qn[c];
      for (int k = 0; k < kTile / 8; ++k)
        acc[k] += p * *reinterpret_cast<const v8f*>(mx + 8 * k) + n * *reinterpret_cast<const v8f*>(mn + 8 * k);
    }
    for (int k = 0; k < kTile / 8; ++k) *reinterpret_cast<v8f*>(out + 8 * k) = acc[k];
  }
  __attribute__((target("avx2"))) static void bound_tile_avx2(const float* qp, const float* qn,
                                                               const std::uint16_t* mx, const std::uint16_t* mn, int d,
                                                               float* out) noexcept {
    static_assert(kTile == 16, "one 32-byte row of bf16 per tile and bound");
    v8f even = {}, odd = {};
    const v8u high = {0xFFFF0000u, 0xFFFF0000u, 0xFFFF0000u, 0xFFFF0000u,
                      0xFFFF0000u, 0xFFFF0000u, 0xFFFF0000u, 0xFFFF0000u};
    for (int c = 0; c < d; ++c, mx += kTile, mn += kTile) {
      const float p = qp[c], n = qn[c];
      const v8u a = *reinterpret_cast<const v8u*>(mx), b = *reinterpret_cast<const v8u*>(mn);
      even += p * (v8f)(a << 16) + n * (v8f)(b << 16);
      odd += p * (v8f)(a & high) + n * (v8f)(b & high);
    }
    for (int i = 0; i < 8; ++i) {
      out[2 * i] = even[i];
      out[2 * i + 1] = odd[i];
    }
  }
  static bool has_avx2() noexcept {
    static const bool yes = [] {
      __builtin_cpu_init();
      return __builtin_cpu_supports("avx2") != 0;
    }();
    return yes;
  }
  template <class T>
  static void scored_tile(const float* qp, const float* qn, const T* mx, const T* mn, int d, float* out) noexcept {
    if (has_avx2()) {
      bound_tile_avx2(qp, qn, mx, mn, d, out);
    } else {
      bound_tile(qp, qn, mx, mn, d, out);
    }
  }
#else
  template <class T>
  static void scored_tile(const float* qp, const float* qn, const T* mx, const T* mn, int d, float* out) noexcept {
    bound_tile(qp, qn, mx, mn, d, out);
  }
#endif

  static float widen(float x) noexcept { return x; }
  static float widen(std::uint16_t x) noexcept { return detail::from_bf16(x); }

  std::size_t extra_bytes() const noexcept override {
    return (page_max_.size() + page_min_.size() + q_pos_.size() + q_neg_.size() + page_score_.size() +
            tile_score_.size()) * sizeof(float) +
           (page_max16_.size() + page_min16_.size()) * sizeof(std::uint16_t) +
           (page_order_.size() + chosen_.size()) * sizeof(std::int32_t);
  }

  int page_size_;
  std::int32_t budget_pages_;
  std::int32_t tiles_;
  std::size_t bounds_per_head_;
  bool bf16_;
  detail::seq_array<float> page_max_;  // [n_kv_heads][tiles][head_dim][kTile], fp32 bounds
  detail::seq_array<float> page_min_;
  detail::seq_array<std::uint16_t> page_max16_;  // the same, bf16 bounds
  detail::seq_array<std::uint16_t> page_min16_;
  std::vector<float> q_pos_;  // [n_heads][head_dim]
  std::vector<float> q_neg_;
  std::vector<float> page_score_;
  std::vector<float> tile_score_;
  std::vector<std::int32_t> page_order_;
  detail::seq_array<std::int32_t> chosen_;  // [n_kv_heads][max_selected]
};

}  // namespace lil::kv
