// model.hpp: the fp32 forward pass matches a PyTorch float64 reference
// (src/decoder/reference.py) within 1e-4, and the attention seam's
// two entry points agree.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "model.hpp"
#include "tiny_llama_test_support.hpp"
#include "tokenizer.hpp"

// Built twice: as is, and with TINY_LLAMA_PORTABLE_MATH (the plain-loop path).
#ifdef TINY_LLAMA_PORTABLE_MATH
#define MODEL_SUITE tiny_llama_model_portable
#else
#define MODEL_SUITE tiny_llama_model
#endif

namespace {

using namespace tiny_llama_test;

// Runs the fixture's tokens and compares the logits at its stored positions.
void expect_logits_match(const std::string& model_path, const std::string& fixture_path) {
  const auto fixture = read_json(fixture_path);
  const auto model = tiny_llama::checkpoint::from_file(model_path);
  tiny_llama::state s(model.cfg());
  const auto tokens = fixture["tokens"].get<std::vector<int>>();
  const auto positions = fixture["positions"].get<std::vector<int>>();
  const auto expected = fixture["logits"].get<std::vector<std::vector<double>>>();
  ASSERT_EQ(positions.size(), expected.size());
  std::size_t checked = 0;
  for (int p = 0; p < static_cast<int>(tokens.size()); ++p) {
    const float* logits = s.forward(model, tokens[static_cast<std::size_t>(p)], p);
    for (std::size_t k = 0; k < positions.size(); ++k) {
      if (positions[k] != p) continue;
      ASSERT_EQ(expected[k].size(), static_cast<std::size_t>(model.cfg().vocab_size));
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

TEST(MODEL_SUITE, reasoner_logits_match_the_pytorch_reference) {
  expect_logits_match(reasoner_model(), data_dir() + "/tiny_llama_logits_reasoner.json");
}

TEST(MODEL_SUITE, the_fixture_prompt_encodes_to_the_reference_tokens) {
  const auto fixture = read_json(data_dir() + "/tiny_llama_logits_reasoner.json");
  const auto tok = tiny_llama::tokenizer::from_file(reasoner_tokenizer());
  EXPECT_EQ(tok.encode(fixture["prompt"].get<std::string>(), true, false), fixture["tokens"].get<std::vector<int>>());
}

// A session that lists every position (in order) through attend_positions.
struct all_positions {
  std::vector<int> positions;
  void operator()(const tiny_llama::attention_step& step) {
    positions.clear();
    for (int p = 0; p <= step.position; ++p) positions.push_back(p);
    tiny_llama::attend_positions(step, positions.data(), static_cast<int>(positions.size()));
  }
};

TEST(MODEL_SUITE, attending_to_every_listed_position_equals_dense_attention) {
  const auto model = tiny_llama::checkpoint::from_file(reasoner_model());
  const auto tok = tiny_llama::tokenizer::from_file(reasoner_tokenizer());
  const auto tokens = tok.encode("K=7;B=K+3;X=B-2\n?X\nX=B-2;B=K+3;K=7\n", true, false);
  tiny_llama::state dense_state(model.cfg()), listed_state(model.cfg());
  all_positions listed;
  for (int p = 0; p < static_cast<int>(tokens.size()); ++p) {
    const float* a = dense_state.forward(model, tokens[static_cast<std::size_t>(p)], p);
    const float* b = listed_state.forward(model, tokens[static_cast<std::size_t>(p)], p, listed);
    for (int v = 0; v < model.cfg().vocab_size; ++v) ASSERT_EQ(a[v], b[v]) << "position " << p << " token " << v;
  }
}

TEST(MODEL_SUITE, dropping_positions_from_attention_changes_the_logits) {
  // The seam is real: what a policy leaves out is not seen by the model.
  const auto model = tiny_llama::checkpoint::from_file(reasoner_model());
  const auto tok = tiny_llama::tokenizer::from_file(reasoner_tokenizer());
  const auto tokens = tok.encode("K=7;B=K+3;X=B-2\n?X\nX=B-2;B=", true, false);
  tiny_llama::state full(model.cfg()), recent(model.cfg());
  std::vector<int> kept;
  auto last_four = [&kept](const tiny_llama::attention_step& step) {
    kept.clear();
    for (int p = std::max(0, step.position - 3); p <= step.position; ++p) kept.push_back(p);
    tiny_llama::attend_positions(step, kept.data(), static_cast<int>(kept.size()));
  };
  const float *a = nullptr, *b = nullptr;
  for (int p = 0; p < static_cast<int>(tokens.size()); ++p) {
    a = full.forward(model, tokens[static_cast<std::size_t>(p)], p);
    b = recent.forward(model, tokens[static_cast<std::size_t>(p)], p, last_four);
  }
  double difference = 0;
  for (int v = 0; v < model.cfg().vocab_size; ++v) difference += std::fabs(a[v] - b[v]);
  EXPECT_GT(difference, 1.0);
}

TEST(MODEL_SUITE, attention_weights_of_each_head_sum_to_one) {
  const auto model = tiny_llama::checkpoint::from_file(reasoner_model());
  tiny_llama::state s(model.cfg());
  int checked = 0;
  auto inspect = [&checked](const tiny_llama::attention_step& step) {
    tiny_llama::dense_attention(step);
    for (int h = 0; h < step.n_heads; ++h) {
      double sum = 0;
      for (int i = 0; i <= step.position; ++i) sum += step.probabilities[h * step.seq_len + i];
      EXPECT_NEAR(sum, 1.0, 1e-5);
      ++checked;
    }
  };
  for (int p = 0; p < 5; ++p) s.forward(model, 3 + p, p, inspect);
  EXPECT_EQ(checked, 5 * model.cfg().n_layers * model.cfg().n_heads);
}

TEST(MODEL_SUITE, kv_bytes_per_token_count_keys_and_values_of_every_layer) {
  const auto model = tiny_llama::checkpoint::from_file(reasoner_model());
  tiny_llama::state s(model.cfg());
  EXPECT_EQ(s.kv_bytes_per_token(),
            2u * 4u * static_cast<std::size_t>(model.cfg().n_layers) * static_cast<std::size_t>(model.cfg().kv_dim()));
}

}  // namespace
