// lil/guardian/vocabulary.hpp - token id -> the bytes the engine decodes it to.
//
// Why it exists
//   Engines hold token ids, and the paper's C(n) is the DEFLATE size of the
//   decoded text (its t = 20 bytes was chosen for text). A vocabulary turns an
//   id back into its bytes, so that a guardian fed ids measures exactly the
//   C(n) of the text the engine would decode, without a detokenizer call per
//   token. (The other way, an id as its 4 raw bytes, guardian::accept_raw_id,
//   is an explicit choice of its own: its sizes are not comparable with text.)
//
// The table
//   One blob holds every id's bytes back to back; an offset array (size()+1
//   entries) says where each id starts. bytes(id) is two loads and a
//   string_view: no allocation, no branch but the range check. The table is
//   built once per model and never changes, so one object is shared (by
//   reference or shared_ptr) by every guardian, batch and thread; concurrent
//   reads need no lock.
//
// Sources
//   - pieces as bytes: std::vector<std::string> (id i -> pieces[i]), or a
//     count and a callback id -> bytes (llama.cpp's token_to_piece, a
//     tokenizer's id_to_bytes...), copied once;
//   - byte-level BPE (GPT-2, Llama-3, Qwen2, cl100k): either the pieces as a
//     Hugging Face tokenizer.json spells them (each byte written as one
//     printable code point, "Ġ" for a space: from_byte_level_pieces), or a
//     tiktoken ranks file ("<base64 bytes> <rank>" lines: from_tiktoken);
//   - sentencepiece (Llama-2 style, "▁" -> space, <0xNN> byte fallback,
//     control tokens -> no bytes): lil/guardian/sentencepiece.hpp, a separate
//     compiled target (lil::sentencepiece) that keeps libsentencepiece out of
//     this header.
//
// Two rules of decoding that a table of pieces alone does not carry
//   - The leading space. A sentencepiece model with a dummy prefix (Llama-2)
//     writes the word at the start of a text as "▁word"; decoding a sequence
//     drops that one space at the start of the text (sentencepiece's
//     DecodeIds, and Hugging Face's decode(output_ids)). strips_leading_space()
//     says the vocabulary does this; first_bytes(id) is an id's bytes as the
//     first token of a decoded text (one leading 0x20 removed, if any). A
//     guardian uses first_bytes for the first token after construction or
//     reset when guardian_options::output_starts_text is true (the default,
//     as `lil guard --tokenizer` and decode(output_ids) measure), and bytes()
//     when the output continues a prompt (an engine that detokenizes with the
//     prompt as context keeps the space).
//   - Unfinished characters. Byte-fallback and byte-level pieces can end in
//     the middle of a UTF-8 character; decoding a prefix cut there writes
//     U+FFFD replacement characters for the unfinished bytes. unfinished()
//     says how many: one per byte (sentencepiece) or one per unfinished
//     character (Python's bytes.decode(errors="replace") for byte-level BPE
//     tokenizers). A guardian prices a check that falls on such a cut as the
//     decoder writes it (guardian.hpp).
//
// Ids outside [0, size()) have no bytes: bytes() returns an empty view and
// contains() false; the C ABI and Python refuse them with an error naming the
// slot before any token is taken.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "lil/config.hpp"

namespace lil {

using token_id = std::int32_t;

// How a decoder writes the bytes of a character cut off at the end of a text.
enum class unfinished_character : std::uint8_t {
  per_byte,       // one U+FFFD per byte (sentencepiece's DecodeIds)
  per_character,  // one U+FFFD per unfinished character (Python's errors="replace")
};

struct vocabulary_options {
  // Decoding a text drops one space at its start (sentencepiece dummy prefix).
  bool strips_leading_space = false;
  unfinished_character unfinished = unfinished_character::per_byte;
  // Ids whose leading space is text even at the start (sentencepiece's unknown
  // piece " ⁇ "): first_bytes leaves them whole. A handful at most.
  std::vector<token_id> keeps_leading_space;
};

class vocabulary {
 public:
  // An empty vocabulary (size 0).
  vocabulary() : offsets_(1, 0) {}

  // Id i spells pieces[i] (bytes, any content).
  explicit vocabulary(const std::vector<std::string>& pieces, const vocabulary_options& opts = {})
      : vocabulary(pieces.size(), [&](token_id id) { return std::string_view(pieces[static_cast<std::size_t>(id)]); },
                   opts) {}
  explicit vocabulary(const std::vector<std::string_view>& pieces, const vocabulary_options& opts = {})
      : vocabulary(pieces.size(), [&](token_id id) { return pieces[static_cast<std::size_t>(id)]; }, opts) {}

