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

class sentencepiece_tokenizer final : public tokenizer {
 public:
  explicit sentencepiece_tokenizer(const std::string& path) {
    // sentencepiece says only "Is a directory" or nothing useful for these.
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      throw io_error(fmt::format("--tokenizer {}: {}", path, std::strerror(errno)));
    if (S_ISDIR(st.st_mode))
      throw io_error(fmt::format("--tokenizer {}: is a directory, not a sentencepiece model file", path));
    const auto status = sp_.Load(path);
    if (!status.ok()) throw io_error(fmt::format("--tokenizer {}: cannot load the sentencepiece model: {}", path, status.ToString()));
  }

  token_stream tokenize(const std::string& text) const override {
    token_stream s;
    const auto status = sp_.Encode(text, &s.ids);
    if (!status.ok()) throw lil::error("sentencepiece could not encode the text: " + status.ToString());
    const auto decoded = sp_.DecodeIdsAsImmutableProto(s.ids);
    const std::size_t n = decoded.pieces_size();
    if (n != s.ids.size()) throw lil::error("sentencepiece decoded a different number of pieces than it encoded");
    s.ends.reserve(n);
    s.unfinished.reserve(n);
    std::uint8_t run = 0;
    for (std::size_t i = 0; i < n; ++i) {
      // The last byte piece of a character carries its text; the bytes before
      // it carry none, and dangle (as U+FFFD each) if the text is cut there.
      const std::string& surface = decoded.pieces(static_cast<int>(i)).surface();
      s.text += surface;
      s.ends.push_back(s.text.size());
      run = sp_.IsByte(s.ids[i]) && surface.empty() ? static_cast<std::uint8_t>(run + 1) : 0;
      s.unfinished.push_back(run);
    }
    return s;
  }

  std::string prefix_text(const token_stream& s, std::size_t n) const override {
    return sp_.DecodeIds(std::vector<int>(s.ids.begin(), s.ids.begin() + static_cast<std::ptrdiff_t>(n)));
  }

 private:
  sentencepiece::SentencePieceProcessor sp_;
};

}  // namespace

std::unique_ptr<tokenizer> make_byte_chunker(std::size_t bytes_per_token) {
  return std::make_unique<byte_chunker>(bytes_per_token);
}

std::unique_ptr<tokenizer> load_sentencepiece(const std::string& path) {
  return std::make_unique<sentencepiece_tokenizer>(path);
}

}  // namespace lil::cli
