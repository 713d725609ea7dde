// The smallest llama.cpp decode loop with lil in it: Guardian as a sampler
// before the one that selects, and StreamingLLM's sink + recent window
// holding the sequence's KV cache to a budget.
//
//   llama_cpp_guardian model.gguf [prompt] [backend_dir]
#include <cstdio>
#include <string>
#include <vector>

#include "lil/adapters/llama_cpp.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s model.gguf [prompt] [backend_dir]\n", argv[0]);
    return 2;
  }
  const std::string prompt = argc > 2 ? argv[2] : "Once upon a time";
  lil::llama_cpp::load_backends(argc > 3 ? argv[3] : "");  // "" = ggml's default search
  llama_model* model = llama_model_load_from_file(argv[1], llama_model_default_params());
  if (model == nullptr) return 1;
  llama_context_params cp = llama_context_default_params();
  cp.n_ctx = 1024;
  cp.n_threads = 1;
  llama_context* ctx = llama_init_from_model(model, cp);
  const llama_vocab* vocab = llama_model_get_vocab(model);

  try {
    // Guardian first, then whatever selects. One chain per sequence.
    lil::guardian_options rule;  // the paper's f = 250, t = 20 bytes
    rule.rule.check_every = 25;  // a small model's short outputs: a tenth of both
    rule.rule.min_gain = 2;
    llama_sampler* chain = llama_sampler_chain_init(llama_sampler_chain_default_params());
    llama_sampler_chain_add(chain, lil::llama_cpp::init_guardian_sampler(vocab, rule));
    llama_sampler_chain_add(chain, llama_sampler_init_greedy());

    // The sequence holds at most 64 cells: 4 sinks + the 60 most recent.
    lil::kv::sink_options sink;
    sink.budget = 64;
    auto kv = lil::llama_cpp::kv_bridge::sink(ctx, /*seq=*/0, sink);

    std::vector<llama_token> ids(prompt.size() + 2);
    ids.resize(static_cast<std::size_t>(llama_tokenize(vocab, prompt.data(), static_cast<int32_t>(prompt.size()),
                                                       ids.data(), static_cast<int32_t>(ids.size()), true, false)));
    if (kv.decode(ids) != 0) return 1;
    int generated = 0;
    for (; generated < 800; ++generated) {
      const llama_token t = llama_sampler_sample(chain, ctx, -1);  // apply, select, accept
      if (llama_vocab_is_eog(vocab, t)) break;                     // Guardian's stop ends here too
      char piece[64];
      const int n = llama_token_to_piece(vocab, t, piece, sizeof piece, 0, false);
      std::fwrite(piece, 1, n > 0 ? static_cast<std::size_t>(n) : 0, stdout);
      if (kv.decode(&t, 1) != 0) return 1;
    }
    const lil::decision d = lil::llama_cpp::guardian_of(chain)->decision();
    std::printf("\n[%d tokens; guardian %s; %d cells held, at most %d]\n", generated,
                d.stop() ? "stopped" : "did not stop", kv.held(), kv.peak_held());
    llama_sampler_free(chain);
  } catch (const lil::error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  llama_free(ctx);
  llama_model_free(model);
  return 0;
}
