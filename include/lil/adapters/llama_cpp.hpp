// lil/adapters/llama_cpp.hpp - lil inside llama.cpp: Guardian as a
// llama_sampler, and a position-only lil::kv policy driving llama.cpp's KV
// cache. Optional component lil::llama_cpp, built only when llama.cpp is found.
//
// Guardian as a sampler
//   llama.cpp's sampler chain calls, per generated token: apply(candidates) on
//   every sampler in order, the last one selects, then accept(token) on every
//   sampler. The Guardian sampler keeps one lil::guardian for its sequence,
//   bound to the model's lil::vocabulary. accept(token) gives Guardian the
//   token's id, which Guardian prices as its text (its piece, from
//   llama_token_to_piece, in a table made once per model (token_pieces) and
//   shared by every sampler and clone); apply() does nothing until Guardian has
//   decided to stop, then leaves only end-of-generation tokens possible (every
//   other candidate's logit becomes -inf), so the selecting sampler ends the
//   sequence and the loop's ordinary llama_vocab_is_eog check stops it.
//
//   Where it goes: anywhere before the sampler that selects (greedy, dist,
//   mirostat). Best first, before top-k / top-p: if a truncating sampler ran
//   first and dropped every end-of-generation token, apply() replaces the
//   candidates by the vocabulary's EOS token alone, so a stop is never lost.
//
//   When apply is not called: llama_sampler_sample skips apply when a backend
//   sampler is attached to the context (llama_set_sampler), and a loop may pick
//   tokens itself (speculative decoding, a custom picker). accept still runs if
//   the loop calls llama_sampler_accept; the loop then asks
//   guardian_sampler_stopped(smpl) after each token and ends the sequence
//   itself. That call also finds the Guardian sampler inside a chain.
//
//   One sampler (or chain) per sequence: Guardian's state is the sequence's
//   output so far. llama_sampler_clone gives an independent copy (a fork of
//   the sequence, same output so far); llama_sampler_reset forgets the output
//   (a new sequence). Only generated tokens are accepted by llama.cpp's loop;
//   the prompt never reaches Guardian, as in lil's own loops.
//
// The KV bridge
//   llama.cpp keeps keys after RoPE in cells tagged with (sequence, position);
//   its public memory API removes cells by position range (llama_memory_seq_rm)
//   and shifts positions, re-rotating the cached keys (llama_memory_seq_add,
//   where llama_memory_can_shift). A lil::kv policy whose decisions need only
//   positions - StreamingLLM's sinks + recent window, or full attention -
//   can therefore drive that cache: before each token is decoded the bridge
//   appends its position to the policy, and the token the policy evicts is
//   removed from the sequence with seq_rm, so the sequence holds at most the
//   budget, the new token included (the same count lil::kv's budget means).
//   Two position modes:
//     original  keys keep their original rotation (what lil's own decoder and
//               H2O/TOVA-style caches do): exact match with lil's decoder under
//               the same sink policy, token for token.
//     rerotate  StreamingLLM's paper: positions are ranks inside the cache, so
//               after an eviction every later cell moves down by one
//               (seq_add(-1), llama.cpp re-rotates the keys). Needs
//               llama_memory_can_shift; differs from lil's decoder by design.
//
//   Policies that cannot drive llama.cpp through its public API:
//     H2O, TOVA, SnapKV need each step's attention weights, and Quest needs the
//     keys and the query (page bounds, per-step selection). llama.cpp's public
//     API exposes neither the attention weights nor the cached keys of a cell,
//     and offers no per-step "read only these cells" mask: decode always
//     attends over every cell of the sequence. H2O/TOVA/SnapKV also evict per
//     KV head (different tokens per head), while a llama.cpp cell holds one
//     token for all heads and layers. So only position-only, head-shared,
//     evict-only policies fit: is_position_only<P> marks them (sink, full).
//
// Costs
//   Sampler: construction allocates the guardian (about 400 KiB: compressor
//   and its spare copy for unfinished UTF-8) and, once per model, the shared
//   lil::vocabulary (bytes of all pieces + 4 bytes per token) and EOG flags.
//   accept: a table lookup and Guardian's accept (a copy of a few bytes; every
//   f tokens one incremental compression). apply before the stop: nothing;
//   after it: one pass over the candidates. Nothing allocates per token.
//   Bridge: one policy append per token (O(1) for sink), one seq_rm when a token
//   is evicted (plus one seq_add in rerotate mode: llama.cpp then re-rotates the
//   sequence's cached keys and reserves a new worst-case graph at the next
//   decode, which costs more than the decode itself on a small model). The
//   batch is allocated once.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "llama.h"
#include "lil/config.hpp"
#include "lil/guardian/guardian.hpp"
#include "lil/guardian/vocabulary.hpp"
#include "lil/kv/full.hpp"
#include "lil/kv/sink.hpp"

