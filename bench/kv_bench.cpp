// kv_bench - decode-step latency of every KV policy against Full, one table.
//
// One decode step of one layer (32 query heads, 8 KV heads, head_dim 128,
// fp32, budget 1024) at contexts 1k..64k, through the batched planner
// (planner.hpp) as an engine drives it: planner step (append the new token,
// select, fill the block table), write its K/V, run the reference attention
// over the table, observe. The cache is first brought to
// the context: every policy gets the same random keys and values through
// append() (SnapKV also runs its 32-token observation window through full
// steps and prefill_done(), so its decode steps read the compressed prompt).
// Each measured run then times `kSteps` consecutive steps around the nominal
// context (it starts kSteps/2 tokens before it), `kRuns` times from a fresh
// state; the summary uses the median run.
//
// Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so that other
// processes on a shared machine do not count; Google Benchmark's own columns
// are process CPU time too.
//
// "bookkeeping" is everything in the step outside the attention call
// (the planner's step and observe, the K/V write): an upper bound of the
// policy's own share. Quest's page scoring is counted there: it is the policy's work.
// "of which select()" times select() alone (run once more after the step
// with the same query), which for Quest is the page scoring and selection.
// For Quest a second table gives the floor of that scoring on this machine:
// one plain pass that only sums the page-bound arrays' 32-bit words (both
// bounds, every page, in the planner's own state buffer), timed the same way
// after each step.
//
// Run: build/bin/kv_bench  (Google Benchmark flags work, e.g.
//      --benchmark_filter=quest); the table is printed at the end.
#include <benchmark/benchmark.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "lil/kv/cache.hpp"
#include "lil/kv/planner.hpp"

namespace kv = lil::kv;

namespace {

constexpr int kHeads = 32, kKvHeads = 8, kDim = 128, kBudget = 1024;
constexpr int kSteps = 32, kRuns = 5;
const int kContexts[] = {1024, 4096, 16384, 32768, 65536};
// quest-max: Quest with the max GQA fold instead of the default mean;
// quest-bf16: Quest with its page bounds stored in bf16 instead of fp32.
const char* const kPolicies[] = {"full", "sink", "h2o", "quest", "quest-max", "quest-bf16", "snapkv", "tova"};

// xorshift: filling 64k tokens of K/V with std::normal_distribution would
// dominate the run; uniform values in [-1, 1) do as well for timing.
struct fast_random {
  std::uint64_t s = 0x9E3779B97F4A7C15ull;
  float next() noexcept {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<float>(static_cast<std::int32_t>(s >> 32)) * (1.0f / 2147483648.0f);
  }
  void fill(std::vector<float>& v) noexcept {
    for (auto& x : v) x = next();
  }
};

kv::policy_spec spec_for(const std::string& name) {
  kv::policy_spec spec;
  if (name == "full") {
    spec = kv::policy_spec::full();
  } else if (name == "quest-max" || name == "quest-bf16") {
    kv::quest_options o;
    o.budget = kBudget;
    if (name == "quest-max") o.gqa = kv::reduction::max;
    if (name == "quest-bf16") o.bounds = kv::bound_format::bf16;
    spec = o;
  } else {
    spec = kv::policy_spec::parse(name + ":" + std::to_string(kBudget));
  }
  spec.skip_first_layers = 0;  // the benchmark measures one sparse layer
  return spec;
}

double thread_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

struct sample {
  double step_us = 0;
  double bookkeeping_share = 0;
  double select_share = 0;
  double read_per_head = 0;
  double bounds_mib = 0;      // Quest: both page-bound arrays
  double bounds_read_us = 0;  // Quest: one plain pass over them, alone
};
std::map<std::pair<std::string, int>, std::vector<sample>> g_samples;

struct layer_under_test {
  kv::planner pl;
  kv::policy* p;  // the planner's sequence 0
  kv::kv_store store;
  std::vector<float> weights;
  std::vector<float> q, k, v, out;
  fast_random rng;

