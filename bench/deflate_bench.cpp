// lil's DEFLATE engine beside zlib, in one run and one table.
//
//   full compression  MB/s of lil and of zlib at levels 1, 6, 9 on corpus files
//                     (lil's output is byte-identical to zlib's in profile zlib
//                     and to gzip's in profile gzip; both profiles are timed)
//   size report       one incremental report after 1 KiB of new input, at
//                     prefixes of 16 KiB .. 4 MiB, beside recompressing the
//                     whole prefix with zlib (what the paper's Guardian does)
//   state             bytes of state per compressor
//
// Run: build/bin/deflate_bench --benchmark_repetitions=5 (medians; plain: one run each)
// The summary table at the end is the one the README quotes.
#include <benchmark/benchmark.h>
#include <fmt/core.h>
#include <zlib.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "lil/deflate/compressor.hpp"

namespace {

using bytes = std::vector<unsigned char>;

bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return bytes(std::istreambuf_iterator<char>(in), {});
}

// Text-like filler, for when the corpus is not available.
bytes generated_text(std::size_t n) {
  std::mt19937 rng(7);
  std::vector<std::string> words;
  for (int i = 0; i < 400; ++i) {
    std::string w;
    for (unsigned j = 0, len = 2 + rng() % 8; j < len; ++j) w.push_back(static_cast<char>('a' + rng() % 26));
    words.push_back(w);
  }
  bytes b;
  while (b.size() < n) {
    const std::string& w = words[rng() % words.size()];
    b.insert(b.end(), w.begin(), w.end());
    b.push_back(' ');
  }
  b.resize(n);
  return b;
}

std::string corpus_dir() {
  if (const char* env = std::getenv("LIL_CORPUS")) return env;
#ifdef LIL_BENCH_CORPUS
  return LIL_BENCH_CORPUS;
#else
  return "";
#endif
}

const std::map<std::string, bytes>& inputs() {
  static const std::map<std::string, bytes> files = [] {
    std::map<std::string, bytes> m;
    std::string dir = corpus_dir();
    bytes all;
    for (const char* name : {"alice29.txt", "kennedy.xls", "ptt5", "cp.html", "lcet10.txt", "plrabn12.txt",
                             "asyoulik.txt", "fields.c", "grammar.lsp", "sum", "xargs.1"}) {
      bytes b = dir.empty() ? bytes{} : read_file(dir + "/" + name);
      if (b.empty()) continue;
      all.insert(all.end(), b.begin(), b.end());
      if (std::string(name) == "alice29.txt" || std::string(name) == "kennedy.xls" || std::string(name) == "ptt5")
        m[name] = std::move(b);
    }
    if (all.empty()) all = generated_text(2 << 20);
    m["corpus (all 11)"] = std::move(all);
    return m;
  }();
  return files;
}

