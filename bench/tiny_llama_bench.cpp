// tiny_llama's CPU decoder (src/decoder), each figure beside its baseline:
//   matvec/R/C     one R x C matrix-vector product at the reasoner's shapes:
//                  tiny_llama's (8 partial sums, vector extensions, 4 rows per
//                  pass over x) beside the textbook loop (one running sum per
//                  row, as llama2.c's run.c writes it); ratio = textbook / ours.
//   decode/SPEC    one generated token of the committed reasoner (6 layers,
//                  dim 128) with 150 tokens in its cache, through a session:
//                  dense attention (the baseline), or a lil::kv policy around
//                  every layer; ratio = dense / this.
// Times are CPU times (the development machine is shared); ratios compare CPU times.
#include <benchmark/benchmark.h>

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "kv_session.hpp"
#include "generate.hpp"
#include "model.hpp"

namespace {

// CPU time (this process) since t0, in ns: the machine is shared, so the
// baselines are timed on the CPU clock, like the rows they are compared with.
double cpu_ns_since(std::clock_t t0) { return 1e9 * static_cast<double>(std::clock() - t0) / CLOCKS_PER_SEC; }

void textbook_matvec(float* out, const float* w, const float* x, int rows, int cols) {
  for (int i = 0; i < rows; ++i) {
    float sum = 0;
    for (int j = 0; j < cols; ++j) sum += w[static_cast<std::size_t>(i) * static_cast<std::size_t>(cols) + static_cast<std::size_t>(j)] * x[j];
    out[i] = sum;
  }
}

void matvec(benchmark::State& state) {
  const int rows = static_cast<int>(state.range(0)), cols = static_cast<int>(state.range(1));
  std::vector<float> w(static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols)), x(static_cast<std::size_t>(cols)),
      out(static_cast<std::size_t>(rows));
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 13) * 0.01f - 0.05f;
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7) * 0.1f;
  for (auto _ : state) {
    tiny_llama::detail::matvec(out.data(), w.data(), x.data(), rows, cols);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const auto n = state.iterations();
  const std::clock_t t0 = std::clock();
  for (benchmark::IterationCount i = 0; i < n; ++i) {
    textbook_matvec(out.data(), w.data(), x.data(), rows, cols);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  const double textbook_ns = cpu_ns_since(t0) / static_cast<double>(n);
  state.counters["flops"] = benchmark::Counter(2.0 * rows * cols, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["textbook_ns"] = textbook_ns;
  state.SetLabel("ratio = textbook / ours");
}

const tiny_llama::checkpoint& reasoner() {
  static const auto model = tiny_llama::checkpoint::from_file(TINY_LLAMA_MODELS_DIR "/reasoner.bin");
  return model;
}

constexpr int cached = 150;
constexpr int span = 200;  // steps run at positions cached .. cached + span - 1, then again

// ns per token of dense attention over the same positions as the policies.
double dense_ns(tiny_llama::state& s, benchmark::IterationCount steps) {
  const std::clock_t t0 = std::clock();
  for (benchmark::IterationCount i = 0; i < steps; ++i)
    benchmark::DoNotOptimize(s.forward(reasoner(), 3 + static_cast<int>(i % 60), cached + static_cast<int>(i % span)));
  return cpu_ns_since(t0) / static_cast<double>(steps);
}

void decode(benchmark::State& state, const std::string& spec) {
  const auto& model = reasoner();
  tiny_llama::state s(model.cfg()), dense_state(model.cfg());
  for (int p = 0; p < cached; ++p) dense_state.forward(model, 3 + p % 60, p);
  // A policy sees every position once, in order: after `span` steps the
  // session is reset and prefilled again, outside the timing.
  tiny_llama::dense_session dense;
  std::unique_ptr<tiny_llama::kv_session> policy;
  if (spec != "dense") policy = std::make_unique<tiny_llama::kv_session>(lil::kv::policy_spec::parse(spec), model.cfg());
  auto attend = [&](const tiny_llama::attention_step& step) {
    if (policy) policy->attend(step);
    else
      dense.attend(step);
  };
  auto refill = [&] {
    if (policy) policy->reset();
    for (int p = 0; p < cached; ++p) s.forward(model, 3 + p % 60, p, attend);
    if (policy) policy->prefill_done();
  };
  refill();
  int step = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.forward(model, 3 + step % 60, cached + step, attend));
    if (++step == span) {
      state.PauseTiming();
      refill();
      step = 0;
      state.ResumeTiming();
    }
  }
  state.counters["dense_ns"] = dense_ns(dense_state, state.iterations());
  state.counters["tokens_per_s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel("ratio = dense / this");
}

// Prints ratio = baseline_ns / CPU ns per iteration beside each row.
class ratio_reporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    std::vector<Run> copy = runs;
    for (auto& run : copy) {
      const double ours = run.GetAdjustedCPUTime() * time_unit_ns(run.time_unit);
      auto base = run.counters.find("textbook_ns");
      if (base == run.counters.end()) base = run.counters.find("dense_ns");
      if (base != run.counters.end() && ours > 0) run.counters["ratio"] = base->second.value / ours;
    }
    ConsoleReporter::ReportRuns(copy);
  }

 private:
  static double time_unit_ns(benchmark::TimeUnit u) {
    switch (u) {
      case benchmark::kNanosecond: return 1;
      case benchmark::kMicrosecond: return 1e3;
      case benchmark::kMillisecond: return 1e6;
      case benchmark::kSecond: return 1e9;
    }
    return 1;
  }
};

}  // namespace

BENCHMARK(matvec)->Args({128, 128})->Args({384, 128})->Args({128, 384})->Args({72, 128});
BENCHMARK_CAPTURE(decode, dense, std::string("dense"));
BENCHMARK_CAPTURE(decode, full, std::string("full"));
BENCHMARK_CAPTURE(decode, sink_64, std::string("sink:64"));
BENCHMARK_CAPTURE(decode, h2o_64, std::string("h2o:64"));
BENCHMARK_CAPTURE(decode, quest_64, std::string("quest:64"));
BENCHMARK_CAPTURE(decode, tova_64, std::string("tova:64"));

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  ratio_reporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
