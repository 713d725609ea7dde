// `lil sweep`'s engine on the shared traces (QwQ-32B and Qwen2.5-Math, 1,200
// traces, Llama 2's sentencepiece tokens), beside its baseline.
//
//   sweep/all_traces/threads:2  the goal: 329 rules (320 Guardian - f x t x
//       patience x warm-up x relative x level - and 9 repetition rules) over
//       all 1,200 traces on 2 threads; must finish in under a minute.
//   sweep/sample/shared vs sweep/sample/per_rule  the same grid over every
//       40th trace, once with the engine's shared work (one compressor pass
//       per level, every Guardian rule from that curve) and once the plain
//       way, a guardian per rule as `lil guard` runs it (guard_analysis). The
//       ratio of the two is what sharing buys; both run in this binary, in
//       this run, on the same traces.
// Tokenizing is part of every figure (the sweep does it once per trace).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "guard_analysis.hpp"
#include "trace_reader.hpp"
#include "guard_tokens.hpp"
#include "io.hpp"
#include "sweep_engine.hpp"

namespace {

using namespace lil::cli;

std::vector<sweep_rule> grid() {
  std::vector<sweep_rule> rules;
  for (int level : {6, 9})
    for (std::uint32_t f : {100u, 125u, 250u, 500u})
      for (double t : {5.0, 10.0, 20.0, 30.0, 40.0})
        for (std::uint32_t k : {1u, 2u})
          for (std::uint64_t w : {0u, 2000u})
            for (double r : {0.0, 0.1}) {
              sweep_rule rule;
              rule.guardian.level = level;
              rule.guardian.rule.check_every = f;
              rule.guardian.rule.min_gain = t;
              rule.guardian.rule.patience = k;
              rule.guardian.rule.warmup_tokens = w;
              rule.guardian.rule.relative_gain = r;
              rule.paper_default = is_paper_rule(rule);
              rules.push_back(rule);
            }
  for (std::uint32_t hi : {4u, 16u, 64u})
    for (std::uint32_t c : {4u, 8u, 16u}) {
      sweep_rule rule;
      rule.kind = rule_kind::repetition;
      rule.repetition.max_pattern_size = hi;
      rule.repetition.min_count = c;
      rules.push_back(rule);
    }
  return rules;
}

struct data {
  std::unique_ptr<tokenizer> tok;
  std::vector<labelled_trace> traces;
};

const data& shared_data() {
  static const data d = [] {
    data out;
    out.tok = load_sentencepiece(std::string(LIL_BENCH_SHARED) + "/tokenizers/llama2/tokenizer.model");
    input_spec spec;
    spec.keep_record = true;
    for (const char* name : {"qwq32b_math500.jsonl", "qwen25math_math100x8.jsonl"}) {
      const std::string path = std::string(LIL_BENCH_SHARED) + "/data/traces/" + name;
      const input_file input(path);
      trace_reader reader(input.get(), path, spec);
      for (trace_record r; reader.next(r);) {
        labelled_trace t;
        t.text = r.text;
        t.reference = r.record.value("answer", "");
        if (auto c = r.record.find("is_correct"); c != r.record.end() && c->is_boolean()) t.correct_flag = c->get<bool>();
        out.traces.push_back(std::move(t));
      }
    }
    return out;
  }();
  return d;
}

std::vector<labelled_trace> sample() {
  std::vector<labelled_trace> out;
  const auto& all = shared_data().traces;
  for (std::size_t i = 0; i < all.size(); i += 40) out.push_back(all[i]);
  return out;
}

void all_traces(benchmark::State& state) {
  const auto& d = shared_data();
  const sweep_engine engine(grid(), *d.tok, answer_extractor());
  const std::vector<bool> skip(d.traces.size(), false);
  std::vector<trace_outcome> outcomes;
  std::vector<std::string> errors;
  for (auto _ : state) {
    run_parallel(engine, d.traces, skip, static_cast<unsigned>(state.range(0)), outcomes, errors);
    benchmark::DoNotOptimize(outcomes.data());
  }
  state.counters["rules"] = static_cast<double>(engine.rules().size());
  state.counters["traces"] = static_cast<double>(d.traces.size());
}

void sample_shared(benchmark::State& state) {
  const auto traces = sample();
  const sweep_engine engine(grid(), *shared_data().tok, answer_extractor());
  for (auto _ : state)
    for (const auto& t : traces) benchmark::DoNotOptimize(engine.run(t).stops.data());
  state.counters["rules"] = static_cast<double>(engine.rules().size());
  state.counters["traces"] = static_cast<double>(traces.size());
}

// The plain way: each rule on its own, as `lil guard` and a live detector run it.
void sample_per_rule(benchmark::State& state) {
  const auto traces = sample();
  const auto rules = grid();
  const auto& tok = *shared_data().tok;
  std::uint64_t sum = 0;
  for (auto _ : state) {
    for (const auto& t : traces) {
      const token_stream s = tok.tokenize(t.text);
      for (const auto& r : rules) {
        if (r.kind == rule_kind::guardian) {
          sum += analyse(s, tok, r.guardian, guard_mode::incremental).stop;
        } else {
          lil::repetition_detector d(r.repetition);
          for (std::size_t i = 0; i < s.size() && !d.stopped(); ++i) d.accept_id(s.ids[i]);
          sum += d.decision().stopped_at;
        }
      }
    }
  }
  benchmark::DoNotOptimize(sum);
  state.counters["rules"] = static_cast<double>(rules.size());
  state.counters["traces"] = static_cast<double>(traces.size());
}

}  // namespace

BENCHMARK(all_traces)->Name("sweep/all_traces/threads")->Arg(2)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();
BENCHMARK(sample_shared)->Name("sweep/sample/shared")->Unit(benchmark::kMillisecond)->Iterations(1);
BENCHMARK(sample_per_rule)->Name("sweep/sample/per_rule")->Unit(benchmark::kMillisecond)->Iterations(1);

BENCHMARK_MAIN();