std::size_t zlib_raw_size(const unsigned char* data, std::size_t n, int level, bytes& scratch) {
  z_stream z{};
  deflateInit2(&z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  scratch.resize(deflateBound(&z, n));
  z.next_in = const_cast<unsigned char*>(data);
  z.avail_in = static_cast<uInt>(n);
  z.next_out = scratch.data();
  z.avail_out = static_cast<uInt>(scratch.size());
  deflate(&z, Z_FINISH);
  std::size_t size = z.total_out;
  deflateEnd(&z);
  return size;
}

// --- full compression ----------------------------------------------------------

// lil (both profiles) and zlib take turns inside one benchmark, iteration by
// iteration, so that a noisy neighbour or a clock change hits all three alike.
// The benchmark's own time is lil's (profile zlib); counters carry the rest.
void compress_side_by_side(benchmark::State& state, const std::string& file, int level) {
  using clock = std::chrono::steady_clock;
  const bytes& data = inputs().at(file);
  lil::deflate::options as_zlib, as_gzip;
  as_zlib.level = as_gzip.level = level;
  as_zlib.profile = lil::deflate::profile::zlib;
  as_gzip.profile = lil::deflate::profile::gzip;
  bytes scratch;
  double lil_zlib_s = 0, lil_gzip_s = 0, zlib_s = 0;
  for (auto _ : state) {
    auto t0 = clock::now();
    bytes a = lil::deflate::compress(data.data(), data.size(), as_zlib);
    auto t1 = clock::now();
    bytes b = lil::deflate::compress(data.data(), data.size(), as_gzip);
    auto t2 = clock::now();
    std::size_t z = zlib_raw_size(data.data(), data.size(), level, scratch);
    auto t3 = clock::now();
    benchmark::DoNotOptimize(a.data());
    benchmark::DoNotOptimize(b.data());
    benchmark::DoNotOptimize(z);
    lil_zlib_s += std::chrono::duration<double>(t1 - t0).count();
    lil_gzip_s += std::chrono::duration<double>(t2 - t1).count();
    zlib_s += std::chrono::duration<double>(t3 - t2).count();
    state.SetIterationTime(std::chrono::duration<double>(t1 - t0).count());
  }
  const double mb = static_cast<double>(data.size()) * static_cast<double>(state.iterations()) / 1e6;
  state.counters["lil_zlib_MBps"] = mb / lil_zlib_s;
  state.counters["lil_gzip_MBps"] = mb / lil_gzip_s;
  state.counters["zlib_MBps"] = mb / zlib_s;
}

// --- size reports -------------------------------------------------------------------

bytes& long_text() {
  static bytes text = [] {
    const bytes& corpus = inputs().at("corpus (all 11)");
    bytes t;
    while (t.size() < (4u << 20) + (64u << 10)) t.insert(t.end(), corpus.begin(), corpus.end());
    return t;
  }();
  return text;
}

// The cost of feeding 1 KiB and asking for the size, with a prefix of
// state.range(0) bytes already fed.
void lil_report_after_1KiB(benchmark::State& state, lil::deflate::profile p) {
  const bytes& text = long_text();
  const std::size_t prefix = static_cast<std::size_t>(state.range(0));
  lil::deflate::options o;
  o.level = 6;
  o.profile = p;
  o.keep_output = false;
  lil::deflate::compressor base(o);
  base.feed(text.data(), prefix);
  lil::deflate::compressor c = base;
  std::size_t at = prefix;
  for (auto _ : state) {
    if (at + 1024 > text.size()) {
      state.PauseTiming();
      c = base;
      at = prefix;
      state.ResumeTiming();
    }
    c.feed(text.data() + at, 1024);
    at += 1024;
    benchmark::DoNotOptimize(c.size_if_finished());
  }
}

// The report alone: the tail parse and the open block's pricing, with no new input.
void lil_report_only(benchmark::State& state, lil::deflate::profile p) {
  const bytes& text = long_text();
  lil::deflate::options o;
  o.level = 6;
  o.profile = p;
  o.keep_output = false;
  lil::deflate::compressor c(o);
  c.feed(text.data(), static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(c.size_if_finished());
}

void zlib_recompress_prefix(benchmark::State& state) {
  const bytes& text = long_text();
  const std::size_t prefix = static_cast<std::size_t>(state.range(0));
  bytes out;
  for (auto _ : state) benchmark::DoNotOptimize(zlib_raw_size(text.data(), prefix + 1024, 6, out));
}

// --- registration and the summary table ----------------------------------------------

struct collector : benchmark::ConsoleReporter {
  std::map<std::string, double> real_ns;     // name -> ns per iteration
  std::map<std::string, std::map<std::string, double>> counters;  // name -> counter -> value
  void ReportRuns(const std::vector<Run>& runs) override {
    // With --benchmark_repetitions the median is kept (it arrives after the
    // single runs); without, the one run.
    for (const Run& r : runs) {
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (!(r.run_type == Run::RT_Iteration || median) || r.iterations == 0) continue;
      std::string name = r.run_name.str();
      const std::string manual = "/manual_time";
      if (name.size() > manual.size() && name.compare(name.size() - manual.size(), manual.size(), manual) == 0)
        name.resize(name.size() - manual.size());
      real_ns[name] = r.real_accumulated_time / static_cast<double>(r.iterations) * 1e9;
      for (const auto& [key, counter] : r.counters) counters[name][key] = counter.value;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

const std::vector<long> report_prefixes = {16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20};

void register_all() {
  for (const auto& [file, data] : inputs()) {
    for (int level : {1, 6, 9}) {
      std::string tag = file + "/" + std::to_string(level);
      benchmark::RegisterBenchmark(("compress/" + tag).c_str(), compress_side_by_side, file, level)
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  for (long prefix : report_prefixes) {
    benchmark::RegisterBenchmark("report/lil-gzip", lil_report_after_1KiB, lil::deflate::profile::gzip)
        ->Arg(prefix)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("report/lil-zlib", lil_report_after_1KiB, lil::deflate::profile::zlib)
        ->Arg(prefix)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("report-only/lil-gzip", lil_report_only, lil::deflate::profile::gzip)
        ->Arg(prefix)
        ->Unit(benchmark::kMicrosecond);
    benchmark::RegisterBenchmark("report/zlib-recompress", zlib_recompress_prefix)
        ->Arg(prefix)
        ->Unit(benchmark::kMicrosecond);
  }
}

// What deflateInit2 allocates, counted through zlib's allocator hook.
std::size_t zlib_state_bytes() {
  static std::size_t total;
  total = 0;
  z_stream z{};
  z.zalloc = [](voidpf, uInt items, uInt size) -> voidpf {
    total += std::size_t{items} * size;
    return std::calloc(items, size);
  };
  z.zfree = [](voidpf, voidpf p) { std::free(p); };
  deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  deflateEnd(&z);
  return total;
}

void print_summary(const collector& c) {
  auto counter = [&](const std::string& name, const char* key) {
    auto it = c.counters.find(name);
    if (it == c.counters.end()) return 0.0;
    auto k = it->second.find(key);
    return k == it->second.end() ? 0.0 : k->second;
  };
  fmt::print("\n== lil vs zlib, same run (turns taken per iteration) ==\n");
  fmt::print("{:<18} {:>5} {:>10} {:>14} {:>14} {:>10} {:>10}\n", "input", "level", "zlib MB/s", "lil-zlib MB/s",
             "lil-gzip MB/s", "zlib-prof", "gzip-prof");
  for (const auto& [file, data] : inputs()) {
    for (int level : {1, 6, 9}) {
      std::string name = "compress/" + file + "/" + std::to_string(level);
      double z = counter(name, "zlib_MBps"), lz = counter(name, "lil_zlib_MBps"), lg = counter(name, "lil_gzip_MBps");
      if (z <= 0) continue;
      fmt::print("{:<18} {:>5} {:>10.1f} {:>14.1f} {:>14.1f} {:>9.2f}x {:>9.2f}x\n", file, level, z, lz, lg, lz / z,
                 lg / z);
    }
  }
  fmt::print("\nlevel 6; lil columns: feed 1 KiB, then report; (report alone); zlib: recompress prefix + 1 KiB\n");
  fmt::print("{:<10} {:>16} {:>16} {:>14} {:>18} {:>8}\n", "prefix", "lil-gzip", "lil-zlib", "(report alone)",
             "zlib recompress", "ratio");
  for (long prefix : report_prefixes) {
    std::string arg = "/" + std::to_string(prefix);
    auto ns = [&](const std::string& name) {
      auto it = c.real_ns.find(name + arg);
      return it == c.real_ns.end() ? 0.0 : it->second;
    };
    double g = ns("report/lil-gzip"), z = ns("report/lil-zlib"), alone = ns("report-only/lil-gzip"),
           r = ns("report/zlib-recompress");
    if (g <= 0) continue;
    fmt::print("{:<10} {:>13.1f} us {:>13.1f} us {:>11.1f} us {:>15.1f} us {:>7.0f}x\n",
               fmt::format("{} KiB", prefix >> 10), g / 1e3, z / 1e3, alone / 1e3, r / 1e3, r / g);
  }
  fmt::print("\n{:<34} {:>10}\n", "state per compressor", "bytes");
  for (bool keep : {true, false})
    for (auto p : {lil::deflate::profile::gzip, lil::deflate::profile::zlib}) {
      lil::deflate::options o;
      o.profile = p;
      o.keep_output = keep;
      fmt::print("{:<34} {:>10}\n",
                 fmt::format("{} profile, {}", lil::deflate::profile_name(p), keep ? "output kept" : "sizes only"),
                 lil::deflate::compressor::state_bytes(o));
    }
  fmt::print("{:<34} {:>10}\n", "zlib deflate state (memLevel 8)", zlib_state_bytes());
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  register_all();
  collector c;
  benchmark::RunSpecifiedBenchmarks(&c);
  print_summary(c);
  benchmark::Shutdown();
  return 0;
}
