// Guardian's costs, each beside its baseline, in one table:
//   amortised/...       ns per accepted token over one 128k-token decode at
//                       f = 250 (checks included), in both profiles at levels
//                       1, 6 and 9, beside zlib compressing the same bytes
//                       once at the same level (turns taken per iteration;
//                       ratio = guardian / zlib); and by id;
//   check/tokens:N      one check at N tokens - the last f tokens' bytes fed
//                       and the exact size taken - beside recompressing the
//                       whole N-token output from scratch (the paper's method)
//                       with lil's engine and with zlib; ratio = recompress /
//                       incremental;
//   state               bytes of state per sequence (and for 1,024 sequences).
// Tokens are 4-byte chunks of real reasoning traces (QwQ-32B on MATH-500) when
// the shared data is there, else of generated text; 4 bytes is about what a
// Llama-family token of English holds. Times are CPU time of the benchmark's
// thread (check/...: the "Time" column too), so a busy machine does not
// inflate them.
#include <benchmark/benchmark.h>
#include <fmt/core.h>
#include <zlib.h>

#include <time.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lil/guardian/batch.hpp"
#include "lil/guardian/guardian.hpp"

#ifdef LIL_BENCH_TRACES
#include <nlohmann/json.hpp>
#endif

namespace {

constexpr std::size_t bytes_per_token = 4;
constexpr std::size_t max_tokens = 131072;  // >= the largest n below

// The concatenated responses of the traces (or generated words), long enough
// for the largest benchmark.
const std::string& corpus_text() {
  static const std::string text = [] {
    std::string t;
#ifdef LIL_BENCH_TRACES
    std::ifstream in(LIL_BENCH_TRACES);
    std::string line;
    while (t.size() < max_tokens * bytes_per_token + 4096 && std::getline(in, line))
      t += nlohmann::json::parse(line).at("response").get<std::string>();
#endif
    std::mt19937_64 rng(42);
    static const char* const words[] = {"the", "we", "so", "then", "x", "equals", "let", "me", "check", "wait",
                                        "answer", "is", "number", "of", "because", "+", "=", "2", "3", "triangle"};
    while (t.size() < max_tokens * bytes_per_token + 4096) {
      t += words[rng() % 20];
      t += rng() % 9 == 0 ? ".\n" : " ";
    }
    return t;
  }();
  return text;
}

std::string_view token(std::size_t i) { return std::string_view(corpus_text()).substr(i * bytes_per_token, bytes_per_token); }

lil::guardian_options default_options(lil::deflate::profile p = lil::deflate::profile::gzip) {
  lil::guardian_options o;
  o.profile = p;
  return o;
}

std::uint64_t zlib_raw_size(const void* data, std::size_t size, int level) {
  z_stream s{};
  deflateInit2(&s, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  std::vector<unsigned char> out(deflateBound(&s, static_cast<uLong>(size)) + 16);
  s.next_in = static_cast<Bytef*>(const_cast<void*>(data));
  s.avail_in = static_cast<uInt>(size);
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  ::deflate(&s, Z_FINISH);
  const std::uint64_t n = s.total_out;
  deflateEnd(&s);
  return n;
}

// This thread's CPU time in seconds: the machines these run on are shared, and
// wall time would count other processes' turns as ours.
double cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// One whole 128k-token sequence through a guardian (checks every f = 250
// tokens), then zlib compressing the same bytes once, at the same level, as
// the baseline: they take turns each iteration, so a busy machine slows both
// alike. The benchmark's time is the guardian's; ratio = guardian / zlib.
void amortised_text(benchmark::State& state) {
  const auto p = static_cast<lil::deflate::profile>(state.range(0));
  auto opts = default_options(p);
  opts.level = static_cast<int>(state.range(1));
  lil::guardian<> g(opts);
  const std::string_view text = std::string_view(corpus_text()).substr(0, max_tokens * bytes_per_token);
  double lil_s = 0, zlib_s = 0;
  std::uint64_t zlib_size = 0;
  for (auto _ : state) {
    g.reset();  // not timed: the clock below starts after it
    const double t0 = cpu_seconds();
    for (std::size_t i = 0; i < max_tokens; ++i) benchmark::DoNotOptimize(g.accept(token(i)));
    const double t1 = cpu_seconds();
    zlib_size = zlib_raw_size(text.data(), text.size(), opts.level);
    const double t2 = cpu_seconds();
    benchmark::DoNotOptimize(zlib_size);
    state.SetIterationTime(t1 - t0);
    lil_s += t1 - t0;
    zlib_s += t2 - t1;
  }
  if (g.tokens() != max_tokens) state.SkipWithError("the sequence was not accepted whole");
  state.SetLabel(std::string(lil::deflate::profile_name(p)) + " -" + std::to_string(opts.level));
  const double tokens = static_cast<double>(state.iterations() * max_tokens);
  state.counters["per_token_ns"] = lil_s / tokens * 1e9;
  state.counters["zlib_once_ns"] = zlib_s / tokens * 1e9;
  state.counters["ratio"] = lil_s / zlib_s;
}

void amortised_ids(benchmark::State& state) {
  lil::guardian<> g(default_options());
  constexpr std::size_t per_iteration = 16384;
  // The same text as ids: each distinct 4-byte chunk gets a number in order
  // of first appearance, so the id stream repeats where the text repeats.
  std::vector<lil::token_id> ids(max_tokens);
  std::unordered_map<std::string_view, lil::token_id> vocabulary;
  for (std::size_t i = 0; i < max_tokens; ++i)
    ids[i] = vocabulary.emplace(token(i), static_cast<lil::token_id>(vocabulary.size())).first->second;
  state.counters["vocabulary"] = static_cast<double>(vocabulary.size());
  std::uint64_t accepted = 0;
  for (auto _ : state) {
    if (accepted + per_iteration > max_tokens) {
      state.PauseTiming();
      g.reset();
      accepted = 0;
      state.ResumeTiming();
    }
    for (std::size_t i = 0; i < per_iteration; ++i) benchmark::DoNotOptimize(g.accept_raw_id(ids[accepted + i]));
    accepted += per_iteration;
  }
  state.counters["per_token"] = benchmark::Counter(static_cast<double>(state.iterations() * per_iteration),
                                                   benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

template <class F>
double best_seconds(int repeats, F&& f) {
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = cpu_seconds();
    f();
    best = std::min(best, cpu_seconds() - t0);
  }
  return best;
}

// One check at n tokens: a guardian holding n - f tokens accepts the f tokens
// that end at the check (the per-token copies are part of the cost; they are
// tiny). The prototype is copied back outside the timed region each iteration.
void check_cost(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const auto opts = default_options();
  const std::size_t f = opts.rule.check_every;
  lil::guardian<> prototype(opts);
  for (std::size_t i = 0; i + f < n; ++i) prototype.accept(token(i));
  lil::guardian<> g = prototype;
  double total = 0;
  for (auto _ : state) {
    g = prototype;  // copy-assignment reuses g's buffers; not timed
    const double t0 = cpu_seconds();
    for (std::size_t i = n - f; i < n; ++i) g.accept(token(i));
    benchmark::DoNotOptimize(g.decision());
    const double dt = cpu_seconds() - t0;
    state.SetIterationTime(dt);
    total += dt;
  }
  if (g.decision().last.point.tokens != n) state.SkipWithError("the check did not fall at n");
  const double check = total / static_cast<double>(state.iterations());

  // The baselines, timed here so that they print in the same row.
  const std::string_view prefix = std::string_view(corpus_text()).substr(0, n * bytes_per_token);
  const int repeats = n >= 32000 ? 3 : 20;
  std::uint64_t lil_size = 0, zlib_size = 0;
  const double recompress = best_seconds(
      repeats, [&] { lil_size = lil::deflate::deflate_size(prefix.data(), prefix.size(), opts.deflate_options()); });
  const double zlib = best_seconds(repeats, [&] { zlib_size = zlib_raw_size(prefix.data(), prefix.size(), opts.level); });
  if (lil_size != g.decision().last.point.size) state.SkipWithError("incremental and recompressed sizes differ");
  benchmark::DoNotOptimize(zlib_size);

  state.counters["bytes"] = static_cast<double>(prefix.size());
  state.counters["check_us"] = check * 1e6;
  state.counters["recompress_us"] = recompress * 1e6;
  state.counters["zlib_scratch_us"] = zlib * 1e6;
  state.counters["ratio"] = recompress / check;
}

void state_bytes(benchmark::State& state) {
  const lil::guardian<> g(default_options());
  for (auto _ : state) benchmark::DoNotOptimize(g.state_bytes());
  state.counters["per_sequence_KiB"] = static_cast<double>(g.state_bytes()) / 1024.0;
  state.counters["compressor_KiB"] =
      static_cast<double>(lil::deflate::compressor::state_bytes(default_options().deflate_options())) / 1024.0;
  state.counters["batch_1024_MiB"] = static_cast<double>(1024 * g.state_bytes()) / (1024.0 * 1024.0);
}

// --- ids through a vocabulary: one sequence, and a batch of 1,024 --------------------

// The corpus as ids of a vocabulary whose pieces are its distinct 4-byte
// chunks: the ids decode to exactly the text the text benchmarks accept.
struct id_corpus {
  std::shared_ptr<const lil::vocabulary> vocab;
  std::vector<lil::token_id> ids;
};
const id_corpus& corpus_ids() {
  static const id_corpus c = [] {
    id_corpus r;
    std::unordered_map<std::string_view, lil::token_id> seen;
    std::vector<std::string_view> pieces;
    for (std::size_t i = 0; i < max_tokens; ++i) {
      const auto [it, fresh] = seen.emplace(token(i), static_cast<lil::token_id>(pieces.size()));
      if (fresh) pieces.push_back(token(i));
      r.ids.push_back(it->second);
    }
    r.vocab = std::make_shared<const lil::vocabulary>(pieces);
    return r;
  }();
  return c;
}

void amortised_vocabulary_ids(benchmark::State& state) {
  const auto& c = corpus_ids();
  lil::guardian<> g(default_options(), c.vocab);
  constexpr std::size_t per_iteration = 16384;
  std::size_t next = 0;
  for (auto _ : state) {
    if (next + per_iteration > max_tokens) {
      state.PauseTiming();
      g.reset();
      next = 0;
      state.ResumeTiming();
    }
    for (std::size_t i = 0; i < per_iteration; ++i) benchmark::DoNotOptimize(g.accept_id(c.ids[next + i]));
    next += per_iteration;
  }
  state.counters["per_token"] = benchmark::Counter(static_cast<double>(state.iterations() * per_iteration),
                                                   benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

constexpr std::size_t batch_sequences = 1024;
constexpr std::size_t batch_steps = 4096;  // steps before every sequence starts again

// The step's ids: sequence i reads the corpus from its own offset.
void fill_step(const id_corpus& c, std::size_t step, std::vector<lil::token_id>& ids) {
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = c.ids[(step + i * 97) % max_tokens];
}

// One decode step for 1,024 sequences in one call (guardian_batch::accept_ids).
void batch_step_ids(benchmark::State& state) {
  const auto& c = corpus_ids();
  lil::guardian_batch<> batch(batch_sequences, default_options(), c.vocab);
  std::vector<lil::token_id> ids(batch_sequences);
  std::vector<lil::verdict> verdicts(batch_sequences);
  std::size_t step = 0;
  for (auto _ : state) {
    state.PauseTiming();
    if (step == batch_steps) {
      batch.reset();
      step = 0;
    }
    fill_step(c, step++, ids);
    state.ResumeTiming();
    benchmark::DoNotOptimize(batch.accept_ids(ids.data(), verdicts.data()));
  }
  state.counters["per_sequence_token"] =
      benchmark::Counter(static_cast<double>(state.iterations() * batch_sequences),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// The same step as 1,024 single guardians, each called on its own.
void single_guardians_ids(benchmark::State& state) {
  const auto& c = corpus_ids();
  std::vector<lil::guardian<>> guardians(batch_sequences, lil::guardian<>(default_options(), c.vocab));
  std::vector<lil::token_id> ids(batch_sequences);
  std::size_t step = 0;
  for (auto _ : state) {
    state.PauseTiming();
    if (step == batch_steps) {
      for (auto& g : guardians) g.reset();
      step = 0;
    }
    fill_step(c, step++, ids);
    state.ResumeTiming();
    for (std::size_t i = 0; i < batch_sequences; ++i) benchmark::DoNotOptimize(guardians[i].accept_id(ids[i]));
  }
  state.counters["per_sequence_token"] =
      benchmark::Counter(static_cast<double>(state.iterations() * batch_sequences),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// --- the summary table --------------------------------------------------------------

// Keeps every run's counters (several with --benchmark_repetitions) so that the
// table at the end can quote medians.
struct collector : benchmark::ConsoleReporter {
  std::map<std::string, std::map<std::string, std::vector<double>>> values;  // run -> counter -> values
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration || r.error_occurred) continue;
      auto& v = values[r.run_name.str()];
      for (const auto& [name, counter] : r.counters) v[name].push_back(counter.value);
    }
    ConsoleReporter::ReportRuns(runs);
  }
  double median(const std::string& run, const std::string& counter) const {
    const auto r = values.find(run);
    if (r == values.end()) return 0;
    const auto c = r->second.find(counter);
    if (c == r->second.end() || c->second.empty()) return 0;
    std::vector<double> v = c->second;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }
};

void print_summary(const collector& c) {
  fmt::print("\n== Guardian, one run: 4-byte tokens of {}; CPU time; medians ==\n",
#ifdef LIL_BENCH_TRACES
             "QwQ-32B traces"
#else
             "generated text"
#endif
  );
  fmt::print("{:<38} {:>12} {:>16} {:>8} {:>8}\n", "amortised per accepted token, f = 250", "guardian",
             "zlib once", "ratio", "target");
  for (int profile : {0, 1})
    for (int level : {1, 6, 9}) {
      const std::string run = "amortised/text/f:250/zlib_profile:" + std::to_string(profile) +
                              "/level:" + std::to_string(level) + "/manual_time";
      fmt::print("  {:<36} {:>9.1f} ns {:>13.1f} ns {:>7.2f}x {:>8}\n",
                 fmt::format("text, profile {}, level {}", profile ? "zlib" : "gzip", level),
                 c.median(run, "per_token_ns"), c.median(run, "zlib_once_ns"), c.median(run, "ratio"), "<= 1.10x");
    }
  for (const auto& [run, label] : {std::pair<const char*, const char*>{"amortised/ids/f:250", "raw ids (4 bytes each), gzip, 6"},
                                    {"amortised/vocabulary_ids/f:250", "ids via vocabulary, gzip, 6"}})
    fmt::print("  {:<36} {:>9.1f} ns\n", label, c.median(run, "per_token") * 1e9);

  fmt::print("\n{:<14} {:>14} {:>18} {:>18} {:>10} {:>10}\n", "one check at", "incremental", "recompress (lil)",
             "recompress (zlib)", "ratio", "target");
  for (const char* n : {"1000", "8000", "32000", "128000"}) {
    const std::string run = std::string("check/tokens/") + n + "/manual_time";
    fmt::print("{:<14} {:>11.1f} us {:>15.1f} us {:>15.1f} us {:>9.0f}x {:>10}\n", std::string(n) + " tokens",
               c.median(run, "check_us"), c.median(run, "recompress_us"), c.median(run, "zlib_scratch_us"),
               c.median(run, "ratio"), std::string(n) == "128000" ? ">= 300x" : "");
  }

  const double batched = c.median("batch/ids/sequences:1024/iterations:8192", "per_sequence_token") * 1e9;
  const double single = c.median("single/ids/sequences:1024/iterations:8192", "per_sequence_token") * 1e9;
  fmt::print("\n{:<40} {:>12} {:>12}\n", "a decode step by ids, 1,024 sequences", "ns/seq-token", "ratio");
  fmt::print("  {:<38} {:>12.1f} {:>12}\n", "1,024 single guardians (baseline)", single, "1.00");
  fmt::print("  {:<38} {:>12.1f} {:>12.2f}\n", "one guardian_batch call", batched, single > 0 ? batched / single : 0.0);

  fmt::print("\n{:<40} {:>12} {:>12}\n", "state", "", "target");
  fmt::print("  {:<38} {:>8.1f} KiB {:>12}\n", "per sequence (default options)", c.median("state", "per_sequence_KiB"),
             "<= 300 KiB");
  fmt::print("  {:<38} {:>8.1f} KiB\n", "  of which the compressor (sizes only)", c.median("state", "compressor_KiB"));
  fmt::print("  {:<38} {:>8.1f} MiB\n", "a batch of 1,024 sequences", c.median("state", "batch_1024_MiB"));
}

}  // namespace

BENCHMARK(amortised_text)
    ->Name("amortised/text/f:250")
    ->ArgNames({"zlib_profile", "level"})
    ->ArgsProduct({{0, 1}, {1, 6, 9}})
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(amortised_ids)->Name("amortised/ids/f:250");
BENCHMARK(amortised_vocabulary_ids)->Name("amortised/vocabulary_ids/f:250");
BENCHMARK(batch_step_ids)->Name("batch/ids/sequences:1024")->Iterations(8192);
BENCHMARK(single_guardians_ids)->Name("single/ids/sequences:1024")->Iterations(8192);
BENCHMARK(check_cost)->Name("check/tokens")->Arg(1000)->Arg(8000)->Arg(32000)->Arg(128000)->UseManualTime()
    ->Unit(benchmark::kMicrosecond);
BENCHMARK(state_bytes)->Name("state");

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  collector c;
  benchmark::RunSpecifiedBenchmarks(&c);
  print_summary(c);
  benchmark::Shutdown();
  return 0;
}
