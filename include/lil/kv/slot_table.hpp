// lil/kv/slot_table.hpp - which token sits in which cache slot (internal).
//
// What it keeps
//   For one KV head (or for all of them, when a policy evicts the same tokens
//   in every head), the map slot -> (original position, arrival number) and
//   the list of live slots. The caller's K/V storage is
//   indexed by the same slot numbers, so a slot number is all the caller
//   needs to write a new token or to drop an old one.
//
// Why this shape
//   Policies evict one token per appended token once full, and the newcomer
//   takes the victim's slot in place: the live list does not change and stays
//   the dense prefix 0..n-1 that Full, Sink, H2O and TOVA hand to attention
//   without a copy. Only SnapKV drops many tokens at once (at the end of
//   prefill); it compacts the survivors to the prefix 0..k-1, so reads stay
//   dense and new tokens append after them.
//
// Costs
//   24 bytes per slot, in the policy's state pool (state_pool.hpp: the arrays
//   "slot.*" of planner.hpp); every operation is O(1) except compact(),
//   O(slots used), once per prefill, and clear(), O(capacity).
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>

#include "lil/kv/state_pool.hpp"

namespace lil::kv::detail {

class slot_table {
 public:
  // Slices of capacity entries each (position, arrival and live_index start
  // at -1); counts: {n_live, next never-used slot}.
  slot_table(seq_array<std::int64_t> position, seq_array<std::int64_t> arrival, seq_array<std::int32_t> live,
             seq_array<std::int32_t> live_index, std::int32_t* counts) noexcept
      : position_(position),
        arrival_(arrival),
        live_(live),
        live_index_(live_index),
        capacity_(static_cast<std::int32_t>(position.size())),
        n_live_(counts[0]),
        next_unused_(counts[1]) {}

  // A table with storage of its own (tests, tools).
  explicit slot_table(std::int32_t capacity) : slot_table(std::make_shared<state_pool>(1), capacity) {}

  std::int32_t capacity() const noexcept { return capacity_; }
  std::int32_t size() const noexcept { return n_live_; }
  bool full() const noexcept { return n_live_ == capacity_; }
  const std::int32_t* live() const noexcept { return live_.data(); }

  // -1 for a free slot.
  std::int64_t position(std::int32_t slot) const noexcept { return position_[idx(slot)]; }
  // The token's rank in arrival order (0 for the first token appended).
  std::int64_t arrival(std::int32_t slot) const noexcept { return arrival_[idx(slot)]; }
  bool is_live(std::int32_t slot) const noexcept { return live_index_[idx(slot)] >= 0; }

  // Precondition: !full().
  std::int32_t insert(std::int64_t position, std::int64_t arrival) noexcept {
    const std::int32_t slot = next_unused_++;
    live_index_[idx(slot)] = n_live_;
    live_[idx(n_live_++)] = slot;
    position_[idx(slot)] = position;
    arrival_[idx(slot)] = arrival;
    return slot;
  }

  // The slot stays live and now holds another token; returns the old position.
  std::int64_t replace(std::int32_t slot, std::int64_t position, std::int64_t arrival) noexcept {
    const std::int64_t old = position_[idx(slot)];
    position_[idx(slot)] = position;
    arrival_[idx(slot)] = arrival;
    return old;
  }

  // Keeps only the slots kept[0..k) (ascending) and renumbers them 0..k-1:
  // the token in slot kept[i] now lives in slot i, and new tokens fill k, k+1,
  // ... . Returns k. The caller's K/V must move the same way (in order, each
  // move goes to a lower or equal slot, so none overwrites a row still needed).
  std::int32_t compact(const std::int32_t* kept, std::int32_t k) noexcept {
    for (std::int32_t i = 0; i < k; ++i) {
      position_[idx(i)] = position_[idx(kept[i])];
      arrival_[idx(i)] = arrival_[idx(kept[i])];
    }
    for (std::int32_t s = k; s < next_unused_; ++s) {
      position_[idx(s)] = -1;
      arrival_[idx(s)] = -1;
      live_index_[idx(s)] = -1;
    }
    for (std::int32_t i = 0; i < k; ++i) {
      live_[idx(i)] = i;
      live_index_[idx(i)] = i;
    }
    n_live_ = k;
    next_unused_ = k;
    return k;
  }

  void clear() noexcept {
    std::fill(position_.begin(), position_.end(), -1);
    std::fill(arrival_.begin(), arrival_.end(), -1);
    std::fill(live_index_.begin(), live_index_.end(), -1);
    n_live_ = 0;
    next_unused_ = 0;
  }

  std::size_t bytes() const noexcept {
    return position_.size() * sizeof(std::int64_t) * 2 + live_.size() * sizeof(std::int32_t) * 2;
  }

 private:
  slot_table(std::shared_ptr<state_pool> pool, std::int32_t c)
      : slot_table(pool->take<std::int64_t>("slot.position", static_cast<std::size_t>(c), 0, -1),
                   pool->take<std::int64_t>("slot.arrival", static_cast<std::size_t>(c), 0, -1),
                   pool->take<std::int32_t>("slot.live", static_cast<std::size_t>(c), 0, 0),
                   pool->take<std::int32_t>("slot.live_index", static_cast<std::size_t>(c), 0, -1),
                   pool->take<std::int32_t>("slot.count", 2, 0, 0).data()) {
    own_ = std::move(pool);
  }
  static std::size_t idx(std::int32_t i) noexcept { return static_cast<std::size_t>(i); }

  seq_array<std::int64_t> position_;
  seq_array<std::int64_t> arrival_;
  seq_array<std::int32_t> live_;
  seq_array<std::int32_t> live_index_;
  std::int32_t capacity_ = 0;
  std::int32_t& n_live_;
  std::int32_t& next_unused_;
  std::shared_ptr<state_pool> own_;
};

}  // namespace lil::kv::detail
