// tiny_llama/kv_session.hpp - a lil::kv policy around every layer's attention
// step: the session (generate.hpp) that makes the decoder a sparse-attention
// decoder.
//
// How it plugs in: the model computes q, k, v for the new token, rotates q and
// k, and writes k and v into its own per-layer row at the token's position;
// then it calls attend(step). Here that step is handed to the layer's
// lil::kv::layer_cache: append (the policy picks a slot, the cache stores the
// new k and v there, possibly evicting a token), select (the slots to read),
// the reference attention over those slots, observe (attention weights for
// the scoring policies). The query, keys and output layouts are the same on
// both sides ([heads][head_size], keys after RoPE), so nothing is copied but
// the new token's k and v. After the prompt, prefill_done() lets SnapKV
// compress the prompt.
//
// The model's own full cache then only stages the new row; the policy's
// store is what attention reads, and memory() is what the policy keeps.
// One kv_session belongs to one sequence (one thread); reset() reuses it.
//
// accept() keeps decoding: Guardian is plugged in by a session that wraps
// this one and answers accept() with Guardian's verdict on the token's text.
#pragma once

#include <cstddef>

#include "lil/kv/cache.hpp"
#include "model.hpp"

namespace tiny_llama {

inline lil::kv::model_shape kv_shape_of(const config& c) {
  lil::kv::model_shape shape;
  shape.n_layers = c.n_layers;
  shape.n_heads = c.n_heads;
  shape.n_kv_heads = c.n_kv_heads;
  shape.head_dim = c.head_size();
  shape.max_context = c.seq_len;
  shape.kv_bytes_per_element = sizeof(float);
  return shape;
}

class kv_session {
 public:
  kv_session(const lil::kv::policy_spec& spec, const config& c)
      : cache_(spec, kv_shape_of(c)), kv_dim_(static_cast<std::size_t>(c.kv_dim())) {}

  // Throws lil::error only for what the policy rejects (a full cache).
  void attend(const attention_step& step) {
    const std::size_t row = static_cast<std::size_t>(step.position) * kv_dim_;
    cache_.layer(step.layer).step(step.position, step.query, step.keys + row, step.values + row, step.output);
  }
  void prefill_done() { cache_.prefill_done(); }
  bool accept(int) noexcept { return true; }

  // Bytes of K and V the policy holds now, over all layers.
  std::size_t kv_bytes() const noexcept { return cache_.memory().kv_bytes; }
  lil::kv::memory_report memory() const noexcept { return cache_.memory(); }
  void reset() noexcept { cache_.reset(); }

 private:
  lil::kv::sequence_cache cache_;
  std::size_t kv_dim_;
};

// Session factory for the evaluation harness (eval.hpp): a fresh policy state per sequence.
struct kv_sessions {
  lil::kv::policy_spec spec;
  config cfg;
  kv_session operator()(std::size_t) const { return kv_session(spec, cfg); }
};

}  // namespace tiny_llama
