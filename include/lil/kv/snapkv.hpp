// lil/kv/snapkv.hpp - SnapKV: compress the prompt once, by what its end attends to.
//
// What it computes
//   Li et al. 2024, "SnapKV: LLM Knows What You are Looking for Before
//   Generation": each head's attention during generation concentrates on
//   prompt positions that the last few prompt tokens (the "observation
//   window") already attend to. So, once, at the end of the prompt, keep per
//   head the prompt tokens the window votes for, plus the window itself.
//
// The algorithm
//   During the prompt every token is kept and read; observe() records, per KV
//   head, the last `window` steps' weight rows (query heads folded by `gqa`).
//   prefill_done(): for each prompt token before the window, its score is the
//   sum of those rows; the scores are smoothed by 1-D pooling of size `kernel`
//   (stride 1, padding kernel/2: averaging counts the padding as zeros, max
//   ignores it), so that neighbours of a strong token come along; per KV head
//   the top budget - window tokens (ties: the earlier) and the window are kept
//   and the rest is dropped. The survivors are compacted to slots
//   0..budget-1 (prefill_done() lists the K/V moves; the paper's code gathers
//   them into a new tensor the same way), so that the reads stay dense.
//   Generated tokens are then appended after them and never
//   evicted, as in the paper: the cache holds budget + tokens generated so
//   far. evict_generated = true (not the paper) holds the cache at `budget`
//   after the prompt instead, dropping the oldest token outside the selected
//   prompt tokens: the window slides.
//
// Paper defaults
//   Observation window 32 tokens; prompt capacity ("max_capacity_prompt")
//   1024 / 2048 / 4096 in the evaluation, 2048 in the released code; pooling
//   kernel 5 with average pooling in the released code, while the paper's
//   listing uses 1-D max pooling (pooling::max). Per head selection; the GQA
//   fold is ours and explicit.
//
// Costs
//   Prompt: one row copy per observe (O(context) per step, like the attention
//   itself). prefill_done: O(window x prompt) per KV head plus a selection.
//   Generation: nothing beyond the slot map (evict_generated: one scan of the
//   budget). Memory: max_context slots per KV head (the prompt is held whole
//   until prefill_done), plus window x max_context floats per KV head for the
//   recorded rows.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "lil/kv/policy.hpp"

namespace lil::kv {

enum class pooling : std::uint8_t { avg, max };

struct snapkv_options {
  token_budget budget = 2048;  // prompt tokens kept at prefill_done, the window included
  int window = 32;
  int kernel = 5;  // odd
  kv::pooling pool = kv::pooling::avg;
  reduction gqa = reduction::mean;
  bool evict_generated = false;
};

class snapkv_policy final : public policy {
 public:
  snapkv_policy(const model_shape& shape, int layer, const snapkv_options& opts, detail::state_binding bind = {})
      : policy("snapkv", (check_shape(shape, layer, "snapkv"), shape), layer, opts.gqa, resolve(shape, opts),
               shape.max_context, shape.max_context, /*shared_slots=*/false, bind),
        window_(opts.window),
        kernel_(opts.kernel),
        pool_(opts.pool),
        evict_generated_(opts.evict_generated),
        cap_(static_cast<std::size_t>(shape.max_context)),
        rows_(take<float>("snapkv.rows",
                          static_cast<std::size_t>(shape.n_kv_heads) * static_cast<std::size_t>(opts.window) * cap_, 0.0f)),
        row_len_(take<std::int32_t>("snapkv.row_len", static_cast<std::size_t>(opts.window), 0)),
        pinned_(take<std::uint8_t>("snapkv.pinned", static_cast<std::size_t>(shape.n_kv_heads) * cap_, 0)),
        cursor_(take<std::int32_t>("snapkv.cursor", 3, 0)),
        prefilled_(cursor_[0]),
        next_row_(cursor_[1]),
        rows_seen_(cursor_[2]),
        score_(cap_, 0.0f),
        pooled_(cap_, 0.0f),
        order_(cap_, 0),
        freed_(static_cast<std::size_t>(shape.n_kv_heads) * cap_, 0),
        from_(freed_.size(), 0),
        to_(freed_.size(), 0),
        freed_heads_(static_cast<std::size_t>(shape.n_kv_heads), nullptr),
        from_heads_(freed_heads_.size(), nullptr),
        to_heads_(freed_heads_.size(), nullptr),
        freed_counts_(freed_heads_.size(), 0),
        move_counts_(freed_heads_.size(), 0) {
    for (int h = 0; h < shape.n_kv_heads; ++h) {
      freed_heads_[static_cast<std::size_t>(h)] = &freed_[h * cap_];
      from_heads_[static_cast<std::size_t>(h)] = &from_[h * cap_];
      to_heads_[static_cast<std::size_t>(h)] = &to_[h * cap_];
    }
  }

