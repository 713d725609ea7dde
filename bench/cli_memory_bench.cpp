// `lil guard --tokenizer`'s memory per input byte: sentencepiece on a whole
// 1 MB trace (the baseline: what the tool did before it cut texts into
// windows) beside the windows the tool uses (64 KiB), measured in one run.
// Counters: peak heap bytes per input byte while tokenizing (the heap is
// counted by this program's global operator new, which sentencepiece's
// allocations go through), and for the windows the ratio whole / windows.
#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

#include "guard_tokens.hpp"
#include "heap_peak.hpp"

namespace {

const std::string& trace_text() {
  static const std::string text = [] {
    std::ifstream in(LIL_BENCH_TRACES);
    std::string line, t;
    while (t.size() < (1u << 20) && std::getline(in, line))
      t += nlohmann::json::parse(line).at("response").get<std::string>() + "\n";
    return t;
  }();
  return text;
}

// Peak heap per input byte of one tokenization with the given window.
double peak_per_byte(std::size_t window) {
  const std::string& text = trace_text();
  const auto tok = lil::cli::load_sentencepiece(LIL_BENCH_TOKENIZER, window);
  const std::size_t before = lil_heap::start_peak();
  const auto tokens = tok->tokenize(text);
  benchmark::DoNotOptimize(tokens.ids.data());
  return static_cast<double>(lil_heap::peak.load() - before) / static_cast<double>(text.size());
}

void tokenize_memory(benchmark::State& state) {
  const bool whole = state.range(0) == 0;
  const std::size_t window = whole ? std::size_t(-1) : std::size_t{1} << 16;
  double per_byte = 0;
  for (auto _ : state) per_byte = peak_per_byte(window);
  state.counters["peak_heap_per_byte"] = per_byte;
  state.counters["input_MB"] = static_cast<double>(trace_text().size()) / 1e6;
  if (!whole) state.counters["whole_over_windows"] = peak_per_byte(std::size_t(-1)) / per_byte;
  state.SetLabel(whole ? "whole text (baseline)" : "64 KiB windows");
}

BENCHMARK(tokenize_memory)->ArgName("windows")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
