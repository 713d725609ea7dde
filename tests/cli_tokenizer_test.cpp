// `lil guard --tokenizer` cuts a long trace into windows before sentencepiece
// sees it (its memory per byte is large). The cuts must change nothing: the
// ids, the token texts and the unfinished-character counts of a windowed
// tokenization equal those of the whole text, on the real traces and on text
// made to stress the cuts (runs of spaces, byte-fallback characters, tabs and
// newlines next to the cut points).
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sentencepiece_processor.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "guard_tokens.hpp"
#include "heap_peak.hpp"

namespace {

const std::string model = LIL_TEST_TOKENIZER;

void expect_same_tokens(const std::string& text, std::size_t window) {
  const auto whole = lil::cli::load_sentencepiece(model, std::size_t(-1));
  const auto cut = lil::cli::load_sentencepiece(model, window);
  const auto a = whole->tokenize(text);
  const auto b = cut->tokenize(text);
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load(model).ok());
  ASSERT_EQ(a.ids, sp.EncodeAsIds(text)) << "the whole-text tokenization is not sentencepiece's";
  std::size_t first = 0;
  while (first < a.ids.size() && first < b.ids.size() && a.ids[first] == b.ids[first]) ++first;
  if (first < a.ids.size() || first < b.ids.size()) {
    const std::size_t at = first == 0 ? 0 : a.ends[first - 1];
    ADD_FAILURE() << "window " << window << ": token " << first << " differs, at byte " << at << " of the text, near '"
                  << text.substr(at < 12 ? 0 : at - 12, 24) << "': whole " << sp.IdToPiece(a.ids[first]) << " vs cut "
                  << (first < b.ids.size() ? sp.IdToPiece(b.ids[first]) : std::string("(none)"));
    return;
  }
  ASSERT_EQ(b.text, a.text) << "window " << window;
  ASSERT_EQ(b.ends, a.ends) << "window " << window;
  ASSERT_EQ(b.unfinished, a.unfinished) << "window " << window;
  EXPECT_EQ(a.text, sp.DecodeIds(a.ids));
}

TEST(GuardTokenizer, WindowsGiveTheTokensOfTheWholeTextOnRealTraces) {
  std::ifstream in(LIL_TEST_TRACES "/qwq32b_math500.jsonl");
  ASSERT_TRUE(in) << "cannot open the QwQ traces";
  std::string line;
  for (int n = 0; n < 6 && std::getline(in, line); ++n) {
    const auto text = nlohmann::json::parse(line).at("response").get<std::string>();
    for (std::size_t window : {1, 37, 1000}) expect_same_tokens(text, window);
  }
}

TEST(GuardTokenizer, WindowsGiveTheTokensOfTheWholeTextAtAwkwardCuts) {
  std::string text;
  for (int k = 0; k < 300; ++k)
    text += "step " + std::to_string(k) + ":  \xF0\x9F\xA6\x80\xF0\x9F\xA7\xAA  \xE4\xB9\x99 \tx\n  y   z" +
            std::string(static_cast<std::size_t>(k % 5), ' ') + "ok. ";
  for (std::size_t window : {1, 2, 3, 5, 8, 64}) expect_same_tokens(text, window);
  expect_same_tokens("  leading spaces and trailing  ", 1);
  expect_same_tokens("nospacesatallinthistext", 1);
}

// Tokenizing a 1 MB trace: sentencepiece on the whole text holds about 90
// bytes per input byte; windows bound that by the window. The baseline (one
// window: the whole text) is measured in the same run.
std::size_t peak_heap_of_tokenizing(const std::string& text, std::size_t window) {
  const auto tok = lil::cli::load_sentencepiece(model, window);
  const std::size_t before = lil_heap::start_peak();
  const auto tokens = tok->tokenize(text);
  EXPECT_GT(tokens.size(), text.size() / 8);
  return lil_heap::peak.load() - before;
}

TEST(GuardTokenizer, WindowsBoundTheMemoryPerInputByte) {
  std::ifstream in(LIL_TEST_TRACES "/qwq32b_math500.jsonl");
  ASSERT_TRUE(in);
  std::string line, text;
  while (text.size() < (1u << 20) && std::getline(in, line))
    text += nlohmann::json::parse(line).at("response").get<std::string>() + "\n";
  const double whole = static_cast<double>(peak_heap_of_tokenizing(text, std::size_t(-1))) / static_cast<double>(text.size());
  const double windowed = static_cast<double>(peak_heap_of_tokenizing(text, std::size_t{1} << 16)) / static_cast<double>(text.size());
  std::printf("peak heap per input byte while tokenizing %zu bytes: whole text %.1f, 64 KiB windows %.1f\n", text.size(),
              whole, windowed);
  // What stays is the token stream itself (text, ends, ids: about 6 bytes a
  // byte here, up to twice that while its vectors grow); 122 before windows.
  EXPECT_LT(windowed, 20.0);
  EXPECT_GT(whole / windowed, 4.0);
}

}  // namespace