  // Ids 0..size-1, each spelled by bytes_of(id); the view is copied before the
  // next call, so it may point into a buffer the callback reuses.
  vocabulary(std::size_t size, const std::function<std::string_view(token_id)>& bytes_of,
             const vocabulary_options& opts = {})
      : opts_(opts) {
    if (size > static_cast<std::size_t>(INT32_MAX))
      detail::throw_error("vocabulary: " + std::to_string(size) + " ids are more than a 32-bit id can name");
    offsets_.reserve(size + 1);
    offsets_.push_back(0);
    for (std::size_t i = 0; i < size; ++i) {
      const std::string_view b = bytes_of(static_cast<token_id>(i));
      if (blob_.size() + b.size() > UINT32_MAX)
        detail::throw_error("vocabulary: the pieces hold more than 4 GiB of bytes (at id " + std::to_string(i) + ")");
      blob_.append(b.data(), b.size());
      offsets_.push_back(static_cast<std::uint32_t>(blob_.size()));
      if (b.size() > max_bytes_) max_bytes_ = b.size();
    }
    blob_.shrink_to_fit();
  }

  // Byte-level BPE pieces as tokenizer.json's "model.vocab" spells them: every
  // byte is one code point of GPT-2's printable byte alphabet ("Ġ" = 0x20,
  // "Ċ" = 0x0A). Pieces that are not in that alphabet (added tokens such as
  // "<|endoftext|>") are taken as UTF-8 text, as the tokenizer decodes them;
  // list ids in `no_bytes` (special tokens the engine skips) to give them none.
  static vocabulary from_byte_level_pieces(const std::vector<std::string>& pieces,
                                           const std::vector<token_id>& no_bytes = {});

  // A tiktoken ranks file (cl100k_base.tiktoken, o200k_base...): lines
  // "<base64 of the bytes> <rank>"; the rank is the id. Ids the file does not
  // name (gaps, special tokens) have no bytes; `specials` adds named ones.
  // Throws lil::error naming the line of a malformed entry.
  static vocabulary from_tiktoken(std::string_view ranks_file,
                                  const std::vector<std::pair<std::string, token_id>>& specials = {});

  std::size_t size() const noexcept { return offsets_.size() - 1; }
  bool contains(token_id id) const noexcept { return id >= 0 && static_cast<std::size_t>(id) < size(); }

  // The bytes id decodes to; empty for control tokens and ids outside the table.
  std::string_view bytes(token_id id) const noexcept {
    if (!contains(id)) return {};
    const auto i = static_cast<std::size_t>(id);
    return std::string_view(blob_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]);
  }
  // The bytes of id as the first token of a decoded text (see the essay).
  std::string_view first_bytes(token_id id) const noexcept {
    std::string_view b = bytes(id);
    if (opts_.strips_leading_space && !b.empty() && b.front() == ' ') {
      for (token_id keep : opts_.keeps_leading_space)
        if (keep == id) return b;
      b.remove_prefix(1);
    }
    return b;
  }

  bool strips_leading_space() const noexcept { return opts_.strips_leading_space; }
  unfinished_character unfinished() const noexcept { return opts_.unfinished; }
  const vocabulary_options& options() const noexcept { return opts_; }

  // The longest piece, in bytes (a guardian's buffer must hold a few).
  std::size_t max_bytes() const noexcept { return max_bytes_; }
  // Heap bytes of the table.
  std::size_t state_bytes() const noexcept {
    return sizeof(*this) + blob_.capacity() + offsets_.capacity() * sizeof(std::uint32_t);
  }

 private:
  vocabulary_options opts_;
  std::string blob_;
  std::vector<std::uint32_t> offsets_;
  std::size_t max_bytes_ = 0;
};

namespace detail {

// Bytes at the end of `text` that begin a UTF-8 character without finishing
// it (0..3), and how many U+FFFD a decoder writes for them.
inline std::size_t unfinished_utf8_tail(std::string_view text) noexcept {
  const std::size_t n = text.size();
  for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(text[n - back]);
    if ((c & 0xC0) == 0x80) continue;  // a continuation byte: look further back
    std::size_t need = 0;
    if ((c & 0xE0) == 0xC0) need = 2;
    else if ((c & 0xF0) == 0xE0) need = 3;
    else if ((c & 0xF8) == 0xF0) need = 4;
    return need > back ? back : 0;
  }
  return 0;
}

}  // namespace detail

// --- inline definitions ---------------------------------------------------------

namespace detail {

// GPT-2's byte alphabet: the code point that spells byte b. Printable Latin-1
// bytes spell themselves; the 68 others take 256, 257, ... in byte order.
inline std::uint32_t byte_level_code_point(unsigned b) noexcept {
  const bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
  if (printable) return b;
  std::uint32_t k = 0;
  for (unsigned x = 0; x < b; ++x)
    if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174)) ++k;
  return 256 + k;
}

