// lil/kv/slot_table.hpp - which token sits in which cache slot (internal).
//
// What it keeps
//   For one KV head (or for all of them, when a policy evicts the same tokens
//   in every head), the map slot -> (original position, arrival number), the
//   list of live slots, and a stack of free ones. The caller's K/V storage is
//   indexed by the same slot numbers, so a slot number is all the caller
//   needs to write a new token or to drop an old one.
//
// Why this shape
//   Policies evict one token per appended token once full, and the newcomer
//   takes the victim's slot in place: the live list does not change and stays
//   the dense prefix 0..n-1 that Full, Sink, H2O and TOVA hand to attention
//   without a copy. Only SnapKV frees many slots at once (at the end of
//   prefill); those go to the free stack and are reused first.
//
// Costs
//   28 bytes per slot, all allocated at construction; every operation is O(1)
//   except sort_live(), which SnapKV calls once per prefill.
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
        free_(static_cast<std::size_t>(capacity), 0),
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
    const std::int32_t slot = n_free_ > 0 ? free_[idx(--n_free_)] : next_unused_++;
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

  void remove(std::int32_t slot) noexcept {
    const std::int32_t at = live_index_[idx(slot)];
    const std::int32_t last = live_[idx(--n_live_)];
    live_[idx(at)] = last;
    live_index_[idx(last)] = at;
    live_index_[idx(slot)] = -1;
    position_[idx(slot)] = -1;
    arrival_[idx(slot)] = -1;
    free_[idx(n_free_++)] = slot;
  }

  // Ascending slot order keeps the caller's reads sequential after removals.
  void sort_live() noexcept {
    std::sort(live_.begin(), live_.begin() + n_live_);
    for (std::int32_t i = 0; i < n_live_; ++i) live_index_[idx(live_[idx(i)])] = i;
    // Reuse low slots first, so that the live set drifts back towards a prefix.
    std::sort(free_.begin(), free_.begin() + n_free_, [](std::int32_t a, std::int32_t b) { return a > b; });
  }

  void clear() noexcept {
    std::fill(position_.begin(), position_.end(), -1);
    std::fill(arrival_.begin(), arrival_.end(), -1);
    std::fill(live_index_.begin(), live_index_.end(), -1);
    n_live_ = 0;
    n_free_ = 0;
    next_unused_ = 0;
  }

  std::size_t bytes() const noexcept {
    return position_.size() * sizeof(std::int64_t) * 2 + live_.size() * sizeof(std::int32_t) * 3;
  }

 private:
  static std::size_t idx(std::int32_t i) noexcept { return static_cast<std::size_t>(i); }

  std::vector<std::int64_t> position_;
  std::vector<std::int64_t> arrival_;
  std::vector<std::int32_t> live_;
  std::vector<std::int32_t> live_index_;
  std::vector<std::int32_t> free_;
  std::int32_t capacity_ = 0;
  std::int32_t n_live_ = 0;
  std::int32_t n_free_ = 0;
  std::int32_t next_unused_ = 0;
};

}  // namespace lil::kv::detail
