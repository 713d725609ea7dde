// lil/kv/wrap.hpp - a policy around any attention step.
//
// What it does
//   wrap_step() runs one token of one layer through a policy and the caller's
//   attention kernel:
//     append (the policy picks a slot per KV head; the store writes K and V
//     there) -> select (slots to read per KV head) -> attention(args) ->
//     observe (only if the policy needs the weights now).
//   See policy.hpp for why append comes first.
//
// The attention callable
//   Any callable taking `const attention_args&`. It reads args.query
//   ([n_heads][head_dim]), reads for query head q the slots
//   args.selected.head(args.kv_head_of(q)) of its own K/V storage, writes
//   args.out ([n_heads][head_dim]) and, when args.weights_wanted, the softmax
//   probabilities of query head q over those slots, in selection order, into
//   args.weights + q * args.weights_stride. The weights buffer is always there,
//   so a kernel may use it as scratch. A fused kernel that cannot return
//   weights calls recompute_weights() when args.weights_wanted.
//
// The store
//   Anything with `write(int kv_head, std::int32_t slot, const float* key,
//   const float* value)`, and `move(int kv_head, std::int32_t from,
//   std::int32_t to)` for apply_moves() after prefill_done(); kv_store
//   (cache.hpp) is the plain contiguous one, and a paged engine adapts its own.
//
// Costs
//   Nothing allocates per step: step_workspace holds the weights rows
//   (n_heads x max_selected floats), sized once from the policy.
#pragma once

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "lil/kv/math.hpp"
#include "lil/kv/policy.hpp"

namespace lil::kv {

struct attention_args {
  const float* query = nullptr;  // [n_heads][head_dim]
  float* out = nullptr;          // [n_heads][head_dim]
  float* weights = nullptr;      // [n_heads][weights_stride]; always present
  std::size_t weights_stride = 0;
  bool weights_wanted = false;   // the policy will read the weights
  slot_lists selected;           // per KV head
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  std::int64_t position = 0;          // the current token's position
  const kv::policy* source = nullptr;  // for position(kv_head, slot) of the selected slots

  int kv_head_of(int q_head) const noexcept { return q_head / (n_heads / n_kv_heads); }
  float* weights_row(int q_head) const noexcept {
    return weights + static_cast<std::size_t>(q_head) * weights_stride;
  }
};

// Scratch for one policy object: the weights rows.
class step_workspace {
 public:
  explicit step_workspace(const kv::policy& p)
      : n_heads_(p.shape().n_heads),
        stride_(static_cast<std::size_t>(p.max_selected() > 0 ? p.max_selected() : 1)),
        weights_(static_cast<std::size_t>(p.shape().n_heads) * stride_, 0.0f) {}

  float* weights() noexcept { return weights_.data(); }
  std::size_t stride() const noexcept { return stride_; }
  int n_heads() const noexcept { return n_heads_; }

 private:
  int n_heads_;
  std::size_t stride_;
  std::vector<float> weights_;
};

namespace detail {

// The new token's K/V rows into the store at the slots the policy gave it
// (slots[h] for KV head h).
template <class Store, class Slots>
void write_token(Store& store, const model_shape& shape, const Slots& slots, const float* k, const float* v) {
  const std::size_t d = static_cast<std::size_t>(shape.head_dim);
  for (int h = 0; h < shape.n_kv_heads; ++h)
    store.write(h, slots[h], k + static_cast<std::size_t>(h) * d, v + static_cast<std::size_t>(h) * d);
}

// What the attention step gets for policy p's `selected` slots.
inline attention_args attention_args_for(const kv::policy& p, step_workspace& ws, slot_lists selected,
                                         std::int64_t position, const float* q, float* out) {
  const model_shape& shape = p.shape();
  attention_args args;
  args.query = q;
  args.out = out;
  args.weights = ws.weights();
  args.weights_stride = ws.stride();
  args.weights_wanted = p.requirements().weights;
  args.selected = selected;
  args.n_heads = shape.n_heads;
  args.n_kv_heads = shape.n_kv_heads;
  args.head_dim = shape.head_dim;
  args.position = position;
  args.source = &p;
  return args;
}

}  // namespace detail

// One token of one layer: append -> store.write -> select -> attention -> observe.
// q: [n_heads][head_dim]; k, v: [n_kv_heads][head_dim] (k as q is dotted with it).
template <class Store, class Attention>
void wrap_step(kv::policy& p, step_workspace& ws, Store& store, std::int64_t position, const float* q,
               const float* k, const float* v, float* out, Attention&& attention) {
  const model_shape& shape = p.shape();
  if (ws.n_heads() != shape.n_heads || ws.stride() < static_cast<std::size_t>(p.max_selected()))
    lil::detail::throw_error(std::string("kv wrap_step: the step_workspace was not made for this ") + p.name() +
                             " policy (weights stride " + detail::number(static_cast<std::int64_t>(ws.stride())) +
                             ", needs " + detail::number(p.max_selected()) + ")");
  detail::write_token(store, shape, p.append(position, k).slot, k, v);
  const attention_args args = detail::attention_args_for(p, ws, p.select(q), position, q, out);
  std::forward<Attention>(attention)(args);
  if (args.weights_wanted) p.observe(weights_view{args.weights, args.weights_stride});
}

// Applies prefill_done()'s moves to a store with
// `move(int kv_head, std::int32_t from, std::int32_t to)`.
template <class Store>
void apply_moves(Store& store, const prefill_result& r) {
  for (int h = 0; h < r.move_from.n_kv_heads(); ++h) {
    const slot_span from = r.move_from.head(h), to = r.move_to.head(h);
    for (std::int32_t i = 0; i < from.size; ++i) store.move(h, from[i], to[i]);
  }
}

// For kernels that cannot return weights: writes softmax(scale * q.k) of every
// query head over its selection into args.weights. key_of(kv_head, slot) gives
// the key row; scale 0 means 1/sqrt(head_dim).
template <class KeyOf>
void recompute_weights(const attention_args& args, KeyOf&& key_of, float scale = 0.0f) noexcept {
  const float s = scale != 0.0f ? scale : 1.0f / std::sqrt(static_cast<float>(args.head_dim));
  for (int q = 0; q < args.n_heads; ++q) {
    const int kv = args.kv_head_of(q);
    const slot_span sel = args.selected.head(kv);
    const float* qrow = args.query + static_cast<std::size_t>(q) * static_cast<std::size_t>(args.head_dim);
    float* row = args.weights_row(q);
    for (std::int32_t i = 0; i < sel.size; ++i) {
      const float* key = key_of(kv, sel[i]);
      row[i] = detail::dot(qrow, key, args.head_dim) * s;
    }
    detail::softmax(row, sel.size);
  }
}

}  // namespace lil::kv