namespace lil::llama_cpp {

// ---------------------------------------------------------------------------
// The vocabulary: each token's text as llama.cpp renders it in the output.

// A llama.cpp model's vocabulary for lil: the lil::vocabulary (id -> the
// bytes llama_token_to_piece renders, special tokens as nothing, as in the
// decoded output) that every Guardian of the model shares, plus which ids end
// a generation (llama_vocab_is_eog) for apply(). Immutable once built; make
// one per model and share it (shared_ptr) among all sequences.
class token_pieces {
 public:
  explicit token_pieces(const llama_vocab* vocab) : bytes_(make_bytes(vocab)) {
    const std::int32_t n = llama_vocab_n_tokens(vocab);
    is_eog_.reserve(static_cast<std::size_t>(n));
    bool any_eog = false;
    for (llama_token id = 0; id < n; ++id) {
      const bool eog = llama_vocab_is_eog(vocab, id);
      is_eog_.push_back(eog ? 1 : 0);
      any_eog = any_eog || eog;
    }
    if (!any_eog)
      lil::detail::throw_error("lil::llama_cpp::token_pieces: the vocabulary has no end-of-generation token, so a "
                               "stop cannot be expressed to the sampler chain");
    eos_ = llama_vocab_eos(vocab);
    if (!is_eog(eos_))
      for (llama_token id = n - 1; id >= 0; --id)
        if (is_eog(id)) eos_ = id;
  }

  std::int32_t size() const noexcept { return static_cast<std::int32_t>(is_eog_.size()); }
  std::string_view piece(llama_token id) const noexcept { return bytes_->bytes(id); }
  bool is_eog(llama_token id) const noexcept { return id >= 0 && id < size() && is_eog_[static_cast<std::size_t>(id)]; }
  // The end-of-generation token apply() falls back to (EOS when it is one).
  llama_token eos() const noexcept { return eos_; }
  const std::shared_ptr<const lil::vocabulary>& vocabulary() const noexcept { return bytes_; }
  std::size_t state_bytes() const noexcept { return bytes_->state_bytes() + is_eog_.capacity(); }

 private:
  static std::shared_ptr<const lil::vocabulary> make_bytes(const llama_vocab* vocab) {
    if (vocab == nullptr) lil::detail::throw_error("lil::llama_cpp::token_pieces: vocab is null");
    const std::int32_t n = llama_vocab_n_tokens(vocab);
    if (n <= 0) lil::detail::throw_error("lil::llama_cpp::token_pieces: the vocabulary has no tokens");
    std::vector<char> buf(64);
    return std::make_shared<const lil::vocabulary>(static_cast<std::size_t>(n), [&](lil::token_id id) {
      std::int32_t len = llama_token_to_piece(vocab, id, buf.data(), static_cast<std::int32_t>(buf.size()), 0, false);
      if (len < 0) {
        buf.resize(static_cast<std::size_t>(-len));
        len = llama_token_to_piece(vocab, id, buf.data(), static_cast<std::int32_t>(buf.size()), 0, false);
      }
      if (len < 0)
        lil::detail::throw_error("lil::llama_cpp::token_pieces: llama_token_to_piece failed for token " +
                                 std::to_string(id));
      return std::string_view(buf.data(), static_cast<std::size_t>(len));
    });
  }

