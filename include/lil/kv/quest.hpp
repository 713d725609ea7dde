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
//   bound per query head, the page's M and m loaded once for four heads).
//
// Paper defaults
//   Pages of 16 tokens; token budgets 256..4096 in the evaluation; the first
//   two layers dense (policy_spec applies skip_first_layers = 2 for Quest).
//   The paper's models are multi-head; the GQA fold is ours and explicit.
//
// Stored bounds
//   fp32 by default: the paper keeps them in the cache's own precision, so
//   that they weigh 1/8 of the keys. bound_format::bf16 halves what select()
//   reads (rounding each max up and each min down: still an upper bound, a
//   little looser).
//
// Costs
//   select: per page and KV head 2 x head_dim multiply-adds (x group size with
//   the max fold), an O(pages) selection and a sort of the chosen pages. Its
//   reads are 2 x head_dim floats per page and KV head, 1/16 of what dense
//   attention reads for the page's 16 keys and values. append: one min/max
//   update per KV head. Memory: every token (max_context slots per KV head)
//   plus 2 x head_dim floats (or bf16) per page and KV head.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "lil/kv/math.hpp"
#include "lil/kv/policy.hpp"

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
  quest_policy(const model_shape& shape, int layer, const quest_options& opts)
      : policy("quest", (check_shape(shape, layer, "quest"), shape), layer, opts.gqa, resolve(shape, opts),
               shape.max_context, std::min<std::int32_t>(shape.max_context, pages_in(shape, opts) * opts.page_size),
               /*shared_slots=*/true),
        page_size_(opts.page_size),
        budget_pages_(pages_in(shape, opts)),
        max_pages_((shape.max_context + opts.page_size - 1) / opts.page_size),
        bounds_per_head_(static_cast<std::size_t>(max_pages_) * static_cast<std::size_t>(shape.head_dim)),
        bf16_(opts.bounds == bound_format::bf16),
        page_max_(bf16_ ? 0u : static_cast<std::size_t>(shape.n_kv_heads) * bounds_per_head_, 0.0f),
        page_min_(page_max_.size(), 0.0f),
        page_max16_(bf16_ ? static_cast<std::size_t>(shape.n_kv_heads) * bounds_per_head_ : 0u, 0),
        page_min16_(page_max16_.size(), 0),
        q_pos_(static_cast<std::size_t>(shape.n_heads) * static_cast<std::size_t>(shape.head_dim), 0.0f),
        q_neg_(q_pos_.size(), 0.0f),
        page_score_(static_cast<std::size_t>(max_pages_), 0.0f),
        page_order_(static_cast<std::size_t>(max_pages_), 0),
        chosen_(static_cast<std::size_t>(shape.n_kv_heads) * static_cast<std::size_t>(max_selected()), 0),
        probe_(2 * static_cast<std::size_t>(shape.head_dim), 0.0f) {}

  int page_size() const noexcept { return page_size_; }
  bound_format bounds() const noexcept { return bf16_ ? bound_format::bf16 : bound_format::fp32; }
  std::int32_t budget_pages() const noexcept { return budget_pages_; }
  std::int32_t pages() const noexcept { return (table(0).size() + page_size_ - 1) / page_size_; }

  // The bound of page `page` of KV head `kv_head` for one query head's row q,
  // computed exactly as select() computes it (max fold).
  float upper_bound(const float* q, int kv_head, std::int32_t page) const noexcept {
    const std::size_t d = static_cast<std::size_t>(shape().head_dim);
    float* qp = probe_.data();
    float* qn = probe_.data() + d;
    for (std::size_t i = 0; i < d; ++i) {
      qp[i] = q[i] > 0.0f ? q[i] : 0.0f;
      qn[i] = q[i] < 0.0f ? q[i] : 0.0f;
    }
    const std::size_t at = page_at(kv_head, page);
    return bf16_ ? bound(qp, qn, &page_max16_[at], &page_min16_[at], shape().head_dim)
                 : bound(qp, qn, &page_max_[at], &page_min_[at], shape().head_dim);
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
      const std::size_t at = page_at(h, page);
      if (bf16_) {
        std::uint16_t* mx = &page_max16_[at];
        std::uint16_t* mn = &page_min16_[at];
        for (int i = 0; i < d; ++i) {
          if (first_in_page || k[i] > detail::from_bf16(mx[i])) mx[i] = detail::bf16_rounded(k[i], true);
          if (first_in_page || k[i] < detail::from_bf16(mn[i])) mn[i] = detail::bf16_rounded(k[i], false);
        }
      } else {
        float* mx = &page_max_[at];
        float* mn = &page_min_[at];
        for (int i = 0; i < d; ++i) {
          mx[i] = first_in_page || k[i] > mx[i] ? k[i] : mx[i];
          mn[i] = first_in_page || k[i] < mn[i] ? k[i] : mn[i];
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
        score_pages(h, current, &page_max16_[page_at(h, 0)], &page_min16_[page_at(h, 0)]);
      } else {
        score_pages(h, current, &page_max_[page_at(h, 0)], &page_min_[page_at(h, 0)]);
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

  std::size_t page_at(int kv_head, std::int32_t page) const noexcept {
    return static_cast<std::size_t>(kv_head) * bounds_per_head_ +
           static_cast<std::size_t>(page) * static_cast<std::size_t>(shape().head_dim);
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

  // page_score_[p] for pages [0, n_pages) of KV head h, whose bounds start
  // at mx and mn (float or bf16).
  template <class T>
  void score_pages(int h, std::int32_t n_pages, const T* mx, const T* mn) noexcept {
    const int d = shape().head_dim;
    const std::size_t dd = static_cast<std::size_t>(d);
    float* out = page_score_.data();
    const int g = shape().group_size();
    if (gqa() != reduction::max) {
      const float* qp = &q_pos_[static_cast<std::size_t>(h) * dd];
      const float* qn = &q_neg_[static_cast<std::size_t>(h) * dd];
      const float inv = gqa() == reduction::mean ? 1.0f / static_cast<float>(g) : 1.0f;
      for (std::int32_t p = 0; p < n_pages; ++p, mx += d, mn += d) out[p] = bound(qp, qn, mx, mn, d) * inv;
      return;
    }
    const float* qp = &q_pos_[static_cast<std::size_t>(h * g) * dd];
    const float* qn = &q_neg_[static_cast<std::size_t>(h * g) * dd];
    for (std::int32_t p = 0; p < n_pages; ++p, mx += d, mn += d) {
      float best = 0.0f;
      for (int g0 = 0; g0 < g; g0 += 4) {
        const int rows = g - g0 < 4 ? g - g0 : 4;
        float b[4];
        bound_rows(qp + static_cast<std::size_t>(g0) * dd, qn + static_cast<std::size_t>(g0) * dd, dd, rows, mx, mn, d, b);
        for (int r = 0; r < rows; ++r) best = (g0 == 0 && r == 0) || b[r] > best ? b[r] : best;
      }
      out[p] = best;
    }
  }

  static float widen(float x) noexcept { return x; }
  static float widen(std::uint16_t x) noexcept { return detail::from_bf16(x); }

  // sum_d (qp_d mx_d + qn_d mn_d) in eight lanes.
  template <class T>
  static float bound(const float* qp, const float* qn, const T* mx, const T* mn, int d) noexcept {
    detail::lanes8 acc;
    int i = 0;
    for (; i + 8 <= d; i += 8) acc.add_products(qp + i, mx + i, qn + i, mn + i);
    float s = acc.sum();
    for (; i < d; ++i) s += qp[i] * widen(mx[i]) + qn[i] * widen(mn[i]);
    return s;
  }

  // bound() for up to four query heads at once (rows of q+ and q- spaced by
  // stride), loading the page's M and m once; bit-identical to bound().
  template <class T>
  static void bound_rows(const float* qp, const float* qn, std::size_t stride, int rows, const T* mx, const T* mn,
                         int d, float* out) noexcept {
    if (rows < 4) {
      for (int r = 0; r < rows; ++r)
        out[r] = bound(qp + static_cast<std::size_t>(r) * stride, qn + static_cast<std::size_t>(r) * stride, mx, mn, d);
      return;
    }
    const float* p[4] = {qp, qp + stride, qp + 2 * stride, qp + 3 * stride};
    const float* n[4] = {qn, qn + stride, qn + 2 * stride, qn + 3 * stride};
    detail::lanes8 a0, a1, a2, a3;
    int i = 0;
    for (; i + 8 <= d; i += 8) {
      a0.add_products(p[0] + i, mx + i, n[0] + i, mn + i);
      a1.add_products(p[1] + i, mx + i, n[1] + i, mn + i);
      a2.add_products(p[2] + i, mx + i, n[2] + i, mn + i);
      a3.add_products(p[3] + i, mx + i, n[3] + i, mn + i);
    }
    out[0] = a0.sum();
    out[1] = a1.sum();
    out[2] = a2.sum();
    out[3] = a3.sum();
    for (int r = 0; r < 4; ++r)
      for (int t = i; t < d; ++t) out[r] += p[r][t] * widen(mx[t]) + n[r][t] * widen(mn[t]);
  }

  std::size_t extra_bytes() const noexcept override {
    return (page_max_.size() + page_min_.size() + q_pos_.size() + q_neg_.size() + page_score_.size()) * sizeof(float) +
           (page_max16_.size() + page_min16_.size()) * sizeof(std::uint16_t) +
           (page_order_.size() + chosen_.size()) * sizeof(std::int32_t);
  }

  int page_size_;
  std::int32_t budget_pages_;
  std::int32_t max_pages_;
  std::size_t bounds_per_head_;
  bool bf16_;
  std::vector<float> page_max_;  // [n_kv_heads][max_pages][head_dim], fp32 bounds
  std::vector<float> page_min_;
  std::vector<std::uint16_t> page_max16_;  // the same, bf16 bounds
  std::vector<std::uint16_t> page_min16_;
  std::vector<float> q_pos_;  // [n_heads][head_dim]
  std::vector<float> q_neg_;
  std::vector<float> page_score_;
  std::vector<std::int32_t> page_order_;
  std::vector<std::int32_t> chosen_;  // [n_kv_heads][max_selected]
  mutable std::vector<float> probe_;  // upper_bound()'s q+ and q-
};

}  // namespace lil::kv
