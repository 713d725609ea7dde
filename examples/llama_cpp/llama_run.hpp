// examples/llama_cpp/llama_run.hpp - a llama.cpp model, one context per
// sequence, and the reasoner's decode loop in llama.cpp, with lil's pieces
// plugged in: the KV bridge around the sequence's cache and the Guardian
// sampler in the chain. Used by llama_cpp_lil (the demo) and the llama tests.
//
// The loop mirrors lil's own (src/decoder generate.hpp) so that the two can be
// compared token for token: the prompt is given as ids, greedy picks the
// lowest id among equal logits (llama.cpp's greedy sampler does too), BOS and
// EOS both end a trace (the reasoner ends with EOS; llama.cpp only calls EOS
// end-of-generation), and the token cap counts generated tokens.
// n_threads = 1: on a small model and a 2-core machine the default thread
// count spends its time synchronising (about 100x slower here).
// K and V are cached as F32, not llama.cpp's default F16, so that the logits
// are comparable with lil's fp32 decoder.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "lil/adapters/llama_cpp.hpp"
#include "lil/config.hpp"

namespace llama_run {

inline void quiet_log(ggml_log_level level, const char* text, void*) {
  if (level == GGML_LOG_LEVEL_ERROR) std::fputs(text, stderr);
}

struct model_deleter {
  void operator()(llama_model* m) const noexcept { llama_model_free(m); }
};
struct context_deleter {
  void operator()(llama_context* c) const noexcept { llama_free(c); }
};
struct sampler_deleter {
  void operator()(llama_sampler* s) const noexcept { llama_sampler_free(s); }
};
using model_ptr = std::unique_ptr<llama_model, model_deleter>;
using context_ptr = std::unique_ptr<llama_context, context_deleter>;
using sampler_ptr = std::unique_ptr<llama_sampler, sampler_deleter>;

// Loads the backends from `backend_dir` (empty: ggml's default search) and the GGUF.
inline model_ptr load_model(const std::string& gguf, const std::string& backend_dir) {
  llama_log_set(quiet_log, nullptr);
  lil::llama_cpp::load_backends(backend_dir.c_str());
  llama_model_params mp = llama_model_default_params();
  mp.n_gpu_layers = 0;
  model_ptr m(llama_model_load_from_file(gguf.c_str(), mp));
  if (!m) lil::detail::throw_error("llama_run: cannot load the GGUF '" + gguf + "'");
  return m;
}

inline context_ptr new_context(llama_model* model, int n_ctx) {
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = static_cast<std::uint32_t>(n_ctx);
  cp.n_batch = 512;
  cp.n_ubatch = 512;
  cp.n_seq_max = 1;
  cp.n_threads = 1;
  cp.n_threads_batch = 1;
  cp.type_k = GGML_TYPE_F32;
  cp.type_v = GGML_TYPE_F32;
  cp.no_perf = true;
  // ggml's CPU flash attention rounds Q to F16; the plain path stays in F32.
  cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
  context_ptr c(llama_init_from_model(model, cp));
  if (!c) lil::detail::throw_error("llama_run: cannot create a context of " + std::to_string(n_ctx) + " tokens");
  return c;
}

// One trace's decode settings.
struct settings {
  int max_new_tokens = 400;
  int sink_budget = 0;  // 0: dense attention (no bridge)
  int sinks = 4;
  lil::llama_cpp::position_mode mode = lil::llama_cpp::position_mode::original;
  bool guardian = false;  // a Guardian sampler before greedy, enforcing the stop
  lil::guardian_options guardian_options;
};

struct trace {
  std::vector<llama_token> tokens;  // generated, without the end token
  bool guardian_stopped = false;    // ended by Guardian's stop (its EOS)
  int peak_held = 0;                // most cells the sequence held (bridge only)
  double seconds = 0;               // prefill + decode
};

inline bool ends(llama_token t) { return t == 1 /*BOS*/ || t == 2 /*EOS*/; }

// Greedy decode of one prompt (ids, BOS first) on a fresh sequence 0.
inline trace generate(llama_context* ctx, const std::shared_ptr<const lil::llama_cpp::token_pieces>& pieces,
                      const std::vector<llama_token>& prompt, const settings& s) {
  const auto start = std::chrono::steady_clock::now();
  llama_memory_clear(llama_get_memory(ctx), true);
  sampler_ptr chain(llama_sampler_chain_init(llama_sampler_chain_default_params()));
  if (s.guardian) llama_sampler_chain_add(chain.get(), lil::llama_cpp::init_guardian_sampler(pieces, s.guardian_options));
  llama_sampler_chain_add(chain.get(), llama_sampler_init_greedy());

  std::optional<lil::llama_cpp::kv_bridge> bridge;
  if (s.sink_budget > 0) {
    lil::kv::sink_options o;
    o.budget = s.sink_budget;
    o.sinks = s.sinks;
    bridge.emplace(lil::llama_cpp::kv_bridge::sink(ctx, 0, o, s.mode));
  }
  const int n_ctx = static_cast<int>(llama_n_ctx_seq(ctx));
  auto run = [&](const llama_token* t, int n) {
    int rc;
    if (bridge) {
      rc = bridge->decode(t, n);
    } else {
      rc = llama_decode(ctx, llama_batch_get_one(const_cast<llama_token*>(t), n));
    }
    if (rc != 0) lil::detail::throw_error("llama_run: llama_decode returned " + std::to_string(rc));
  };

  trace out;
  run(prompt.data(), static_cast<int>(prompt.size()));
  int positions = static_cast<int>(prompt.size());
  while (static_cast<int>(out.tokens.size()) < s.max_new_tokens) {
    const llama_token next = llama_sampler_sample(chain.get(), ctx, -1);
    if (ends(next)) {
      out.guardian_stopped = lil::llama_cpp::guardian_sampler_stopped(chain.get());
      break;
    }
    out.tokens.push_back(next);
    if (static_cast<int>(out.tokens.size()) >= s.max_new_tokens) break;
    if (!bridge && positions >= n_ctx) break;
    llama_token t = next;
    run(&t, 1);
    ++positions;
  }
  if (bridge) out.peak_held = bridge->peak_held();
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace llama_run
