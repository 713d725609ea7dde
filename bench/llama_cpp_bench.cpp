// llama_cpp_bench - what the Guardian sampler costs per token inside
// llama_sampler_sample, beside the rest of the call.
//
// Each iteration times, in turns, `per_turn` calls of llama_sampler_sample on
// a chain without Guardian (the baseline) and on the same chain with the
// Guardian sampler first, over the same context and logits (one decode of
// the model's prompt, done once). Taking turns in one iteration keeps the
// machine's load the same for both. Reported per token: sample_ns (baseline),
// with_guardian_ns, guardian_ns (the difference) and share (guardian_ns /
// sample_ns). Chains: greedy, and the usual top-k 40 / top-p 0.95 / temp 0.8
// / dist (whose sampled tokens vary, so Guardian sees varied text).
// Guardian's rule is the paper's f = 250 with t = 0, so that it never stops
// and every token takes the accept path, checks (one incremental DEFLATE of
// the last 250 tokens' text every 250 tokens) included.
#include <benchmark/benchmark.h>
#include <fmt/core.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "llama_run.hpp"

namespace {

struct model {
  llama_run::model_ptr m;
  llama_run::context_ptr ctx;
  std::shared_ptr<const lil::llama_cpp::token_pieces> pieces;
};

model& load(const std::string& name) {
  static std::vector<std::pair<std::string, std::unique_ptr<model>>> loaded;
  for (auto& [n, p] : loaded)
    if (n == name) return *p;
  auto p = std::make_unique<model>();
  p->m = llama_run::load_model(std::string(LIL_LLAMA_CPP_MODELS_DIR) + "/" + name + ".gguf", LIL_LLAMA_CPP_BACKEND_DIR);
  p->ctx = llama_run::new_context(p->m.get(), 256);
  p->pieces = std::make_shared<const lil::llama_cpp::token_pieces>(llama_model_get_vocab(p->m.get()));
  std::vector<llama_token> prompt = {1, 20, 30, 40, 50};
  if (llama_decode(p->ctx.get(), llama_batch_get_one(prompt.data(), static_cast<int32_t>(prompt.size()))) != 0)
    throw std::runtime_error("llama_cpp_bench: decode failed");
  loaded.emplace_back(name, std::move(p));
  return *loaded.back().second;
}

llama_sampler* chain(bool typical, const model* guardian_for) {
  llama_sampler* c = llama_sampler_chain_init(llama_sampler_chain_default_params());
  if (guardian_for != nullptr) {
    lil::guardian_options o;
    o.rule.check_every = 250;
    o.rule.min_gain = 0;  // never stops: every token takes the accept path
    llama_sampler_chain_add(c, lil::llama_cpp::init_guardian_sampler(guardian_for->pieces, o));
  }
  if (typical) {
    llama_sampler_chain_add(c, llama_sampler_init_top_k(40));
    llama_sampler_chain_add(c, llama_sampler_init_top_p(0.95f, 1));
    llama_sampler_chain_add(c, llama_sampler_init_temp(0.8f));
    llama_sampler_chain_add(c, llama_sampler_init_dist(1234));
  } else {
    llama_sampler_chain_add(c, llama_sampler_init_greedy());
  }
  return c;
}

void sample_with_and_without_guardian(benchmark::State& state, const std::string& name, bool typical) {
  model& m = load(name);
  llama_run::sampler_ptr base(chain(typical, nullptr));
  llama_run::sampler_ptr guarded(chain(typical, &m));
  constexpr int per_turn = 2000;
  using clock = std::chrono::steady_clock;
  double base_s = 0, guarded_s = 0;
  for (auto _ : state) {
    auto t0 = clock::now();
    for (int i = 0; i < per_turn; ++i) benchmark::DoNotOptimize(llama_sampler_sample(base.get(), m.ctx.get(), -1));
    auto t1 = clock::now();
    for (int i = 0; i < per_turn; ++i) benchmark::DoNotOptimize(llama_sampler_sample(guarded.get(), m.ctx.get(), -1));
    auto t2 = clock::now();
    base_s += std::chrono::duration<double>(t1 - t0).count();
    guarded_s += std::chrono::duration<double>(t2 - t1).count();
  }
  const double tokens = static_cast<double>(state.iterations()) * per_turn;
  state.counters["sample_ns"] = 1e9 * base_s / tokens;
  state.counters["with_guardian_ns"] = 1e9 * guarded_s / tokens;
  state.counters["guardian_ns"] = 1e9 * (guarded_s - base_s) / tokens;
  state.counters["share"] = (guarded_s - base_s) / base_s;
  state.SetLabel(fmt::format("vocab {}", m.pieces->size()));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> models = {"reasoner"};
  if (std::FILE* f = std::fopen(LIL_LLAMA_CPP_MODELS_DIR "/stories260K.gguf", "rb")) {
    std::fclose(f);
    models.push_back("stories260K");
  }
  for (const std::string& name : models)
    for (bool typical : {false, true})
      benchmark::RegisterBenchmark(
          (std::string("llama_sampler_sample/") + name + (typical ? "/topk_topp_temp_dist" : "/greedy")).c_str(),
          [name, typical](benchmark::State& s) { sample_with_and_without_guardian(s, name, typical); })
          ->Unit(benchmark::kMillisecond)
          ->MinTime(0.5);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
