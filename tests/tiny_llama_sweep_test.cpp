// sweep.hpp: the measuring loop of `lil demo`. Every policy runs through the
// real model at every demo budget with Guardian observing; the results do not
// depend on the thread count; a configuration the policy rejects fails before
// any decoding.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

#include "sweep.hpp"
#include "tiny_llama_test_support.hpp"

namespace {

using namespace tiny_llama_test;

std::vector<std::string> prompts(std::size_t n) {
  std::vector<std::string> p;
  for (std::size_t i = 0; i < n; ++i) p.push_back(models().problems[i].prompt);
  return p;
}

tiny_llama::sweep_options options(int cap, int threads) {
  tiny_llama::sweep_options o;
  o.max_new_tokens = cap;
  o.threads = threads;
  o.guardian.rule.check_every = 25;
  o.guardian.rule.min_gain = 2;
  return o;
}

const auto no_score = [](std::size_t, std::size_t, const tiny_llama::sequence_run&, tiny_llama::state&) {};
const auto no_progress = [](std::size_t, std::size_t) {};

TEST(tiny_llama_sweep, every_policy_runs_through_the_model_at_every_demo_budget) {
  std::vector<tiny_llama::sweep_config> configs{tiny_llama::demo_config("full", 0)};
  for (const char* policy : {"sink", "h2o", "quest", "snapkv", "tova"})
    for (int budget : {16, 32, 64, 128}) configs.push_back(tiny_llama::demo_config(policy, budget));
  std::atomic<std::size_t> scored{0};  // score runs on the workers, concurrently
  std::size_t last_done = 0;
  const auto runs = tiny_llama::run_sweep(
      models().model, models().tok, prompts(1), configs, options(120, 2),
      [&](std::size_t, std::size_t, const tiny_llama::sequence_run&, tiny_llama::state&) { ++scored; },
      [&](std::size_t done, std::size_t total) {
        EXPECT_EQ(total, configs.size());
        EXPECT_GE(done, last_done);
        last_done = done;
      });
  ASSERT_EQ(runs.size(), configs.size());
  EXPECT_EQ(last_done, configs.size());
  EXPECT_EQ(scored.load(), configs.size());
  for (std::size_t c = 0; c < configs.size(); ++c) {
    SCOPED_TRACE(configs[c].policy + ":" + std::to_string(configs[c].budget));
    ASSERT_EQ(runs[c].size(), 1u);
    const auto& r = runs[c][0];
    EXPECT_FALSE(r.tokens.empty());
    EXPECT_LE(r.tokens.size(), 120u);
    EXPECT_GT(r.kv_bytes, 0u);
    EXPECT_GT(r.decode_seconds, 0);
    EXPECT_LE(r.tokens_with_guardian(), r.tokens.size());
    EXPECT_LE(r.seconds_with_guardian(), r.seconds());
  }
}

TEST(tiny_llama_sweep, snapkv_fits_its_observation_window_into_small_budgets) {
  for (int budget : {16, 32, 64, 128}) {
    const auto c = tiny_llama::demo_config("snapkv", budget);
    const auto& o = std::get<lil::kv::snapkv_options>(c.spec.options);
    EXPECT_EQ(o.window, std::min(32, budget / 2)) << budget;
    EXPECT_EQ(c.budget, budget);
  }
  EXPECT_EQ(tiny_llama::demo_config("full", 64).budget, 0);
}

TEST(tiny_llama_sweep, results_do_not_depend_on_the_thread_count) {
  const std::vector<tiny_llama::sweep_config> configs{tiny_llama::demo_config("full", 0),
                                                      tiny_llama::demo_config("sink", 16),
                                                      tiny_llama::demo_config("h2o", 32)};
  const auto one = tiny_llama::run_sweep(models().model, models().tok, prompts(3), configs, options(100, 1), no_score,
                                         no_progress);
  const auto three = tiny_llama::run_sweep(models().model, models().tok, prompts(3), configs, options(100, 3), no_score,
                                           no_progress);
  for (std::size_t c = 0; c < configs.size(); ++c)
    for (std::size_t p = 0; p < 3; ++p) {
      EXPECT_EQ(one[c][p].tokens, three[c][p].tokens) << c << " " << p;
      EXPECT_EQ(one[c][p].guardian.stop, three[c][p].guardian.stop) << c << " " << p;
      EXPECT_EQ(one[c][p].kv_bytes, three[c][p].kv_bytes) << c << " " << p;
    }
}

TEST(tiny_llama_sweep, a_configuration_the_policy_rejects_fails_before_decoding) {
  int scored = 0;
  const std::vector<tiny_llama::sweep_config> configs{tiny_llama::demo_config("full", 0),
                                                      tiny_llama::demo_config("sink", 2)};
  EXPECT_THROW(tiny_llama::run_sweep(
                   models().model, models().tok, prompts(1), configs, options(50, 1),
                   [&](std::size_t, std::size_t, const tiny_llama::sequence_run&, tiny_llama::state&) { ++scored; },
                   no_progress),
               lil::error);
  EXPECT_EQ(scored, 0);
  EXPECT_THROW(tiny_llama::run_sweep(models().model, models().tok, prompts(1), configs, options(50, 0), no_score,
                                     no_progress),
               lil::error);
}

}  // namespace