  // Quest's page bounds as raw 32-bit words (fp32 or two bf16 each).
  struct words {
    const std::uint32_t* data = nullptr;
    std::size_t n = 0;
  };
  words bound_words(const char* name) const {
    const kv::state_array a = pl.state(name);
    if (a.name == nullptr) return {};
    return {static_cast<const std::uint32_t*>(a.data), a.elements * a.element_size / 4};
  }
  // The floor of page scoring: every bound read once, nothing else.
  std::uint32_t read_bounds() const {
    std::uint32_t total = 0;
    for (const char* name : {"quest.page_max", "quest.page_min", "quest.page_max16", "quest.page_min16"}) {
      const words w = bound_words(name);
      // Four independent 16-byte adds per 64 bytes (SSE2 on every x86-64).
      typedef std::uint32_t v4u __attribute__((vector_size(16), aligned(4), may_alias));
      v4u lane[4] = {};
      std::size_t i = 0;
      for (; i + 16 <= w.n; i += 16)
        for (int j = 0; j < 4; ++j) lane[j] += *reinterpret_cast<const v4u*>(w.data + i + 4 * j);
      for (; i < w.n; ++i) total += w.data[i];
      for (const v4u& x : lane) total += x[0] + x[1] + x[2] + x[3];
    }
    return total;
  }
  double bounds_bytes() const {
    double b = 0;
    for (const char* name : {"quest.page_max", "quest.page_min", "quest.page_max16", "quest.page_min16"})
      b += 4.0 * static_cast<double>(bound_words(name).n);
    return b;
  }

  layer_under_test(const std::string& name, int context)
      : pl(spec_for(name), shape(context), 0, /*max_batch=*/1),
        p(&pl.sequence(0)),
        store(kKvHeads, pl.capacity(), kDim),
        weights(static_cast<std::size_t>(kHeads) * static_cast<std::size_t>(pl.max_selected())),
        q(kHeads * kDim),
        k(kKvHeads * kDim),
        v(kKvHeads * kDim),
        out(kHeads * kDim) {}

  static kv::model_shape shape(int context) {
    kv::model_shape s;
    s.n_heads = kHeads;
    s.n_kv_heads = kKvHeads;
    s.head_dim = kDim;
    s.max_context = context + kSteps;
    return s;
  }

  // Filling the context: the sequence's own append (no select), so that
  // Quest does not rank pages for every one of 64k warm-up tokens.
  void append_only(std::int64_t pos) {
    rng.fill(k);
    rng.fill(v);
    const auto& r = p->append(pos, k.data());
    for (int h = 0; h < kKvHeads; ++h) store.write(h, r.slot[h], &k[h * kDim], &v[h * kDim]);
  }

