// tokenizer.hpp: llama2.c's encoding (BOS, dummy prefix, code points or byte
// fallback, best-score merges) and decoding, and clear errors for bad files.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tokenizer.hpp"
#include "tiny_llama_test_support.hpp"

namespace {

using tiny_llama::tokenizer;
using namespace tiny_llama_test;

const std::vector<std::string> specials = {"<unk>", "\n<s>\n", "\n</s>\n"};

tokenizer make(std::vector<std::string> pieces, std::vector<float> scores) {
  const auto bytes = tokenizer_bytes(pieces, scores);
  return tokenizer::from_bytes(bytes.data(), bytes.size(), "synthetic");
}

TEST(tiny_llama_tokenizer, the_reasoner_vocabulary_is_one_token_per_character) {
  const auto tok = tokenizer::from_file(reasoner_tokenizer());
  const std::string text = "A=3;B=A+1\n?B\n";
  const auto ids = tok.encode(text, true, true);
  ASSERT_EQ(ids.size(), text.size() + 3);  // BOS, dummy prefix, characters, EOS
  EXPECT_EQ(ids.front(), tiny_llama::bos_token);
  EXPECT_EQ(tok.piece(ids[1]), " ");
  EXPECT_EQ(ids.back(), tiny_llama::eos_token);
  for (std::size_t i = 0; i < text.size(); ++i) EXPECT_EQ(tok.piece(ids[i + 2]), std::string(1, text[i]));
}

TEST(tiny_llama_tokenizer, decoding_after_bos_drops_the_dummy_prefix_space) {
  const auto tok = tokenizer::from_file(reasoner_tokenizer());
  const auto ids = tok.encode("ans=7", true, false);
  const std::vector<int> body(ids.begin() + 1, ids.end());
  EXPECT_EQ(tok.decode_all(body, tiny_llama::bos_token), "ans=7");
  EXPECT_EQ(tok.decode_all(body, -1), " ans=7");
}

TEST(tiny_llama_tokenizer, the_best_scoring_pair_merges_first) {
  auto pieces = specials;
  for (const char* p : {" ", "a", "b", "ab", "ba"}) pieces.push_back(p);
  // "ba" outscores "ab", so "aba" becomes a|ba, not ab|a.
  const auto tok = make(pieces, {0, 0, 0, 0, 0, 0, 1.0f, 2.0f});
  EXPECT_EQ(tok.encode("aba", false, false), (std::vector<int>{3, 4, 7}));
  const auto low = make(pieces, {0, 0, 0, 0, 0, 0, 2.0f, 1.0f});
  EXPECT_EQ(low.encode("aba", false, false), (std::vector<int>{3, 6, 4}));
}

TEST(tiny_llama_tokenizer, merges_repeat_until_no_pair_is_in_the_vocabulary) {
  auto pieces = specials;
  for (const char* p : {" ", "a", "b", "ab", "abab", " abab"}) pieces.push_back(p);
  const auto tok = make(pieces, {0, 0, 0, 0, 0, 0, 1, 2, 3});
  EXPECT_EQ(tok.encode("abab", true, false), (std::vector<int>{1, 8}));
}

TEST(tiny_llama_tokenizer, characters_outside_the_vocabulary_fall_back_to_byte_tokens) {
  auto pieces = specials;
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof name, "<0x%02X>", b);
    pieces.push_back(name);
  }
  pieces.push_back(" ");
  const auto tok = make(pieces, std::vector<float>(pieces.size(), 0.0f));
  const std::string text = "\xC3\xA9";  // U+00E9 in UTF-8
  const auto ids = tok.encode(text, false, false);
  EXPECT_EQ(ids, (std::vector<int>{259, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(tok.decode(259, ids[1]) + tok.decode(ids[1], ids[2]), text);
}

TEST(tiny_llama_tokenizer, a_character_with_no_token_and_no_byte_fallback_is_an_error) {
  const auto tok = tokenizer::from_file(reasoner_tokenizer());
  try {
    tok.encode("A=3#", true, false);
    FAIL() << "no error";
  } catch (const lil::error& e) {
    EXPECT_NE(std::string(e.what()).find("0x23"), std::string::npos) << e.what();
  }
}

TEST(tiny_llama_tokenizer, a_truncated_file_names_the_token) {
  auto bytes = tokenizer_bytes({"<unk>", "\n<s>\n", "\n</s>\n", "abc"}, {0, 0, 0, 0});
  bytes.resize(bytes.size() - 2);
  try {
    tokenizer::from_bytes(bytes.data(), bytes.size(), "cut_tok.bin");
    FAIL() << "no error";
  } catch (const lil::error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("cut_tok.bin"), std::string::npos) << message;
    EXPECT_NE(message.find("token 3"), std::string::npos) << message;
  }
}

TEST(tiny_llama_tokenizer, a_vocabulary_size_mismatch_with_the_model_is_reported) {
  const auto tok = tokenizer::from_file(reasoner_tokenizer());
  EXPECT_NO_THROW(tok.check_vocab_size(tok.vocab_size()));
  EXPECT_THROW(tok.check_vocab_size(tok.vocab_size() + 1), lil::error);
}

}  // namespace