  int window() const noexcept { return window_; }
  bool prefilled() const noexcept { return prefilled_ != 0; }
  std::int32_t room() const noexcept override {
    return (prefilled_ && evict_generated_ ? budget() : capacity()) - table(0).size();
  }
  bool can_append() const noexcept override {
    return (prefilled_ && evict_generated_ && table(0).size() >= budget()) || !table(0).full();
  }
  // After prefill_done: was the token in `slot` chosen from the prompt by score?
  bool chosen(int kv_head, std::int32_t slot) const noexcept { return pinned_[kv_head * cap_ + idx(slot)] != 0; }

  needs requirements() const noexcept override { return {!prefilled_, window_}; }

  const append_result& append(std::int64_t position, const float* /*keys*/) override {
    check_position(position);
    // Every KV head holds as many tokens, so head 0 answers for all.
    const bool evict = prefilled_ && evict_generated_ && table(0).size() >= budget();
    if (!evict && table(0).full()) fail_full(position);
    const std::int64_t arrival = next_arrival();
    for (int h = 0; h < shape().n_kv_heads; ++h) {
      auto& t = table(h);
      if (evict) {
        const std::int32_t victim = oldest_unchosen(h);
        const std::int64_t evicted = t.replace(victim, position, arrival);
        set_append(h, victim, evicted);
        continue;
      }
      const std::int32_t slot = t.insert(position, arrival);
      pinned_[h * cap_ + idx(slot)] = 0;
      set_append(h, slot, -1);
    }
    return append_done();
  }

  void observe(const weights_view& w) override {
    if (prefilled_) return;
    validate_weights(w);
    const slot_lists sel = last_selection();
    const int g = shape().group_size();
    std::int32_t longest = 0;
    for (int h = 0; h < shape().n_kv_heads; ++h) {
      const slot_span s = sel.head(h);
      const float* r = reduce_rows(w, h * g, g, s.size);
      float* row = row_at(h, next_row_);
      for (std::int32_t i = 0; i < s.size; ++i) row[s[i]] = r[i];
      longest = s.size > longest ? s.size : longest;
    }
    // Before prefill_done nothing is freed, so the live slots are 0..n-1.
    row_len_[idx(next_row_)] = longest;
    next_row_ = next_row_ + 1 == window_ ? 0 : next_row_ + 1;
    rows_seen_ = rows_seen_ < window_ ? rows_seen_ + 1 : window_;
  }

  prefill_result prefill_done() override {
    for (auto& c : freed_counts_) c = 0;
    for (auto& c : move_counts_) c = 0;
    prefill_result r;
    r.freed = {freed_heads_.data(), freed_counts_.data(), shape().n_kv_heads};
    r.move_from = {from_heads_.data(), move_counts_.data(), shape().n_kv_heads};
    r.move_to = {to_heads_.data(), move_counts_.data(), shape().n_kv_heads};
    if (prefilled_) return r;
    prefilled_ = 1;
    for (int h = 0; h < shape().n_kv_heads; ++h) compress(h);
    return r;
  }

  void reset() noexcept override {
    policy::reset();
    prefilled_ = 0;
    next_row_ = 0;
    rows_seen_ = 0;
    std::fill(row_len_.begin(), row_len_.end(), 0);
    std::fill(pinned_.begin(), pinned_.end(), 0);
  }

 private:
  static std::int32_t resolve(const model_shape& shape, const snapkv_options& o) {
    const int b = o.budget.resolve(shape, "snapkv");
    if (o.window < 1) lil::detail::throw_error("kv snapkv: window " + detail::number(o.window) + " must be at least 1");
    if (o.kernel < 1 || o.kernel % 2 == 0)
      lil::detail::throw_error("kv snapkv: kernel " + detail::number(o.kernel) + " must be odd and at least 1");
    if (b < o.window + 1)
      lil::detail::throw_error("kv snapkv: budget " + detail::number(b) +
                               " tokens is below the protected observation window (window " +
                               detail::number(o.window) + " + at least 1 selected token); lower the window "
                               "for small budgets, e.g. \"snapkv:16,window=8\"");
    return b;
  }

  static std::size_t idx(std::int32_t i) noexcept { return static_cast<std::size_t>(i); }
  float* row_at(int h, int r) noexcept { return &rows_[(static_cast<std::size_t>(h) * idx(window_) + idx(r)) * cap_]; }