  // One decode step; returns the nanoseconds spent inside attention.
  double step(std::int64_t pos) {
    rng.fill(q);
    rng.fill(k);
    rng.fill(v);
    const std::int32_t seq = 0;
    const kv::planner_rows rows{&seq, &pos, 1, k.data(), q.data()};
    const kv::step_plan& plan = pl.step(rows);
    const std::int32_t* heads[kKvHeads];
    std::int32_t counts[kKvHeads];
    for (int h = 0; h < kKvHeads; ++h) {
      store.write(h, plan.slots_of(0)[h], &k[h * kDim], &v[h * kDim]);
      heads[h] = plan.table(0, h);
      counts[h] = plan.count(0, h);
    }
    kv::attention_args a;
    a.query = q.data();
    a.out = out.data();
    a.weights = weights.data();
    a.weights_stride = static_cast<std::size_t>(pl.max_selected());
    a.weights_wanted = p->requirements().weights;
    a.selected = kv::slot_lists(heads, counts, kKvHeads);
    a.n_heads = kHeads;
    a.n_kv_heads = kKvHeads;
    a.head_dim = kDim;
    a.position = pos;
    const double t0 = thread_ns();
    kv::reference_attention(store.view())(a);
    const double attention_ns = thread_ns() - t0;
    if (a.weights_wanted) pl.observe(weights.data(), a.weights_stride);
    return attention_ns;
  }
};

void bm_decode_step(benchmark::State& state, std::string name, int context) {
  layer_under_test layer(name, context);
  const int start = context - kSteps / 2;
  const int window = name == "snapkv" ? kv::snapkv_options{}.window : 0;
  for (int pos = 0; pos < start - window; ++pos) layer.append_only(pos);
  for (int pos = start - window; pos < start; ++pos) layer.step(pos);  // SnapKV's observation window
  kv::apply_moves(layer.store, layer.pl.prefill_done(0));  // SnapKV compacts its cache

  std::int64_t pos = start;
  double attention_ns = 0, total_ns = 0, select_ns = 0, read = 0, bounds_ns = 0;
  const bool quest = layer.bounds_bytes() > 0;
  for (auto _ : state) {
    const double t0 = thread_ns();
    attention_ns += layer.step(pos++);
    const double t1 = thread_ns();
    total_ns += t1 - t0;
    read += layer.p->last_selection().head(0).size;
    benchmark::DoNotOptimize(layer.out.data());
    // select() once more with the same query, timed alone: it only rewrites
    // the selection, so the policy's state is unchanged.
    state.PauseTiming();
    const double t2 = thread_ns();
    layer.p->select(layer.q.data());
    select_ns += thread_ns() - t2;
    if (quest) {
      const double t3 = thread_ns();
      benchmark::DoNotOptimize(layer.read_bounds());
      bounds_ns += thread_ns() - t3;
    }
    state.ResumeTiming();
  }
  const double steps = static_cast<double>(state.iterations());
  sample s{total_ns / steps / 1000.0, (total_ns - attention_ns) / total_ns, select_ns / total_ns, read / steps,
           layer.bounds_bytes() / (1024.0 * 1024.0), bounds_ns / steps / 1000.0};
  g_samples[{name, context}].push_back(s);
  state.counters["bookkeeping_%"] = 100.0 * s.bookkeeping_share;
  state.counters["select_%"] = 100.0 * s.select_share;
  state.counters["read/head"] = s.read_per_head;
  const auto memory = layer.p->memory();
  state.counters["kv_MiB"] = static_cast<double>(memory.kv_bytes) / (1024.0 * 1024.0);
}

sample median(std::vector<sample> v) {
  std::sort(v.begin(), v.end(), [](const sample& a, const sample& b) { return a.step_us < b.step_us; });
  return v[v.size() / 2];
}

void print_table() {
  std::printf("\n== kv policies: one decode step of one layer ==\nkv decode step, one layer: %d query heads, %d KV heads, head_dim %d, fp32, budget %d, reference attention\n",
              kHeads, kKvHeads, kDim, kBudget);
  std::printf("thread CPU time, median of %d runs of %d steps each; bookkeeping = step time outside the attention call\n\n", kRuns,
              kSteps);
  std::printf("| context | policy | step (us) | speed-up vs Full | bookkeeping share | of which select() | tokens read per KV head |\n");
  std::printf("|--------:|:-------|----------:|-----------------:|------------------:|------------------:|------------------------:|\n");
  for (int ctx : kContexts) {
    const auto full_it = g_samples.find({"full", ctx});
    for (const char* name : kPolicies) {
      const auto it = g_samples.find({name, ctx});
      if (it == g_samples.end()) continue;
      const sample s = median(it->second);
      char ratio[32] = "-";
      if (full_it != g_samples.end()) std::snprintf(ratio, sizeof ratio, "%.1fx", median(full_it->second).step_us / s.step_us);
      std::printf("| %dk | %s | %.0f | %s | %.1f%% | %.1f%% | %.0f |\n", ctx / 1024, name, s.step_us, ratio,
                  100.0 * s.bookkeeping_share, 100.0 * s.select_share, s.read_per_head);
    }
  }
  bool header = false;
  for (int ctx : kContexts)
    for (const char* name : kPolicies) {
      const auto it = g_samples.find({name, ctx});
      if (it == g_samples.end() || it->second[0].bounds_mib == 0) continue;
      if (!header) {
        std::printf("\n== quest: the page bounds read alone ==\n");
        std::printf("one plain pass summing both bound arrays (every page) after each step, thread CPU time, the run above\n\n");
        std::printf("| context | policy | bounds (MiB) | bounds read alone (us) | its share of the step | select() (us) |\n");
        std::printf("|--------:|:-------|-------------:|-----------------------:|----------------------:|--------------:|\n");
        header = true;
      }
      const sample s = median(it->second);
      std::printf("| %dk | %s | %.1f | %.0f | %.1f%% | %.0f |\n", ctx / 1024, name, s.bounds_mib, s.bounds_read_us,
                  100.0 * s.bounds_read_us / s.step_us, s.select_share * s.step_us);
    }
}

}  // namespace

int main(int argc, char** argv) {
  for (int ctx : kContexts)
    for (const char* name : kPolicies)
      benchmark::RegisterBenchmark(("decode_step/" + std::string(name) + "/" + std::to_string(ctx)).c_str(),
                                   bm_decode_step, std::string(name), ctx)
          ->Iterations(kSteps)
          ->Repetitions(kRuns)
          ->ReportAggregatesOnly(true)
          ->Unit(benchmark::kMicrosecond);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  print_table();
  return 0;
}