  std::shared_ptr<const lil::vocabulary> bytes_;
  std::vector<unsigned char> is_eog_;
  llama_token eos_ = -1;
};

// ---------------------------------------------------------------------------
// Guardian as a llama_sampler.

namespace detail {

struct guardian_sampler_state {
  std::shared_ptr<const token_pieces> pieces;
  lil::guardian<> guardian;
};

inline const char* guardian_name(const llama_sampler*) { return "lil-guardian"; }

inline void guardian_accept(llama_sampler* s, llama_token token) {
  auto* st = static_cast<guardian_sampler_state*>(s->ctx);
  if (st->guardian.stopped()) return;  // the decision is final; later tokens change nothing
  st->guardian.accept_id(token);        // its bytes from the shared lil::vocabulary
}

inline void guardian_apply(llama_sampler* s, llama_token_data_array* cur) {
  auto* st = static_cast<guardian_sampler_state*>(s->ctx);
  if (!st->guardian.stopped() || cur == nullptr || cur->size == 0) return;
  bool kept = false;
  for (std::size_t i = 0; i < cur->size; ++i) {
    if (st->pieces->is_eog(cur->data[i].id)) {
      kept = true;
    } else {
      cur->data[i].logit = -INFINITY;
    }
  }
  if (!kept) {
    // A truncating sampler ran first and dropped every end token: end anyway.
    cur->data[0].id = st->pieces->eos();
    cur->data[0].logit = 0.0f;
    cur->data[0].p = 1.0f;
    cur->size = 1;
  }
  cur->selected = -1;
  cur->sorted = false;
}

inline void guardian_reset(llama_sampler* s) { static_cast<guardian_sampler_state*>(s->ctx)->guardian.reset(); }
inline llama_sampler* guardian_clone(const llama_sampler* s);
inline void guardian_free(llama_sampler* s) { delete static_cast<guardian_sampler_state*>(s->ctx); }

inline llama_sampler_i* guardian_iface() {
  // Value-initialised: the backend-sampling members stay null (CPU only).
  static llama_sampler_i iface = [] {
    llama_sampler_i i{};
    i.name = guardian_name;
    i.accept = guardian_accept;
    i.apply = guardian_apply;
    i.reset = guardian_reset;
    i.clone = guardian_clone;
    i.free = guardian_free;
    return i;
  }();
  return &iface;
}

inline llama_sampler* guardian_clone(const llama_sampler* s) {
  const auto* st = static_cast<const guardian_sampler_state*>(s->ctx);
  return llama_sampler_init(guardian_iface(), new guardian_sampler_state(*st));
}

}  // namespace detail

// A new Guardian sampler for one sequence; free it with llama_sampler_free,
// or let the chain it is added to own it. Throws lil::error for bad options.
inline llama_sampler* init_guardian_sampler(std::shared_ptr<const token_pieces> pieces,
                                            const lil::guardian_options& options = {}) {
  if (!pieces) lil::detail::throw_error("lil::llama_cpp::init_guardian_sampler: pieces is null");
  // The output continues the prompt: its first token keeps its leading space,
  // as llama_token_to_piece renders it (and as lil's own loops measure).
  lil::guardian_options o = options;
  o.output_starts_text = false;
  lil::guardian<> g(o, pieces->vocabulary());
  auto st = std::make_unique<detail::guardian_sampler_state>(detail::guardian_sampler_state{std::move(pieces), std::move(g)});
  return llama_sampler_init(detail::guardian_iface(), st.release());
}
inline llama_sampler* init_guardian_sampler(const llama_vocab* vocab, const lil::guardian_options& options = {}) {
  return init_guardian_sampler(std::make_shared<const token_pieces>(vocab), options);
}

// The Guardian of a Guardian sampler, or of the first one inside a chain;
// null when there is none.
inline const lil::guardian<>* guardian_of(const llama_sampler* smpl) noexcept {
  if (smpl == nullptr) return nullptr;
  if (smpl->iface == detail::guardian_iface())
    return &static_cast<const detail::guardian_sampler_state*>(smpl->ctx)->guardian;
  // llama_sampler_name calls iface->name without a null check: test it first.
  if (smpl->iface == nullptr || smpl->iface->name == nullptr) return nullptr;
  if (std::string_view(smpl->iface->name(smpl)) != "chain") return nullptr;
  auto* chain = const_cast<llama_sampler*>(smpl);
  for (std::int32_t i = 0, n = llama_sampler_chain_n(chain); i < n; ++i)
    if (const auto* g = guardian_of(llama_sampler_chain_get(chain, i))) return g;
  return nullptr;
}

// True once Guardian decided to stop this sequence: the check for loops in
// which apply() does not run (backend samplers, a custom picker).
inline bool guardian_sampler_stopped(const llama_sampler* smpl) noexcept {
  const auto* g = guardian_of(smpl);
  return g != nullptr && g->stopped();
}

// ---------------------------------------------------------------------------
// The KV bridge.

// Policies whose decisions need only positions, evict the same token from
// every head and layer, and read all they keep: they can drive llama.cpp's
// cache through its public memory API. Specialise for a later such policy.
template <class P>
struct is_position_only : std::false_type {};
template <>
struct is_position_only<lil::kv::sink_policy> : std::true_type {};
template <>
struct is_position_only<lil::kv::full_policy> : std::true_type {};

enum class position_mode {
  original,  // keys keep their rotation; positions are the tokens' original ones
  rerotate,  // StreamingLLM's paper: positions are ranks in the cache (seq_add)
};

// The attention shape of a llama.cpp model as lil::kv sees it: one layer (a
// cell is shared by all layers, so one decision serves them all).
inline lil::kv::model_shape kv_shape_of(const llama_model* model, const llama_context* ctx) {
  lil::kv::model_shape s;
  s.n_layers = 1;
  s.n_heads = llama_model_n_head(model);
  s.n_kv_heads = llama_model_n_head_kv(model);
  s.head_dim = s.n_heads > 0 ? llama_model_n_embd(model) / s.n_heads : 0;
  s.max_context = static_cast<int>(llama_n_ctx_seq(ctx));
  return s;
}

// One sequence of a llama_context under a position-only lil::kv policy,
// from the sequence's first token (construction refuses a sequence that
// already holds tokens). decode() is the sequence's llama_decode: it splits the tokens into batches
// that fit the budget, evicts what the policy evicts, and leaves the last
// token's logits at llama_get_logits_ith(ctx, -1).
class kv_bridge {
 public:
  template <class Policy, class Options>
  static kv_bridge make(llama_context* ctx, llama_seq_id seq, const Options& options,
                        position_mode mode = position_mode::original, int max_batch = 512) {
    static_assert(is_position_only<Policy>::value,
                  "this lil::kv policy needs attention weights, keys or per-head eviction, which llama.cpp's public "
                  "API does not expose (see lil/adapters/llama_cpp.hpp)");
    if (ctx == nullptr) lil::detail::throw_error("lil::llama_cpp::kv_bridge: ctx is null");
    const lil::kv::model_shape shape = kv_shape_of(llama_get_model(ctx), ctx);
    return kv_bridge(ctx, seq, std::make_unique<Policy>(shape, 0, options), mode, max_batch);
  }
  static kv_bridge sink(llama_context* ctx, llama_seq_id seq, const lil::kv::sink_options& options,
                        position_mode mode = position_mode::original, int max_batch = 512) {
    return make<lil::kv::sink_policy>(ctx, seq, options, mode, max_batch);
  }

