// lil/kv/tova.hpp - TOVA: token omission via attention.
//
// What it computes
//   Oren et al. 2024, "Transformers are Multi-State RNNs": a decoder with a
//   bounded cache is a multi-state RNN, and a good state-compression rule is to
//   drop, whenever the state is full, the token the current query attends to
//   least. No recent window, no sinks: the rule alone keeps the first token
//   and the recent ones when they matter.
//
// The algorithm
//   After each attention step, every live token's score is the current step's
//   weight, averaged over the query heads (of the whole layer by default; the
//   paper found one shared ranking better than per-head ones). Once the cache
//   holds `budget` tokens, the next append drops the lowest-scored token, the
//   same one in every KV head; ties go to the oldest. This is the paper's
//   "attend, then drop the weakest", decided when the room is needed. A token
//   not yet observed ranks above every observed one.
//
// Paper defaults
//   Mean over all heads of the layer; one token dropped per step; multi-state
//   sizes 64..4096 in the evaluation. per_kv_head = true ranks each KV head by
//   its own query group instead (not the paper's choice).
//
// Costs
//   observe: one pass over the weights (n_heads x budget); append, once full:
//   one scan of budget scores. Memory: budget slots per KV head plus one float
//   per slot (per KV head when per_kv_head).
#pragma once

#include <algorithm>
#include <limits>
#include <vector>

#include "lil/kv/math.hpp"
#include "lil/kv/policy.hpp"

namespace lil::kv {

struct tova_options {
  token_budget budget = 1024;  // tokens kept, the current token included
  reduction gqa = reduction::mean;
  bool per_kv_head = false;
};

class tova_policy final : public policy {
 public:
  tova_policy(const model_shape& shape, int layer, const tova_options& opts, detail::state_binding bind = {})
      : policy("tova", (check_shape(shape, layer, "tova"), shape), layer, opts.gqa, opts.budget.resolve(shape, "tova"),
               opts.budget.resolve(shape, "tova"), opts.budget.resolve(shape, "tova"),
               /*shared_slots=*/!opts.per_kv_head, bind),
        tables_n_(opts.per_kv_head ? shape.n_kv_heads : 1),
        score_(take<float>("tova.score", static_cast<std::size_t>(tables_n_) * static_cast<std::size_t>(budget()),
                           unscored())) {}

  bool per_kv_head() const noexcept { return tables_n_ > 1; }
  // The score of the token in `slot` as ranked for `kv_head` (+inf: not yet observed).
  float score(int kv_head, std::int32_t slot) const noexcept { return score_[at(kv_head, slot)]; }

  needs requirements() const noexcept override { return {true, 0}; }
  std::int32_t room() const noexcept override { return budget() - table(0).size(); }
  bool can_append() const noexcept override { return true; }

  const append_result& append(std::int64_t position, const float* /*keys*/) override {
    check_position(position);
    const std::int64_t arrival = next_arrival();
    for (int t = 0; t < tables_n_; ++t) {
      auto& tab = table(t);
      std::int32_t slot;
      std::int64_t evicted = -1;
      if (!tab.full()) {
        slot = tab.insert(position, arrival);
      } else {
        slot = weakest(t);
        evicted = tab.replace(slot, position, arrival);
      }
      score_[at(t, slot)] = unscored();
      if (tables_n_ > 1) {
        set_append(t, slot, evicted);
      } else {
        for (int h = 0; h < shape().n_kv_heads; ++h) set_append(h, slot, evicted);
      }
    }
    return append_done();
  }

  void observe(const weights_view& w) override {
    validate_weights(w);
    const slot_lists sel = last_selection();
    if (tables_n_ == 1) {
      // Shared slots: index i names the same token in every KV head.
      const slot_span s = sel.head(0);
      const float* r = reduce_rows(w, 0, shape().n_heads, s.size);
      for (std::int32_t i = 0; i < s.size; ++i) score_[static_cast<std::size_t>(s[i])] = r[i];
      return;
    }
    const int g = shape().group_size();
    for (int h = 0; h < shape().n_kv_heads; ++h) {
      const slot_span s = sel.head(h);
      const float* r = reduce_rows(w, h * g, g, s.size);
      for (std::int32_t i = 0; i < s.size; ++i) score_[at(h, s[i])] = r[i];
    }
  }

  void reset() noexcept override {
    policy::reset();
    std::fill(score_.begin(), score_.end(), unscored());
  }

 private:
  static constexpr float unscored() noexcept { return std::numeric_limits<float>::infinity(); }
  std::size_t at(int t, std::int32_t slot) const noexcept {
    return static_cast<std::size_t>(tables_n_ > 1 ? t : 0) * static_cast<std::size_t>(budget()) +
           static_cast<std::size_t>(slot);
  }
  // The lowest score (a vectorized minimum, then a pass for the oldest of
  // equals); +inf (unobserved) ranks last.
  std::int32_t weakest(int t) const noexcept {
    const auto& tab = table(t);
    const float* sc = &score_[at(t, 0)];
    const std::int32_t n = tab.capacity();
    const float low = detail::min_value(sc, n);
    std::int32_t best = -1;
    for (std::int32_t slot = 0; slot < n; ++slot)
      if (sc[slot] == low && (best < 0 || tab.arrival(slot) < tab.arrival(best))) best = slot;
    return best;
  }
  std::size_t extra_bytes() const noexcept override { return score_.size() * sizeof(float); }

  int tables_n_;
  detail::seq_array<float> score_;  // [tables][budget]
};

}  // namespace lil::kv
