// lil/kv/sink.hpp - StreamingLLM: attention sinks plus a recent window.
//
// What it computes
//   Xiao et al. 2023, "Efficient Streaming Language Models with Attention
//   Sinks": the first few tokens soak up attention mass whatever they say
//   ("sinks"); keeping them beside a sliding window of recent tokens keeps a
//   model stable far beyond its window, where a plain sliding window collapses.
//
// The algorithm
//   The first `sinks` tokens appended are kept for ever. The other
//   budget - sinks slots form a ring in arrival order; once the cache is full,
//   the new token overwrites the oldest non-sink token. Every step reads all
//   live tokens. No scores, so no weights are needed.
//
// Paper defaults
//   4 sinks (the paper finds 4 enough and 1-2 not); cache sizes 256..4096 in
//   the evaluation (for example 4 + 1020). The paper assigns RoPE positions by
//   rank inside the cache: see "Positions and RoPE" in policy.hpp.
//
// Costs
//   O(1) per append, nothing per select. Memory: `budget` slots per KV head,
//   one slot map shared by all heads.
#pragma once

#include <vector>

#include "lil/kv/policy.hpp"

namespace lil::kv {

struct sink_options {
  token_budget budget = 1024;  // sinks + recent window, the current token included
  int sinks = 4;
};

class sink_policy final : public policy {
 public:
  sink_policy(const model_shape& shape, int layer, const sink_options& opts, detail::state_binding bind = {})
      : policy("sink", (check_shape(shape, layer, "sink"), shape), layer, reduction::mean, resolve(shape, opts),
               resolve(shape, opts), resolve(shape, opts), /*shared_slots=*/true, bind),
        sinks_(opts.sinks),
        ring_(take<std::int32_t>("sink.ring", static_cast<std::size_t>(budget() - opts.sinks), 0)),
        cursor_(take<std::int32_t>("sink.cursor", 2, 0)),
        ring_fill_(cursor_[0]),
        oldest_(cursor_[1]) {}

  int sinks() const noexcept { return sinks_; }
  std::int32_t window() const noexcept { return budget() - sinks_; }

  std::int32_t room() const noexcept override { return budget() - table(0).size(); }
  bool can_append() const noexcept override { return true; }

  const append_result& append(std::int64_t position, const float* /*keys*/) override {
    check_position(position);
    auto& t = table(0);
    const std::int64_t arrival = next_arrival();
    std::int32_t slot;
    std::int64_t evicted = -1;
    if (!t.full()) {
      slot = t.insert(position, arrival);
      if (arrival >= sinks_) ring_[static_cast<std::size_t>(ring_fill_++)] = slot;
    } else {
      slot = ring_[static_cast<std::size_t>(oldest_)];
      evicted = t.replace(slot, position, arrival);
      oldest_ = oldest_ + 1 == window() ? 0 : oldest_ + 1;
    }
    for (int h = 0; h < shape().n_kv_heads; ++h) set_append(h, slot, evicted);
    return append_done();
  }

  void reset() noexcept override {
    policy::reset();
    ring_fill_ = 0;
    oldest_ = 0;
  }

 private:
  static std::int32_t resolve(const model_shape& shape, const sink_options& o) {
    const int b = o.budget.resolve(shape, "sink");
    if (o.sinks < 0) lil::detail::throw_error("kv sink: sinks " + detail::number(o.sinks) + " must not be negative");
    if (b < o.sinks + 1)
      lil::detail::throw_error("kv sink: budget " + detail::number(b) + " tokens is below the protected sets (" +
                               detail::number(o.sinks) + " sinks + 1 recent token, the current one)");
    return b;
  }
  std::size_t extra_bytes() const noexcept override { return ring_.size() * sizeof(std::int32_t); }

  int sinks_;
  detail::seq_array<std::int32_t> ring_;  // non-sink slots in arrival order, starting at oldest_
  detail::seq_array<std::int32_t> cursor_;
  std::int32_t& ring_fill_;
  std::int32_t& oldest_;
};

}  // namespace lil::kv