  kv_bridge(kv_bridge&& o) noexcept
      : ctx_(o.ctx_), mem_(o.mem_), seq_(o.seq_), policy_(std::move(o.policy_)), mode_(o.mode_),
        batch_(o.batch_), max_batch_(o.max_batch_), evictions_(o.evictions_), peak_(o.peak_) {
    o.batch_ = llama_batch{};
  }
  kv_bridge& operator=(kv_bridge&&) = delete;
  kv_bridge(const kv_bridge&) = delete;
  kv_bridge& operator=(const kv_bridge&) = delete;
  ~kv_bridge() {
    if (batch_.token != nullptr) llama_batch_free(batch_);
  }

  // Runs the tokens through llama_decode for this sequence, the last token's
  // logits requested. Batches hold at most the free room of the budget (one
  // token once the cache is full), so every token attends to exactly what the
  // policy keeps at its step - token-by-token semantics, as lil's decoder.
  // Returns llama_decode's status (0 = ok); stops at the first failure, after
  // which the policy counts tokens llama.cpp did not store: reset() the
  // sequence before using it again.
  int decode(const llama_token* tokens, int n) {
    int done = 0;
    while (done < n) {
      const int chunk = std::min({n - done, std::max(1, room()), max_batch_});
      batch_.n_tokens = 0;
      for (int i = 0; i < chunk; ++i) {
        const llama_pos pos = admit();
        const int k = batch_.n_tokens++;
        batch_.token[k] = tokens[done + i];
        batch_.pos[k] = pos;
        batch_.n_seq_id[k] = 1;
        batch_.seq_id[k][0] = seq_;
        batch_.logits[k] = done + i == n - 1 ? 1 : 0;
      }
      const int rc = llama_decode(ctx_, batch_);
      if (rc != 0) return rc;
      done += chunk;
    }
    return 0;
  }
  int decode(const std::vector<llama_token>& tokens) { return decode(tokens.data(), static_cast<int>(tokens.size())); }

