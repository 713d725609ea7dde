// The decoder on a real pretrained model, llama2.c's stories260K (test data
// under LIL_SHARED_DIR, never committed): logits match the PyTorch reference,
// the tokenizer matches the reference encoder, greedy stories are
// reproducible and the story measurements behave.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "eval.hpp"
#include "tiny_llama_test_support.hpp"

namespace {

using namespace tiny_llama_test;

const std::string dir = std::string(LIL_SHARED_DIR) + "/models/stories260K";

TEST(tiny_llama_stories260K, logits_match_the_pytorch_reference) {
  const auto fixture = read_json(data_dir() + "/tiny_llama_logits_stories260K.json");
  const auto model = tiny_llama::checkpoint::from_file(dir + "/stories260K.bin");
  EXPECT_LT(model.cfg().n_kv_heads, model.cfg().n_heads);
  tiny_llama::state s(model.cfg());
  const auto tokens = fixture["tokens"].get<std::vector<int>>();
  const auto positions = fixture["positions"].get<std::vector<int>>();
  const auto expected = fixture["logits"].get<std::vector<std::vector<double>>>();
  std::size_t checked = 0;
  for (int p = 0; p < static_cast<int>(tokens.size()); ++p) {
    const float* logits = s.forward(model, tokens[static_cast<std::size_t>(p)], p);
    for (std::size_t k = 0; k < positions.size(); ++k) {
      if (positions[k] != p) continue;
      double worst = 0;
      for (int v = 0; v < model.cfg().vocab_size; ++v)
        worst = std::max(worst, std::fabs(static_cast<double>(logits[v]) - expected[k][static_cast<std::size_t>(v)]));
      EXPECT_LE(worst, 1e-4) << "position " << p;
      std::printf("position %d: largest |C++ - reference| logit difference %.3g\n", p, worst);
      ++checked;
    }
  }
  EXPECT_EQ(checked, positions.size());
}

TEST(tiny_llama_stories260K, the_tokenizer_encodes_as_the_reference_encoder) {
  const auto fixture = read_json(data_dir() + "/tiny_llama_logits_stories260K.json");
  const auto tok = tiny_llama::tokenizer::from_file(dir + "/tok512.bin");
  const auto tokens = tok.encode(fixture["prompt"].get<std::string>(), true, false);
  EXPECT_EQ(tokens, fixture["tokens"].get<std::vector<int>>());
  const std::vector<int> body(tokens.begin() + 1, tokens.end());
  EXPECT_EQ(tok.decode_all(body, tiny_llama::bos_token), fixture["prompt"].get<std::string>());
}

TEST(tiny_llama_stories260K, greedy_stories_are_reproducible_and_measured) {
  const auto model = tiny_llama::checkpoint::from_file(dir + "/stories260K.bin");
  const auto tok = tiny_llama::tokenizer::from_file(dir + "/tok512.bin");
  const std::vector<std::string> prompts = {"Once upon a time", "Tom had a big red ball"};
  const auto a = tiny_llama::evaluate_stories(model, tok, prompts, {200, 1});
  const auto b = tiny_llama::evaluate_stories(model, tok, prompts, {200, 2});
  for (std::size_t i = 0; i < prompts.size(); ++i) {
    EXPECT_EQ(a.outcomes[i].tokens, b.outcomes[i].tokens);
    EXPECT_FALSE(a.outcomes[i].tokens.empty());
    EXPECT_LE(a.outcomes[i].tokens.size(), 200u);
    EXPECT_GE(a.outcomes[i].perplexity, 1.0);
    EXPECT_GE(a.outcomes[i].repetition, 0.0);
    EXPECT_LE(a.outcomes[i].repetition, 1.0);
  }
  EXPECT_TRUE(std::isfinite(a.mean_perplexity));
}

TEST(tiny_llama_stories260K, seeded_sampling_is_reproducible_and_differs_from_greedy) {
  const auto model = tiny_llama::checkpoint::from_file(dir + "/stories260K.bin");
  const auto tok = tiny_llama::tokenizer::from_file(dir + "/tok512.bin");
  const auto prompt = tok.encode("Once upon a time", true, false);
  auto sample = [&](float temperature, std::uint64_t seed) {
    tiny_llama::state s(model.cfg());
    tiny_llama::sampler pick(model.cfg().vocab_size, temperature, 0.9f, seed);
    tiny_llama::dense_session session;
    return tiny_llama::generate(model, s, prompt, 120, pick, session).tokens;
  };
  EXPECT_EQ(sample(1.0f, 5), sample(1.0f, 5));
  EXPECT_NE(sample(1.0f, 5), sample(0.0f, 0));
}

}  // namespace
