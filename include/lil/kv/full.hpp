// lil/kv/full.hpp - Full: the dense baseline.
//
// What it computes
//   Nothing is dropped and everything is read: the policy every sparse one is
//   compared against, and the one make_policy() uses for the layers a spec
//   keeps dense (Quest's first two layers).
//
// The algorithm
//   Token i goes to slot i of every KV head; select() hands attention the live
//   list, which is the dense prefix 0..n-1 itself, so the caller's reads are
//   sequential and the policy writes nothing per step.
//
// Costs
//   O(1) per hook. Memory: max_context slots per KV head, preallocated; an
//   append beyond max_context throws lil::error.
#pragma once

#include "lil/kv/policy.hpp"

namespace lil::kv {

struct full_options {};

class full_policy final : public policy {
 public:
  explicit full_policy(const model_shape& shape, int layer = 0, const full_options& = {},
                       detail::state_binding bind = {})
      : policy("full", (check_shape(shape, layer, "full"), shape), layer, reduction::mean, shape.max_context,
               shape.max_context, shape.max_context, /*shared_slots=*/true, bind) {}

  const append_result& append(std::int64_t position, const float* /*keys*/) override {
    check_position(position);
    if (table(0).full()) fail_full(position);
    const std::int32_t slot = table(0).insert(position, next_arrival());
    for (int h = 0; h < shape().n_kv_heads; ++h) set_append(h, slot, -1);
    return append_done();
  }

};

}  // namespace lil::kv
