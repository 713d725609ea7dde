// lil/kv/h2o.hpp - H2O: heavy hitters plus a recent window.
//
// What it computes
//   Zhang et al. 2023, "H2O: Heavy-Hitter Oracle for Efficient Generative
//   Inference of Large Language Models": a few tokens collect most of the
//   attention mass over time; keeping those "heavy hitters" (by accumulated
//   attention) beside the most recent tokens preserves quality at a fraction
//   of the cache.
//
// The algorithm (the paper's greedy eviction, one token at a time)
//   Each slot carries the sum of the attention weights it received in every
//   step since it arrived (per KV head, its query heads folded by `gqa`).
//   Once the cache holds `budget` tokens, appending a token evicts, in each KV
//   head, the token with the lowest accumulated score among those outside the
//   recent window (the last `recent` tokens, the new one included); ties go to
//   the oldest. Scores are updated by observe() after every attention step.
//   Because eviction is greedy, a dropped token never comes back.
//
// Paper defaults
//   Heavy and recent budgets equal (heavy_fraction 0.5); the headline setting
//   is a 20% cache (10% heavy + 10% recent): token_budget::ratio_of_context
//   (0.2) with max_context set to the sequence length. The paper's released
//   "real drop" script fills the prompt densely and then compresses; here the
//   same greedy rule runs from the first token, as in the paper's Algorithm 1,
//   so memory never exceeds the budget.
//
// Costs
//   observe: one pass over the weights (n_heads x budget). append, once full:
//   two vectorized passes over budget scores per KV head (a +inf "shield"
//   keeps the recent window out of the minimum). Memory: budget slots per KV
//   head plus three floats per slot.
#pragma once

#include <algorithm>
#include <limits>
#include <vector>

#include "lil/kv/math.hpp"
#include "lil/kv/policy.hpp"

namespace lil::kv {

struct h2o_options {
  token_budget budget = 1024;   // heavy hitters + recent window, the current token included
  double heavy_fraction = 0.5;  // share of the budget for heavy hitters; the rest is the recent window
  int recent = 0;               // > 0: the recent window in tokens, overriding heavy_fraction
  reduction gqa = reduction::mean;
};

class h2o_policy final : public policy {
 public:
  h2o_policy(const model_shape& shape, int layer, const h2o_options& opts, detail::state_binding bind = {})
      : policy("h2o", (check_shape(shape, layer, "h2o"), shape), layer, opts.gqa, resolve(shape, opts).budget,
               resolve(shape, opts).budget, resolve(shape, opts).budget, /*shared_slots=*/false, bind),
        recent_(resolve(shape, opts).recent),
        score_(take<float>("h2o.score", static_cast<std::size_t>(shape.n_kv_heads) * static_cast<std::size_t>(budget()),
                           0.0f)),
        shield_(take<float>("h2o.shield", score_.size(), 0.0f)),
        recent_ring_(take<std::int32_t>(
            "h2o.recent_ring", static_cast<std::size_t>(shape.n_kv_heads) * static_cast<std::size_t>(recent_), 0)) {}

  std::int32_t recent() const noexcept { return recent_; }
  std::int32_t heavy() const noexcept { return budget() - recent_; }
  // Accumulated attention of the token in `slot` of KV head `kv_head`.
  float score(int kv_head, std::int32_t slot) const noexcept { return score_[at(kv_head, slot)]; }

  needs requirements() const noexcept override { return {true, 0}; }
  std::int32_t room() const noexcept override { return budget() - table(0).size(); }
  bool can_append() const noexcept override { return true; }