  // Tokens that fit before the policy must evict.
  int room() const noexcept { return std::max(0, static_cast<int>(policy_->budget()) - held()); }
  int held() const noexcept { return policy_->size(0); }
  int peak_held() const noexcept { return peak_; }
  int budget() const noexcept { return policy_->budget(); }
  std::int64_t evictions() const noexcept { return evictions_; }
  std::int64_t appended() const noexcept { return policy_->appended(); }
  position_mode mode() const noexcept { return mode_; }
  const lil::kv::policy& policy() const noexcept { return *policy_; }
  llama_seq_id seq() const noexcept { return seq_; }

  // A new sequence: clears this sequence's cells and the policy.
  void reset() noexcept {
    llama_memory_seq_rm(mem_, seq_, -1, -1);
    policy_->reset();
    evictions_ = 0;
    peak_ = 0;
  }

 private:
  kv_bridge(llama_context* ctx, llama_seq_id seq, std::unique_ptr<lil::kv::policy> p, position_mode mode,
            int max_batch)
      : ctx_(ctx), mem_(llama_get_memory(ctx)), seq_(seq), policy_(std::move(p)), mode_(mode),
        max_batch_(std::max(1, std::min<int>(max_batch, static_cast<int>(llama_n_batch(ctx))))) {
    if (mem_ == nullptr) lil::detail::throw_error("lil::llama_cpp::kv_bridge: the context has no memory");
    // The policy must see every token the sequence holds, from its first.
    const llama_pos held_max = llama_memory_seq_pos_max(mem_, seq);
    if (held_max >= 0)
      lil::detail::throw_error("lil::llama_cpp::kv_bridge: sequence " + std::to_string(seq) +
                               " already holds tokens (up to position " + std::to_string(held_max) +
                               "); create the bridge before the sequence's first decode, or clear it "
                               "(llama_memory_seq_rm(mem, seq, -1, -1))");
    if (mode == position_mode::rerotate && !llama_memory_can_shift(mem_))
      lil::detail::throw_error("lil::llama_cpp::kv_bridge: position_mode::rerotate needs llama_memory_can_shift, "
                               "which this context's memory does not allow");
    batch_ = llama_batch_init(max_batch_, 0, 1);
  }

  // Appends the next token to the policy, evicts from llama.cpp what the
  // policy evicted, and returns the llama.cpp position of the new token.
  llama_pos admit() {
    const std::int64_t original = policy_->appended();
    const lil::kv::append_result& r = policy_->append(original, nullptr);
    const std::int64_t gone = r.evicted_position[0];
    llama_pos pos = static_cast<llama_pos>(original);
    if (mode_ == position_mode::original) {
      if (gone >= 0) {
        llama_memory_seq_rm(mem_, seq_, static_cast<llama_pos>(gone), static_cast<llama_pos>(gone) + 1);
        ++evictions_;
      }
    } else {
      if (gone >= 0) {
        // The evicted token's rank among those still held is its llama.cpp position.
        llama_pos rank = 0;
        for (std::int32_t s : policy_->live_slots(0))
          if (policy_->position(0, s) < gone) ++rank;
        llama_memory_seq_rm(mem_, seq_, rank, rank + 1);
        llama_memory_seq_add(mem_, seq_, rank + 1, -1, -1);
        ++evictions_;
      }
      pos = static_cast<llama_pos>(held() - 1);
    }
    peak_ = std::max(peak_, held());
    return pos;
  }

  llama_context* ctx_;
  llama_memory_t mem_;
  llama_seq_id seq_;
  std::unique_ptr<lil::kv::policy> policy_;
  position_mode mode_;
  llama_batch batch_{};
  int max_batch_;
  std::int64_t evictions_ = 0;
  int peak_ = 0;
};

// Loads every ggml backend (the CPU variants) found in `dir`, once per
// process: the prebuilt libraries pick their CPU backend at run time.
inline void load_backends(const char* dir) {
  static const bool loaded = [dir] {
    if (dir != nullptr && *dir != '\0') {
      ggml_backend_load_all_from_path(dir);
    } else {
      ggml_backend_load_all();
    }
    return true;
  }();
  (void)loaded;
}

}  // namespace lil::llama_cpp
