// llama_cpp_bench - what the Guardian sampler costs per token inside
// llama_sampler_sample, beside the rest of the call.
//
// A chain calls, per token, apply(candidates) then accept(token) on every
// sampler; the Guardian sampler's share of llama_sampler_sample is therefore
// its apply on the full candidate array plus its accept. Each iteration takes
// 8 turns; a turn times 250 calls of llama_sampler_sample on a chain without
// Guardian (greedy, or top-k 40 / top-p 0.95 / temp 0.8 / dist), then 250
// tokens of Guardian's apply + accept on the candidate array the call builds
// (the time to fill that array is measured and subtracted: it belongs to
// llama_sampler_sample either way). Guardian follows the paper's rule
// (f = 250, t = 20 bytes) over tokens drawn from the model's logits, so every
// turn includes one check (an incremental DEFLATE of the last 250 tokens'
// text); if it stops, it is reset between turns (counter `resets`). Times are
// the thread's CPU time, both measured in the same turns on the same context.
// Run with --benchmark_repetitions=5 and read the medians: sample_ns,
// guardian_ns (per token) and share = guardian_ns / sample_ns.
#include <benchmark/benchmark.h>
#include <fmt/core.h>

#include <time.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "llama_run.hpp"

namespace {

// CPU time of this thread: on a machine shared with other builds, wall time
// mostly measures the scheduler.
double thread_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

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

llama_sampler* chain(bool typical) {
  llama_sampler* c = llama_sampler_chain_init(llama_sampler_chain_default_params());
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

void guardian_beside_sample(benchmark::State& state, const std::string& name, bool typical) {
  model& m = load(name);
  llama_run::sampler_ptr base(chain(typical));
  // The text Guardian sees: tokens drawn by the usual chain from the model's
  // logits (varied, so Guardian does not stop within a turn).
  constexpr int per_turn = 250, turns = 8;
  std::vector<llama_token> stream;
  {
    llama_run::sampler_ptr draw(chain(true));
    for (int i = 0; i < per_turn * turns; ++i) stream.push_back(llama_sampler_sample(draw.get(), m.ctx.get(), -1));
  }
  llama_run::sampler_ptr guardian(lil::llama_cpp::init_guardian_sampler(m.pieces));  // the paper's f = 250, t = 20
  // The candidate array llama_sampler_sample builds: every token with its logit.
  const int n_vocab = m.pieces->size();
  const float* logits = llama_get_logits_ith(m.ctx.get(), -1);
  std::vector<llama_token_data> cand(static_cast<std::size_t>(n_vocab));
  double base_s = 0, guard_s = 0;
  int resets = 0;
  for (auto _ : state) {
    for (int turn = 0; turn < turns; ++turn) {
      const double t0 = thread_seconds();
      for (int i = 0; i < per_turn; ++i) benchmark::DoNotOptimize(llama_sampler_sample(base.get(), m.ctx.get(), -1));
      const double t1 = thread_seconds();
      for (int i = 0; i < per_turn; ++i) {
        for (int v = 0; v < n_vocab; ++v) cand[static_cast<std::size_t>(v)] = {v, logits[v], 0.0f};
        llama_token_data_array cur{cand.data(), cand.size(), -1, false};
        llama_sampler_apply(guardian.get(), &cur);
        llama_sampler_accept(guardian.get(), stream[static_cast<std::size_t>(turn * per_turn + i)]);
      }
      const double t2 = thread_seconds();
      // Filling the candidate array is part of llama_sampler_sample, not Guardian's.
      for (int i = 0; i < per_turn; ++i) {
        for (int v = 0; v < n_vocab; ++v) cand[static_cast<std::size_t>(v)] = {v, logits[v], 0.0f};
        benchmark::DoNotOptimize(cand.data());
      }
      const double t3 = thread_seconds();
      base_s += t1 - t0;
      guard_s += (t2 - t1) - (t3 - t2);
      if (lil::llama_cpp::guardian_sampler_stopped(guardian.get())) {
        llama_sampler_reset(guardian.get());
        ++resets;
      }
    }
  }
  const double tokens = static_cast<double>(state.iterations()) * per_turn * turns;
  state.counters["sample_ns"] = 1e9 * base_s / tokens;
  state.counters["guardian_ns"] = 1e9 * guard_s / tokens;
  state.counters["share"] = guard_s / base_s;
  state.counters["resets"] = resets;
  state.SetLabel(fmt::format("vocab {}", n_vocab));
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
          [name, typical](benchmark::State& s) { guardian_beside_sample(s, name, typical); })
          ->Unit(benchmark::kMillisecond)
          ->MinTime(0.5);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
