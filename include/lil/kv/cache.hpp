// lil/kv/cache.hpp - ready-made per-layer and per-sequence caches.
//
// What it gives
//   kv_store       contiguous K and V, [n_kv_heads][capacity][head_dim] each.
//   layer_cache    one layer of one sequence: a planner of one sequence, its
//                  kv_store and its step_workspace; step() runs one planner
//                  step with the reference attention or any attention callable.
//   sequence_cache one layer_cache per layer of a model, built from one
//                  policy_spec: "policy X with budget B for this model".
//
// A decoder calls, per token and per layer l, after its Q/K/V projections
// and RoPE:  cache.layer(l).step(position, q, k, v, out);
// and once after the last prompt token:  cache.prefill_done();
// reset() forgets the sequence and keeps every allocation for the next one.
//
// Costs
//   All memory is taken at construction: capacity() slots of K and V per KV
//   head (max_context for Full, Quest and SnapKV, the budget for the others)
//   plus the policy's state; memory() reports it.
#pragma once

#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "lil/kv/factory.hpp"
#include "lil/kv/planner.hpp"
#include "lil/kv/policy.hpp"
#include "lil/kv/reference_attention.hpp"
#include "lil/kv/wrap.hpp"

namespace lil::kv {

class kv_store {
 public:
  kv_store(int n_kv_heads, std::int32_t capacity, int head_dim)
      : head_dim_(head_dim),
        head_stride_(static_cast<std::size_t>(capacity) * static_cast<std::size_t>(head_dim)),
        keys_(static_cast<std::size_t>(n_kv_heads) * head_stride_, 0.0f),
        values_(keys_.size(), 0.0f) {}

  void write(int kv_head, std::int32_t slot, const float* key, const float* value) noexcept {
    const std::size_t at = offset(kv_head, slot);
    std::memcpy(&keys_[at], key, static_cast<std::size_t>(head_dim_) * sizeof(float));
    std::memcpy(&values_[at], value, static_cast<std::size_t>(head_dim_) * sizeof(float));
  }
  void move(int kv_head, std::int32_t from, std::int32_t to) noexcept {
    const std::size_t a = offset(kv_head, from), b = offset(kv_head, to);
    std::memmove(&keys_[b], &keys_[a], static_cast<std::size_t>(head_dim_) * sizeof(float));
    std::memmove(&values_[b], &values_[a], static_cast<std::size_t>(head_dim_) * sizeof(float));
  }
  const float* key(int kv_head, std::int32_t slot) const noexcept { return &keys_[offset(kv_head, slot)]; }
  const float* value(int kv_head, std::int32_t slot) const noexcept { return &values_[offset(kv_head, slot)]; }
  kv_view view() const noexcept {
    return {keys_.data(), values_.data(), head_stride_, static_cast<std::size_t>(head_dim_)};
  }
  std::size_t bytes() const noexcept { return (keys_.size() + values_.size()) * sizeof(float); }

 private:
  std::size_t offset(int kv_head, std::int32_t slot) const noexcept {
    return static_cast<std::size_t>(kv_head) * head_stride_ +
           static_cast<std::size_t>(slot) * static_cast<std::size_t>(head_dim_);
  }
  int head_dim_;
  std::size_t head_stride_;
  std::vector<float> keys_;
  std::vector<float> values_;
};

class layer_cache {
 public:
  // One sequence of a planner: the same state and code as a batched engine's.
  layer_cache(const policy_spec& spec, const model_shape& shape, int layer)
      : planner_(spec, shape, layer, /*max_batch=*/1, /*max_rows=*/1),
        store_(shape.n_kv_heads, planner_.capacity(), shape.head_dim),
        workspace_(planner_.sequence(0)) {}

  // q: [n_heads][head_dim]; k, v: [n_kv_heads][head_dim]; out: [n_heads][head_dim].
  void step(std::int64_t position, const float* q, const float* k, const float* v, float* out) {
    step(position, q, k, v, out, reference_attention(store_.view()));
  }
  // attention: any callable taking const attention_args&; it reads K/V
  // through store() (captured by reference).
  template <class Attention>
  void step(std::int64_t position, const float* q, const float* k, const float* v, float* out,
            Attention&& attention) {
    const std::int32_t seq = 0;
    planner_rows rows;
    rows.seq = &seq;
    rows.position = &position;
    rows.n_rows = 1;
    rows.keys = k;
    rows.queries = q;
    const step_plan& plan = planner_.step(rows);
    detail::write_token(store_, planner_.shape(), plan.slots_of(0), k, v);
    const kv::policy& p = planner_.sequence(0);
    const attention_args args = detail::attention_args_for(p, workspace_, p.last_selection(), position, q, out);
    std::forward<Attention>(attention)(args);
    if (args.weights_wanted) planner_.observe(args.weights, args.weights_stride);
  }

  // Ends the prompt; the store follows the policy's compaction.
  prefill_result prefill_done() {
    const prefill_result r = planner_.prefill_done(0);
    apply_moves(store_, r);
    return r;
  }
  void reset() noexcept { planner_.sequence(0).reset(); }

  kv::policy& policy() noexcept { return planner_.sequence(0); }
  const kv::policy& policy() const noexcept { return planner_.sequence(0); }
  kv::planner& planner() noexcept { return planner_; }
  const kv_store& store() const noexcept { return store_; }
  // The weights of the last step (valid when the policy wanted them, or with
  // the reference attention, which always writes them).
  weights_view last_weights() noexcept { return {workspace_.weights(), workspace_.stride()}; }
  memory_report memory() const noexcept { return planner_.sequence(0).memory(); }

 private:
  kv::planner planner_;
  kv_store store_;
  step_workspace workspace_;
};

class sequence_cache {
 public:
  sequence_cache(const policy_spec& spec, const model_shape& shape) {
    shape.validate();
    layers_.reserve(static_cast<std::size_t>(shape.n_layers));
    for (int l = 0; l < shape.n_layers; ++l) layers_.emplace_back(spec, shape, l);
  }

  int n_layers() const noexcept { return static_cast<int>(layers_.size()); }
  layer_cache& layer(int l) noexcept { return layers_[static_cast<std::size_t>(l)]; }
  const layer_cache& layer(int l) const noexcept { return layers_[static_cast<std::size_t>(l)]; }

  void prefill_done() {
    for (auto& l : layers_) l.prefill_done();
  }
  void reset() noexcept {
    for (auto& l : layers_) l.reset();
  }
  // Summed over layers; tokens_held is the largest of any layer's KV head.
  memory_report memory() const noexcept {
    memory_report m;
    for (const auto& l : layers_) m += l.memory();
    return m;
  }

 private:
  std::vector<layer_cache> layers_;
};

}  // namespace lil::kv
