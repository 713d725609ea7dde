// Different guardians on different threads at once: no shared state, so the
// results equal a single-threaded run. Built as its own binary, labelled
// `tsan`, so that CI can build it with -fsanitize=thread and run it alone.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "lil/guardian/batch.hpp"
#include "support/token_streams.hpp"

namespace {

using lil::verdict;

lil::guardian_options opts() {
  lil::guardian_options o;
  o.rule.check_every = 50;
  o.curve_capacity = 128;
  return o;
}

std::vector<std::vector<std::string>> streams(std::size_t n, std::size_t steps) {
  std::vector<std::vector<std::string>> s;
  for (std::size_t i = 0; i < n; ++i)
    s.push_back(i % 3 ? lil::test::looping_stream(300 + i, 200, 6 + i % 5, steps)
                      : lil::test::random_stream(400 + i, steps));
  return s;
}

struct outcome {
  std::uint64_t stopped_at;
  std::uint64_t last_size;
  bool operator==(const outcome& o) const { return stopped_at == o.stopped_at && last_size == o.last_size; }
};

template <class G>
outcome outcome_of(const G& g) {
  const auto d = g.decision();
  return {d.stopped_at, d.last.point.size};
}

TEST(guardian_threads, independent_guardians_on_threads_match_a_serial_run) {
  const std::size_t n = 8, steps = 1200;
  const auto s = streams(n, steps);
  std::vector<outcome> serial;
  for (std::size_t i = 0; i < n; ++i) {
    lil::guardian<> g(opts());
    for (const auto& t : s[i]) g.accept(t);
    serial.push_back(outcome_of(g));
  }
  std::vector<outcome> parallel(n);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < n; ++i)
    threads.emplace_back([&, i] {
      lil::guardian<> g(opts());
      for (const auto& t : s[i]) {
        g.accept(t);
        if (g.tokens() % 97 == 0) {
          // a forked beam, dropped again: clones on many threads at once
          auto fork = g.clone();
          fork.accept("draft");
        }
      }
      parallel[i] = outcome_of(g);
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(parallel, serial);
  std::size_t stopped = 0;
  for (const auto& o : serial) stopped += o.stopped_at != 0;
  EXPECT_GT(stopped, 0u);
}

TEST(guardian_threads, batch_split_across_threads_matches_one_thread) {
  const std::size_t n = 16, steps = 800, workers = 4;
  const auto s = streams(n, steps);
  lil::guardian_batch<> one(n, opts()), split(n, opts());
  std::vector<std::string_view> texts(n);
  std::vector<verdict> a(n), b(n);
  for (std::size_t step = 0; step < steps; ++step) {
    for (std::size_t i = 0; i < n; ++i) texts[i] = s[i][step];
    one.accept_texts(texts.data(), a.data());
    std::vector<std::thread> threads;
    for (std::size_t w = 0; w < workers; ++w)
      threads.emplace_back([&, w] { split.accept_texts(texts.data(), b.data(), w * n / workers, (w + 1) * n / workers); });
    for (auto& t : threads) t.join();
    ASSERT_EQ(a, b) << "step " << step;
  }
  EXPECT_EQ(one.stopped_count(), split.stopped_count());
  EXPECT_GT(one.stopped_count(), 0u);
}

}  // namespace