  void compress(int h) {
    auto& t = table(h);
    const std::int32_t n = t.size();
    const std::int32_t win = std::min<std::int32_t>(window_, n);
    const std::int32_t prefix = n - win;  // slots 0..prefix-1 compete
    std::uint8_t* pinned = &pinned_[h * cap_];
    if (n <= budget()) {
      for (std::int32_t s = 0; s < prefix; ++s) pinned[s] = 1;
      return;
    }
    // Sum the rows oldest first, so that the order of the float sum is fixed.
    std::fill(score_.begin(), score_.begin() + prefix, 0.0f);
    for (int k = 0; k < rows_seen_; ++k) {
      const int r = (next_row_ - rows_seen_ + k + window_) % window_;
      const float* row = row_at(h, r);
      const std::int32_t len = std::min(row_len_[idx(r)], prefix);
      for (std::int32_t s = 0; s < len; ++s) score_[idx(s)] += row[s];
    }
    pool(prefix);
    const std::int32_t keep = budget() - win;
    std::int32_t* order = order_.data();
    for (std::int32_t s = 0; s < prefix; ++s) order[s] = s;
    const float* p = pooled_.data();
    auto higher = [p](std::int32_t a, std::int32_t b) { return p[a] > p[b] || (p[a] == p[b] && a < b); };
    std::nth_element(order, order + keep, order + prefix, higher);
    for (std::int32_t k = 0; k < keep; ++k) pinned[order[k]] = 1;
    // Survivors, ascending: the chosen prompt tokens, then the window. They
    // move down to slots 0..budget-1 so that reads stay dense.
    std::int32_t* kept = order;  // reused: order[] is no longer needed
    std::int32_t k = 0;
    for (std::int32_t s = 0; s < n; ++s)
      if (s >= prefix || pinned[s]) kept[k++] = s;
    std::int32_t* from = &from_[h * cap_];
    std::int32_t* to = &to_[h * cap_];
    std::int32_t moves = 0;
    for (std::int32_t i = 0; i < k; ++i) {
      pinned[i] = pinned[kept[i]];
      if (kept[i] == i) continue;
      from[moves] = kept[i];
      to[moves] = i;
      ++moves;
    }
    for (std::int32_t s = k; s < n; ++s) pinned[s] = 0;
    t.compact(kept, k);
    std::int32_t* freed = &freed_[h * cap_];
    for (std::int32_t s = k; s < n; ++s) freed[s - k] = s;
    freed_counts_[idx(h)] = n - k;
    move_counts_[idx(h)] = moves;
  }

  void pool(std::int32_t n) noexcept {
    const std::int32_t half = kernel_ / 2;
    for (std::int32_t s = 0; s < n; ++s) {
      const std::int32_t lo = s - half < 0 ? 0 : s - half;
      const std::int32_t hi = s + half >= n ? n - 1 : s + half;
      if (pool_ == kv::pooling::max) {
        float m = score_[idx(lo)];
        for (std::int32_t j = lo + 1; j <= hi; ++j) m = score_[idx(j)] > m ? score_[idx(j)] : m;
        pooled_[idx(s)] = m;
      } else {
        float sum = 0.0f;
        for (std::int32_t j = lo; j <= hi; ++j) sum += score_[idx(j)];
        pooled_[idx(s)] = sum / static_cast<float>(kernel_);
      }
    }
  }

  std::int32_t oldest_unchosen(int h) const noexcept {
    const auto& t = table(h);
    const std::uint8_t* pinned = &pinned_[h * cap_];
    std::int32_t best = -1;
    for (std::int32_t i = 0; i < t.size(); ++i) {
      const std::int32_t s = t.live()[i];
      if (pinned[s]) continue;
      if (best < 0 || t.arrival(s) < t.arrival(best)) best = s;
    }
    return best;
  }

  std::size_t extra_bytes() const noexcept override {
    return (rows_.size() + score_.size() + pooled_.size()) * sizeof(float) + pinned_.size() +
           (order_.size() + freed_.size() + from_.size() + to_.size() + row_len_.size()) * sizeof(std::int32_t);
  }

  int window_;
  int kernel_;
  kv::pooling pool_;
  bool evict_generated_;
  std::size_t cap_;
  detail::seq_array<float> rows_;  // [n_kv_heads][window][max_context], a ring over the window
  detail::seq_array<std::int32_t> row_len_;
  detail::seq_array<std::uint8_t> pinned_;  // [n_kv_heads][max_context]: chosen at prefill_done
  detail::seq_array<std::int32_t> cursor_;   // prefilled, next row, rows seen
  std::int32_t& prefilled_;
  std::int32_t& next_row_;
  std::int32_t& rows_seen_;
  std::vector<float> score_;
  std::vector<float> pooled_;
  std::vector<std::int32_t> order_;
  std::vector<std::int32_t> freed_;  // [n_kv_heads][max_context], and the moves alike
  std::vector<std::int32_t> from_;
  std::vector<std::int32_t> to_;
  std::vector<const std::int32_t*> freed_heads_;
  std::vector<const std::int32_t*> from_heads_;
  std::vector<const std::int32_t*> to_heads_;
  std::vector<std::int32_t> freed_counts_;
  std::vector<std::int32_t> move_counts_;
};

}  // namespace lil::kv
