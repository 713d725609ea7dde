// tiny_llama/tokenizer.hpp - llama2.c's tokenizer.bin: byte-pair encoding by
// merge scores, and decoding of pieces.
//
// The file: int32 max_token_length, then for every token a float32 score, an
// int32 byte length and the piece's bytes. The count is not stored: it is the
// model's vocab_size, so the tokenizer is read to the end and then checked
// against the model (check_vocab_size).
//
// Encoding follows llama2.c's rules, which reproduce sentencepiece's BPE for
// these vocabularies: an optional BOS (id 1); a "dummy prefix" space token
// when the text is non-empty; one token per UTF-8 code point that is itself in
// the vocabulary, otherwise one byte-fallback token per byte (id byte+3, the
// "<0xXX>" pieces); then, repeatedly, the adjacent pair whose concatenation is
// in the vocabulary with the highest score is merged (the leftmost pair on a
// tie), until no pair merges; an optional EOS (id 2).
// Decoding strips the dummy-prefix space after BOS and turns "<0xXX>" pieces
// back into their byte.
//
// Costs: encoding is quadratic in the text's length (each merge rescans the
// pairs); prompts here are a few hundred characters, so this is noise next to
// the forward pass. Decoding is a table look-up.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "lil/config.hpp"

namespace tiny_llama {

inline constexpr int bos_token = 1;
inline constexpr int eos_token = 2;

class tokenizer {
 public:
  static tokenizer from_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) lil::detail::throw_error("tokenizer '" + path + "': cannot open file");
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return from_bytes(bytes.data(), bytes.size(), path);
  }

  static tokenizer from_bytes(const void* data, std::size_t size, const std::string& name) {
    tokenizer t;
    t.parse(static_cast<const unsigned char*>(data), size, name);
    return t;
  }

  int vocab_size() const { return static_cast<int>(pieces_.size()); }
  const std::string& piece(int id) const { return pieces_[static_cast<std::size_t>(id)]; }
  const std::string& name() const { return name_; }

  // The model and its tokenizer must agree on the vocabulary's size.
  void check_vocab_size(int model_vocab_size) const {
    if (model_vocab_size != vocab_size())
      lil::detail::throw_error("tokenizer '" + name_ + "': holds " + std::to_string(vocab_size()) +
                               " tokens but the model's vocab_size is " + std::to_string(model_vocab_size));
  }

  std::vector<int> encode(const std::string& text, bool bos, bool eos) const {
    std::vector<int> tokens;
    if (bos) tokens.push_back(bos_token);
    if (!text.empty()) tokens.push_back(lookup_or_throw(" ", "the dummy-prefix space"));

    for (std::size_t i = 0; i < text.size();) {
      std::size_t length = utf8_length(static_cast<unsigned char>(text[i]));
      if (i + length > text.size()) length = 1;  // a broken tail falls back to bytes
      const std::string code_point = text.substr(i, length);
      auto found = ids_.find(code_point);
      if (found != ids_.end()) {
        tokens.push_back(found->second);
      } else {
        for (char byte : code_point) tokens.push_back(byte_token(static_cast<unsigned char>(byte)));
      }
      i += length;
    }

    const std::size_t first_mergeable = bos ? 1 : 0;
    std::string pair;
    for (;;) {
      float best_score = 0;
      int best_id = -1;
      std::size_t best_at = 0;
      for (std::size_t i = first_mergeable; i + 1 < tokens.size(); ++i) {
        pair = pieces_[static_cast<std::size_t>(tokens[i])];
        pair += pieces_[static_cast<std::size_t>(tokens[i + 1])];
        auto found = ids_.find(pair);
        if (found == ids_.end()) continue;
        const float score = scores_[static_cast<std::size_t>(found->second)];
        if (best_id < 0 || score > best_score) {
          best_score = score;
          best_id = found->second;
          best_at = i;
        }
      }
      if (best_id < 0) break;
      tokens[best_at] = best_id;
      tokens.erase(tokens.begin() + static_cast<std::ptrdiff_t>(best_at) + 1);
    }
    if (eos) tokens.push_back(eos_token);
    return tokens;
  }

  // The text of `token` when it follows `previous` (for the BOS rule).
  std::string decode(int previous, int token) const {
    if (token < 0 || token >= vocab_size())
      lil::detail::throw_error("tokenizer '" + name_ + "': token id " + std::to_string(token) + " out of range");
    const std::string& p = pieces_[static_cast<std::size_t>(token)];
    if (previous == bos_token && !p.empty() && p[0] == ' ') return p.substr(1);
    unsigned value = 0;
    if (p.size() == 6 && std::sscanf(p.c_str(), "<0x%02X>", &value) == 1) return std::string(1, static_cast<char>(value));
    return p;
  }

  // Concatenated text of a token sequence (the first one decoded after `previous`).
  std::string decode_all(const std::vector<int>& tokens, int previous = -1) const {
    std::string text;
    for (int t : tokens) {
      text += decode(previous, t);
      previous = t;
    }
    return text;
  }

 private:
  static std::size_t utf8_length(unsigned char lead) {
    if (lead < 0x80) return 1;
    if ((lead & 0xE0) == 0xC0) return 2;
    if ((lead & 0xF0) == 0xE0) return 3;
    if ((lead & 0xF8) == 0xF0) return 4;
    return 1;  // a continuation byte out of place: treat it as a lone byte
  }

  int lookup_or_throw(const std::string& piece, const char* role) const {
    auto found = ids_.find(piece);
    if (found == ids_.end())
      lil::detail::throw_error("tokenizer '" + name_ + "': no token for " + role);
    return found->second;
  }

  int byte_token(unsigned char byte) const {
    const int id = 3 + byte;
    char expected[8];
    std::snprintf(expected, sizeof expected, "<0x%02X>", byte);
    if (id >= vocab_size() || pieces_[static_cast<std::size_t>(id)] != expected) {
      char shown[8];
      std::snprintf(shown, sizeof shown, "0x%02X", byte);
      lil::detail::throw_error("tokenizer '" + name_ + "': byte " + shown +
                               " is not in the vocabulary and the vocabulary has no byte-fallback tokens");
    }
    return id;
  }

  void parse(const unsigned char* data, std::size_t size, const std::string& name) {
    name_ = name;
    auto fail = [&](const std::string& what) { lil::detail::throw_error("tokenizer '" + name + "': " + what); };
    if (size < 4) fail("truncated header: max_token_length needs 4 bytes, the file has " + std::to_string(size));
    std::int32_t max_length = 0;
    std::memcpy(&max_length, data, 4);
    if (max_length <= 0) fail("header field max_token_length = " + std::to_string(max_length) + " must be positive");
    std::size_t at = 4;
    while (at < size) {
      const std::string entry = "token " + std::to_string(pieces_.size());
      if (size - at < 8) fail("truncated in " + entry + ": score and length need 8 bytes, " + std::to_string(size - at) + " left");
      float score = 0;
      std::int32_t length = 0;
      std::memcpy(&score, data + at, 4);
      std::memcpy(&length, data + at + 4, 4);
      at += 8;
      if (length < 0 || length > max_length)
        fail(entry + ": length = " + std::to_string(length) + " outside 0.." + std::to_string(max_length) + " (max_token_length)");
      if (size - at < static_cast<std::size_t>(length))
        fail("truncated in " + entry + ": " + std::to_string(length) + " bytes of text, " + std::to_string(size - at) + " left");
      pieces_.emplace_back(reinterpret_cast<const char*>(data + at), static_cast<std::size_t>(length));
      scores_.push_back(score);
      at += static_cast<std::size_t>(length);
    }
    if (pieces_.size() < 3) fail("holds " + std::to_string(pieces_.size()) + " tokens; needs at least <unk>, BOS and EOS");
    for (std::size_t id = 0; id < pieces_.size(); ++id) ids_.emplace(pieces_[id], static_cast<int>(id));  // first id wins
  }

  std::string name_;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string, int> ids_;
};

}  // namespace tiny_llama