// Reads one UTF-8 code point at s[i]; returns false on a malformed sequence.
inline bool next_code_point(std::string_view s, std::size_t& i, std::uint32_t& cp) noexcept {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (len == 0 || i + len > s.size()) return false;
  cp = len == 1 ? c : len == 2 ? (c & 0x1Fu) : len == 3 ? (c & 0x0Fu) : (c & 0x07u);
  for (std::size_t k = 1; k < len; ++k) {
    const auto d = static_cast<unsigned char>(s[i + k]);
    if ((d & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (d & 0x3Fu);
  }
  i += len;
  return true;
}

inline int base64_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

inline bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t i = 0;
  for (; i < in.size() && in[i] != '='; ++i) {
    const int v = base64_value(in[i]);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  for (; i < in.size(); ++i)
    if (in[i] != '=') return false;
  return in.size() % 4 == 0;
}

}  // namespace detail

inline vocabulary vocabulary::from_byte_level_pieces(const std::vector<std::string>& pieces,
                                                     const std::vector<token_id>& no_bytes) {
  int byte_of[512];
  for (int& b : byte_of) b = -1;
  for (unsigned b = 0; b < 256; ++b) byte_of[detail::byte_level_code_point(b)] = static_cast<int>(b);
  std::vector<char> silent(pieces.size(), 0);
  for (token_id id : no_bytes) {
    if (id < 0 || static_cast<std::size_t>(id) >= pieces.size())
      detail::throw_error("vocabulary::from_byte_level_pieces: no_bytes names id " + std::to_string(id) +
                          ", outside 0.." + std::to_string(pieces.size()));
    silent[static_cast<std::size_t>(id)] = 1;
  }
  std::string scratch;
  vocabulary_options o;
  o.unfinished = unfinished_character::per_character;
  return vocabulary(
      pieces.size(),
      [&](token_id id) -> std::string_view {
        const auto i = static_cast<std::size_t>(id);
        if (silent[i]) return {};
        const std::string& p = pieces[i];
        scratch.clear();
        std::size_t at = 0;
        std::uint32_t cp = 0;
        while (at < p.size()) {
          if (!detail::next_code_point(p, at, cp) || cp >= 512 || byte_of[cp] < 0) return p;  // an added token: its text
          scratch.push_back(static_cast<char>(byte_of[cp]));
        }
        return scratch;
      },
      o);
}

inline vocabulary vocabulary::from_tiktoken(std::string_view file,
                                            const std::vector<std::pair<std::string, token_id>>& specials) {
  std::vector<std::string> by_id;
  std::vector<char> named;
  auto put = [&](std::size_t id, std::string bytes, std::size_t line) {
    if (id >= static_cast<std::size_t>(INT32_MAX))
      detail::throw_error("vocabulary::from_tiktoken: line " + std::to_string(line) + ": rank " + std::to_string(id) +
                          " does not fit a 32-bit id");
    if (id >= by_id.size()) {
      by_id.resize(id + 1);
      named.resize(id + 1, 0);
    }
    if (named[id])
      detail::throw_error("vocabulary::from_tiktoken: line " + std::to_string(line) + ": rank " + std::to_string(id) +
                          " is named twice");
    named[id] = 1;
    by_id[id] = std::move(bytes);
  };
  std::size_t line_no = 0, at = 0;
  std::string bytes;
  while (at < file.size()) {
    std::size_t end = file.find('\n', at);
    if (end == std::string_view::npos) end = file.size();
    std::string_view line = file.substr(at, end - at);
    at = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::size_t space = line.find(' ');
    const std::string_view b64 = line.substr(0, space);
    const std::string_view rank = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    std::size_t id = 0;
    bool ok = !rank.empty() && rank.size() <= 10 && detail::base64_decode(b64, bytes);
    for (char c : rank) {
      if (c < '0' || c > '9') ok = false;
      id = id * 10 + static_cast<std::size_t>(c - '0');
    }
    if (!ok)
      detail::throw_error("vocabulary::from_tiktoken: line " + std::to_string(line_no) +
                          " is not \"<base64 bytes> <rank>\": \"" + std::string(line.substr(0, 80)) + "\"");
    put(id, bytes, line_no);
  }
  for (const auto& s : specials) {
    if (s.second < 0) detail::throw_error("vocabulary::from_tiktoken: special token \"" + s.first + "\" has a negative id");
    put(static_cast<std::size_t>(s.second), s.first, 0);
  }
  vocabulary_options o;
  o.unfinished = unfinished_character::per_character;
  return vocabulary(by_id, o);
}

}  // namespace lil
