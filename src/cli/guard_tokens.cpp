#include "guard_tokens.hpp"

#include <fmt/core.h>
#include <sentencepiece_processor.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <sys/stat.h>

#include "io.hpp"
#include "lil/config.hpp"

namespace lil::cli {

namespace {

class byte_chunker final : public tokenizer {
 public:
  explicit byte_chunker(std::size_t n) : n_(n) {}

  token_stream tokenize(const std::string& text) const override {
    token_stream s;
    s.text = text;
    // Rounding up as size / n + (remainder != 0): (size + n - 1) / n
    // overflows for n near SIZE_MAX and counted 0 tokens.
    const std::size_t count = text.size() / n_ + (text.size() % n_ != 0);
    s.ends.reserve(count);
    for (std::size_t i = 1; i < count; ++i) s.ends.push_back(i * n_);
    if (count != 0) s.ends.push_back(text.size());
    s.unfinished.assign(count, 0);
    return s;
  }

  std::string prefix_text(const token_stream& s, std::size_t n) const override {
    return s.text.substr(0, n >= s.size() ? s.text.size() : n * n_);
  }

 private:
  std::size_t n_;
};

// sentencepiece holds about 90 bytes per input byte while it encodes one
// string (its BPE symbols, the normalizer's alignment, the protobuf of every
// piece) and as much again to decode it. So a long trace is tokenized in
// windows of about `window` bytes, cut where the tokenization provably does
// not cross: before a space that follows a non-space, in a model no piece of
// which holds U+2581 (the space) after another character. There no piece
// can span the cut, the BPE merges and the unigram lattice on either side
// are independent, and with the model's dummy prefix the window that starts
// at the space is encoded without it (the prefix stands in for it). Models
// that do not satisfy this (pieces across spaces, collapsed whitespace) are
// tokenized whole, as before. Decoding uses the same windows, with the
// previous window's last token in front (the prefix is stripped from it).
class sentencepiece_tokenizer final : public tokenizer {
 public:
  sentencepiece_tokenizer(const std::string& path, std::size_t window) : window_(window) {
    // sentencepiece says only "Is a directory" or nothing useful for these.
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      throw io_error(fmt::format("--tokenizer {}: {}", path, std::strerror(errno)));
    if (S_ISDIR(st.st_mode))
      throw io_error(fmt::format("--tokenizer {}: is a directory, not a sentencepiece model file", path));
    const auto status = sp_.Load(path);
    if (!status.ok()) throw io_error(fmt::format("--tokenizer {}: cannot load the sentencepiece model: {}", path, status.ToString()));
    windowed_ = cuts_are_safe();
  }

  token_stream tokenize(const std::string& text) const override {
    token_stream s;
    std::uint8_t run = 0;
    for (std::size_t begin = 0; begin < text.size();) {
      const std::size_t end = windowed_ ? next_cut(text, begin) : text.size();
      // A window after the first starts at a space, which the dummy prefix
      // stands in for.
      const std::size_t skip = begin != 0 && dummy_prefix_ ? 1 : 0;
      std::vector<int> ids;
      const auto status = sp_.Encode(std::string_view(text).substr(begin + skip, end - begin - skip), &ids);
      if (!status.ok()) throw lil::error("sentencepiece could not encode the text: " + status.ToString());
      const bool context = !s.ids.empty();
      if (context) ids.insert(ids.begin(), s.ids.back());
      const auto decoded = sp_.DecodeIdsAsImmutableProto(ids);
      if (static_cast<std::size_t>(decoded.pieces_size()) != ids.size())
        throw lil::error("sentencepiece decoded a different number of pieces than it encoded");
      for (std::size_t i = context ? 1 : 0; i < ids.size(); ++i) {
        // The last byte piece of a character carries its text; the bytes
        // before it carry none, and dangle (as U+FFFD each) if the text is cut there.
        const std::string& surface = decoded.pieces(static_cast<int>(i)).surface();
        s.text += surface;
        s.ends.push_back(s.text.size());
        s.ids.push_back(ids[i]);
        run = sp_.IsByte(ids[i]) && surface.empty() ? static_cast<std::uint8_t>(run + 1) : 0;
        s.unfinished.push_back(run);
      }
      begin = end;
    }
    return s;
  }

  std::string prefix_text(const token_stream& s, std::size_t n) const override {
    return sp_.DecodeIds(std::vector<int>(s.ids.begin(), s.ids.begin() + static_cast<std::ptrdiff_t>(n)));
  }

 private:
  // The first cut at or after begin + window_: a space after a non-space,
  // not the last byte (an empty window would get no dummy prefix).
  std::size_t next_cut(const std::string& text, std::size_t begin) const {
    if (text.size() - begin <= window_) return text.size();
    for (std::size_t i = begin + window_; i + 1 < text.size(); ++i)
      if (text[i] == ' ' && text[i - 1] != ' ') return i;
    return text.size();
  }

  bool cuts_are_safe() {
    static constexpr std::string_view space = "\xE2\x96\x81";  // U+2581, sentencepiece's space
    for (int id = 0; id < sp_.GetPieceSize(); ++id) {
      if (sp_.IsControl(id) || sp_.IsUnknown(id) || sp_.IsByte(id) || sp_.IsUnused(id)) continue;
      const std::string piece = sp_.IdToPiece(id);
      std::size_t lead = 0;
      while (piece.compare(lead, space.size(), space) == 0) lead += space.size();
      if (piece.find(space, lead) != std::string::npos) return false;  // a space after another character
      if (piece.find(' ') != std::string::npos) return false;
    }
    // Whitespace must survive as it is (no collapsing, no trimming).
    for (const char* probe : {"a  b", " b", "a "})
      if (sp_.DecodeIds(sp_.EncodeAsIds(probe)) != probe) return false;
    const auto a = sp_.EncodeAsPieces("a");
    dummy_prefix_ = !a.empty() && a.front().compare(0, space.size(), space) == 0;
    // The cut is exact on a probe: pieces of "x  y z" equal those of its halves.
    const std::string whole = "x  y z";
    const auto left = sp_.EncodeAsIds("x"), right = sp_.EncodeAsIds(dummy_prefix_ ? " y z" : "  y z");
    std::vector<int> joined = left;
    joined.insert(joined.end(), right.begin(), right.end());
    return joined == sp_.EncodeAsIds(whole);
  }

  sentencepiece::SentencePieceProcessor sp_;
  std::size_t window_;
  bool windowed_ = false;
  bool dummy_prefix_ = false;
};

}  // namespace

std::unique_ptr<tokenizer> make_byte_chunker(std::size_t bytes_per_token) {
  return std::make_unique<byte_chunker>(bytes_per_token);
}

std::unique_ptr<tokenizer> load_sentencepiece(const std::string& path, std::size_t window) {
  return std::make_unique<sentencepiece_tokenizer>(path, window);
}

}  // namespace lil::cli