  const append_result& append(std::int64_t position, const float* /*keys*/) override {
    check_position(position);
    const std::int64_t arrival = next_arrival();
    // The window holds arrivals (arrival - recent, arrival]; ring entry
    // arrival % recent held the token that leaves it now.
    const std::size_t ring_at = static_cast<std::size_t>(arrival % recent_);
    for (int h = 0; h < shape().n_kv_heads; ++h) {
      auto& t = table(h);
      std::int32_t* ring = &recent_ring_[static_cast<std::size_t>(h) * static_cast<std::size_t>(recent_)];
      if (arrival >= recent_) shield_[at(h, ring[ring_at])] = 0.0f;
      std::int32_t slot;
      std::int64_t evicted = -1;
      if (!t.full()) {
        slot = t.insert(position, arrival);
      } else {
        slot = weakest(h);
        evicted = t.replace(slot, position, arrival);
      }
      score_[at(h, slot)] = 0.0f;
      shield_[at(h, slot)] = std::numeric_limits<float>::infinity();
      ring[ring_at] = slot;
      set_append(h, slot, evicted);
    }
    return append_done();
  }

  void observe(const weights_view& w) override {
    validate_weights(w);
    const slot_lists sel = last_selection();
    const int g = shape().group_size();
    for (int h = 0; h < shape().n_kv_heads; ++h) {
      const slot_span s = sel.head(h);
      const float* r = reduce_rows(w, h * g, g, s.size);
      float* sc = &score_[at(h, 0)];
      for (std::int32_t i = 0; i < s.size; ++i) sc[s[i]] += r[i];
    }
  }

  void reset() noexcept override {
    policy::reset();
    std::fill(score_.begin(), score_.end(), 0.0f);
    std::fill(shield_.begin(), shield_.end(), 0.0f);
  }

 private:
  struct resolved {
    std::int32_t budget;
    std::int32_t recent;
  };
  static resolved resolve(const model_shape& shape, const h2o_options& o) {
    const int b = o.budget.resolve(shape, "h2o");
    if (o.recent < 0)
      lil::detail::throw_error("kv h2o: recent " + detail::number(o.recent) + " must not be negative");
    int recent = o.recent;
    if (recent == 0) {
      if (!(o.heavy_fraction >= 0.0 && o.heavy_fraction < 1.0))
        lil::detail::throw_error("kv h2o: heavy_fraction " + detail::number(o.heavy_fraction) +
                                 " must be in [0, 1) (the recent window holds at least the current token)");
      recent = b - static_cast<int>(o.heavy_fraction * b);
    }
    if (b < recent)
      lil::detail::throw_error("kv h2o: budget " + detail::number(b) + " tokens is below the protected recent window (" +
                               detail::number(recent) + " tokens)");
    return {b, recent};
  }

  std::size_t at(int kv_head, std::int32_t slot) const noexcept {
    return static_cast<std::size_t>(kv_head) * static_cast<std::size_t>(budget()) + static_cast<std::size_t>(slot);
  }

  // The lowest score outside the recent window (shield_ is +inf inside it);
  // the oldest wins ties. A full cache always has one: budget >= recent.
  std::int32_t weakest(int h) noexcept {
    const std::int32_t n = budget();
    const float* sc = &score_[at(h, 0)];
    const float* shield = &shield_[at(h, 0)];
    float* key = ranked_.data();
    for (std::int32_t i = 0; i < n; ++i) key[i] = sc[i] + shield[i];
    const float low = detail::min_value(key, n);
    const auto& t = table(h);
    std::int32_t best = -1;
    for (std::int32_t i = 0; i < n; ++i)
      if (key[i] == low && (best < 0 || t.arrival(i) < t.arrival(best))) best = i;
    return best;
  }

  std::size_t extra_bytes() const noexcept override {
    return (score_.size() + shield_.size() + ranked_.size()) * sizeof(float) +
           recent_ring_.size() * sizeof(std::int32_t);
  }

  std::int32_t recent_;
  detail::seq_array<float> score_;               // [n_kv_heads][budget]: accumulated attention
  detail::seq_array<float> shield_;              // [n_kv_heads][budget]: +inf inside the recent window, else 0
  detail::seq_array<std::int32_t> recent_ring_;  // [n_kv_heads][recent]: slot of arrival a at a % recent
  std::vector<float> ranked_ = std::vector<float>(static_cast<std::size_t>(budget()), 0.0f);
};

}  // namespace lil::kv
