// sampler.hpp: greedy is the arg-max; seeded sampling is reproducible and
// follows the softmax of the scaled logits within the nucleus.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "sampler.hpp"

namespace {

using tiny_llama::sampler;

TEST(tiny_llama_sampler, greedy_takes_the_largest_logit_and_the_lowest_id_on_a_tie) {
  sampler greedy(4);
  const float logits[4] = {0.5f, 2.0f, 2.0f, -1.0f};
  EXPECT_EQ(greedy.sample(logits, 4), 1);
}

TEST(tiny_llama_sampler, the_same_seed_draws_the_same_tokens) {
  const std::vector<float> flat(16, 0.0f);
  sampler a(16, 1.0f, 1.0f, 42), b(16, 1.0f, 1.0f, 42), c(16, 1.0f, 1.0f, 43);
  std::vector<int> da, db, dc;
  for (int i = 0; i < 200; ++i) {
    da.push_back(a.sample(flat.data(), 16));
    db.push_back(b.sample(flat.data(), 16));
    dc.push_back(c.sample(flat.data(), 16));
  }
  EXPECT_EQ(da, db);
  EXPECT_NE(da, dc);
}

TEST(tiny_llama_sampler, draws_follow_the_softmax) {
  // p(1) = 3 / (1 + 3) = 0.75
  const float logits[2] = {0.0f, std::log(3.0f)};
  sampler s(2, 1.0f, 1.0f, 7);
  int ones = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) ones += s.sample(logits, 2);
  EXPECT_NEAR(static_cast<double>(ones) / n, 0.75, 0.02);
}

TEST(tiny_llama_sampler, a_small_nucleus_keeps_only_the_most_likely_token) {
  const float logits[3] = {1.0f, 3.0f, 2.9f};
  sampler s(3, 1.0f, 0.05f, 3);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(s.sample(logits, 3), 1);
}

TEST(tiny_llama_sampler, bad_settings_are_named) {
  EXPECT_THROW(sampler(0), lil::error);
  try {
    sampler(4, -1.0f, 0.9f, 1);
    FAIL() << "no error";
  } catch (const lil::error& e) {
    EXPECT_NE(std::string(e.what()).find("temperature"), std::string::npos);
  }
  try {
    sampler(4, 1.0f, 0.0f, 1);
    FAIL() << "no error";
  } catch (const lil::error& e) {
    EXPECT_NE(std::string(e.what()).find("top_p"), std::string::npos);
  }
}

}  // namespace
