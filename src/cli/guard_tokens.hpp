// How `lil guard` cuts a trace into tokens.
//
// The paper's C(n) compresses "the text of the first n tokens". With a
// sentencepiece tokenizer that text is the tokenizer's decode of the first n
// ids, which is almost always the previous prefix's text plus the new
// tokens' text - except when the cut falls inside a character spelled by
// byte-fallback tokens: decode then renders each byte of the unfinished
// character as U+FFFD, and the next token replaces them with the character.
// So a token stream keeps each token's final text (what it adds once its
// character is complete) and, for every cut, how many unfinished bytes
// dangle there. One decode of the whole trace gives both; no prefix is ever
// decoded again (except by --mode recompress, the from-scratch baseline).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace lil::cli {

struct token_stream {
  std::string text;                     // every token's final text, in order
  std::vector<std::size_t> ends;        // token i's text is text[ends[i-1], ends[i])
  std::vector<std::uint8_t> unfinished; // bytes of an unfinished character right after token i
  std::vector<int> ids;                 // the tokenizer's ids (none for --bytes-per-token)

  std::size_t size() const noexcept { return ends.size(); }
  std::string_view token(std::size_t i) const noexcept {
    const std::size_t begin = i == 0 ? 0 : ends[i - 1];
    return std::string_view(text).substr(begin, ends[i] - begin);
  }
};

// U+FFFD REPLACEMENT CHARACTER, as sentencepiece writes an unfinished byte.
inline constexpr std::string_view replacement_character = "\xEF\xBF\xBD";

class tokenizer {
 public:
  virtual ~tokenizer() = default;
  virtual token_stream tokenize(const std::string& text) const = 0;
  // The text of the first n tokens computed from scratch, the paper's way
  // (decode of the first n ids): the baseline --mode recompress uses.
  virtual std::string prefix_text(const token_stream& s, std::size_t n) const = 0;
};

// --bytes-per-token N: the UTF-8 text cut into N-byte chunks (the last may be
// shorter; a chunk may end inside a character: the bytes are what counts).
std::unique_ptr<tokenizer> make_byte_chunker(std::size_t bytes_per_token);

// --tokenizer PATH.model; throws io_error naming the flag and the path. Long
// texts are tokenized in windows of about `window` bytes, where the model
// allows exact cuts (see guard_tokens.cpp); the tokens are the same.
std::unique_ptr<tokenizer> load_sentencepiece(const std::string& path, std::size_t window = std::size_t{1} << 16);

}  // namespace lil::cli
