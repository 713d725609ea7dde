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
//   24 bytes per slot, all allocated at construction; every operation is O(1)
//   except compact(), O(slots used), once per prefill.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace lil::kv::detail {

class slot_table {
 public:
  explicit slot_table(std::int32_t capacity)
      : position_(static_cast<std::size_t>(capacity), -1),
        arrival_(static_cast<std::size_t>(capacity), -1),
        live_(static_cast<std::size_t>(capacity), 0),
        live_index_(static_cast<std::size_t>(capacity), -1),
        capacity_(capacity) {}

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
  static std::size_t idx(std::int32_t i) noexcept { return static_cast<std::size_t>(i); }

  std::vector<std::int64_t> position_;
  std::vector<std::int64_t> arrival_;
  std::vector<std::int32_t> live_;
  std::vector<std::int32_t> live_index_;
  std::int32_t capacity_ = 0;
  std::int32_t n_live_ = 0;
  std::int32_t next_unused_ = 0;
};

}  // namespace lil::kv::detail
