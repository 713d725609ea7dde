// checkpoint.hpp: a llama2.c legacy checkpoint loads exactly when its size
// matches its header, and every failure names the file and the field.
#include <gtest/gtest.h>

#include <string>

#include "checkpoint.hpp"
#include "tiny_llama_test_support.hpp"

namespace {

using tiny_llama::checkpoint;
using namespace tiny_llama_test;

std::string error_of(const std::vector<char>& bytes, const std::string& name) {
  try {
    checkpoint::from_bytes(bytes.data(), bytes.size(), name);
  } catch (const lil::error& e) {
    return e.what();
  }
  return "";
}

TEST(tiny_llama_checkpoint, a_well_formed_checkpoint_loads_with_its_header) {
  header h;
  const auto bytes = checkpoint_bytes(h, float_count(h));
  const auto c = checkpoint::from_bytes(bytes.data(), bytes.size(), "synthetic");
  EXPECT_EQ(c.cfg().dim, 8);
  EXPECT_EQ(c.cfg().hidden_dim, 16);
  EXPECT_EQ(c.cfg().n_layers, 2);
  EXPECT_EQ(c.cfg().kv_dim(), 4);
  EXPECT_EQ(c.cfg().kv_group(), 2);
  EXPECT_TRUE(c.cfg().shared_classifier);
  EXPECT_EQ(c.classifier(), c.token_embedding());
  // wq of layer 1 starts after embedding, both attention norms and layer 0's wq.
  EXPECT_FLOAT_EQ(c.layer(1).wq[0], static_cast<float>(5 * 8 + 2 * 8 + 8 * 8) * 0.001f);
}

TEST(tiny_llama_checkpoint, a_negative_vocab_size_means_a_separate_classifier) {
  header h;
  h.vocab_size = -5;
  const auto bytes = checkpoint_bytes(h, float_count(h));
  const auto c = checkpoint::from_bytes(bytes.data(), bytes.size(), "unshared");
  EXPECT_EQ(c.cfg().vocab_size, 5);
  EXPECT_FALSE(c.cfg().shared_classifier);
  EXPECT_NE(c.classifier(), c.token_embedding());
  EXPECT_FLOAT_EQ(c.classifier()[0], static_cast<float>(float_count(h) - 5 * 8) * 0.001f);
}

TEST(tiny_llama_checkpoint, a_truncated_header_names_the_file) {
  const std::vector<char> bytes(10, 0);
  const std::string message = error_of(bytes, "short.bin");
  EXPECT_NE(message.find("short.bin"), std::string::npos) << message;
  EXPECT_NE(message.find("truncated header"), std::string::npos) << message;
}

TEST(tiny_llama_checkpoint, a_truncated_tensor_is_named) {
  header h;
  // Cut inside w2: embedding 40, norms 16, wq 128, wk 64, wv 64, wo 128, norms 16, w1 256 = 712 floats, then w2.
  const auto bytes = checkpoint_bytes(h, 712 + 10);
  const std::string message = error_of(bytes, "cut.bin");
  EXPECT_NE(message.find("cut.bin"), std::string::npos) << message;
  EXPECT_NE(message.find("tensor w2"), std::string::npos) << message;
}

TEST(tiny_llama_checkpoint, bytes_after_the_last_tensor_are_rejected) {
  header h;
  const auto bytes = checkpoint_bytes(h, float_count(h) + 3);
  const std::string message = error_of(bytes, "long.bin");
  EXPECT_NE(message.find("12 bytes after the last tensor"), std::string::npos) << message;
}

TEST(tiny_llama_checkpoint, a_non_positive_header_field_is_named_with_its_value) {
  header h;
  h.n_heads = 0;
  const std::string message = error_of(checkpoint_bytes(h, 100), "zero.bin");
  EXPECT_NE(message.find("n_heads = 0"), std::string::npos) << message;
  h = header{};
  h.seq_len = -3;
  EXPECT_NE(error_of(checkpoint_bytes(h, 100), "neg.bin").find("seq_len = -3"), std::string::npos);
}

TEST(tiny_llama_checkpoint, kv_heads_must_divide_query_heads) {
  header h;
  h.dim = 12;
  h.n_heads = 3;
  h.n_kv_heads = 2;
  const std::string message = error_of(checkpoint_bytes(h, 100), "gqa.bin");
  EXPECT_NE(message.find("n_kv_heads = 2"), std::string::npos) << message;
}

TEST(tiny_llama_checkpoint, heads_must_divide_the_width_into_even_sizes) {
  header h;
  h.n_heads = 8;  // head size 1: RoPE rotates pairs
  h.n_kv_heads = 8;
  EXPECT_NE(error_of(checkpoint_bytes(h, 100), "odd.bin").find("must be even"), std::string::npos);
}

TEST(tiny_llama_checkpoint, a_missing_file_is_named) {
  try {
    checkpoint::from_file("/nonexistent/model.bin");
    FAIL() << "no error";
  } catch (const lil::error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.bin"), std::string::npos) << e.what();
  }
}

TEST(tiny_llama_checkpoint, the_committed_reasoner_loads_and_stays_under_10_MB) {
  const auto c = checkpoint::from_file(reasoner_model());
  std::ifstream in(reasoner_model(), std::ios::binary | std::ios::ate);
  EXPECT_LE(static_cast<long long>(in.tellg()), 10LL * 1000 * 1000);
  EXPECT_LT(c.cfg().n_kv_heads, c.cfg().n_heads);  // the demo needs grouped-query attention
}

}  // namespace
