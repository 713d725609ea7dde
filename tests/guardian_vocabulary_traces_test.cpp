// Ids through a vocabulary on the real traces (../shared/data/traces): a
// guardian fed the ids a tokenizer gives for a trace reports exactly the
// checks (every C(n)) and the stop that pricing the decoded text reports.
//   - sentencepiece (Llama-2's model, lil::sentencepiece): against `lil guard
//     --tokenizer`, which prices the text sentencepiece decodes;
//   - byte-level BPE (cl100k ranks from the npm package js-tiktoken, fetched
//     by scripts/fetch_tiktoken.sh; ids by js-tiktoken's own encoder): the
//     ids' bytes round-trip every trace, and every C(n) equals the size of
//     the decoded prefix compressed from scratch.
#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "lil/guardian/guardian.hpp"
#include "lil/guardian/sentencepiece.hpp"

namespace {

std::vector<std::string> load_responses(const std::string& file) {
  std::ifstream in(std::string(LIL_TEST_TRACES) + "/" + file);
  if (!in) throw std::runtime_error("cannot open " + file);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line).at("response").get<std::string>());
  return out;
}

std::vector<nlohmann::json> run_lil_guard(const std::string& file, std::uint32_t f, double t) {
  const std::string command = std::string(LIL_TEST_CLI) + " guard --tokenizer " + LIL_TEST_SP_MODEL + " --f " +
                              std::to_string(f) + " --t " + std::to_string(t) + " " + LIL_TEST_TRACES + "/" + file +
                              " 2>/dev/null";
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> p(::popen(command.c_str(), "r"), ::pclose);
  if (!p) throw std::runtime_error("popen failed");
  std::string all;
  char buf[1 << 16];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p.get())) > 0;) all.append(buf, n);
  std::vector<nlohmann::json> lines;
  std::istringstream in(all);
  for (std::string line; std::getline(in, line);) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

lil::guardian_options rule(std::uint32_t f, double t) {
  lil::guardian_options o;
  o.rule.check_every = f;
  o.rule.min_gain = t;
  o.curve_capacity = 1 << 16;
  return o;
}

class sentencepiece_ids : public ::testing::TestWithParam<std::tuple<const char*, std::uint32_t, double>> {};

TEST_P(sentencepiece_ids, report_the_checks_and_stops_of_lil_guard_tokenizer) {
  const auto [file, f, t] = GetParam();
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load(LIL_TEST_SP_MODEL).ok());
  const auto vocab = std::make_shared<const lil::vocabulary>(lil::load_sentencepiece_vocabulary(LIL_TEST_SP_MODEL));
  EXPECT_TRUE(vocab->strips_leading_space());
  const auto texts = load_responses(file);
  const auto want = run_lil_guard(file, f, t);
  ASSERT_EQ(want.size(), texts.size());
  lil::guardian<> g(rule(f, t), vocab);
  std::size_t checks = 0, stops = 0;
  std::vector<int> ids;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    ASSERT_TRUE(sp.Encode(texts[i], &ids).ok());
    g.reset();
    for (int id : ids) g.accept_id(id);
    const auto& w = want[i];
    ASSERT_EQ(w.at("tokens").get<std::size_t>(), ids.size()) << file << " trace " << i;
    const std::uint64_t stop = w.at("stop").is_null() ? 0 : w.at("stop").get<std::uint64_t>();
    EXPECT_EQ(g.decision().stopped_at, stop) << file << " trace " << i;
    const auto& wc = w.at("checks");
    ASSERT_EQ(g.curve().size(), wc.size()) << file << " trace " << i;
    for (std::size_t c = 0; c < wc.size(); ++c) {
      ASSERT_EQ(g.curve()[c].tokens, wc[c][0].get<std::uint64_t>());
      ASSERT_EQ(g.curve()[c].size, wc[c][1].get<std::uint64_t>()) << file << " trace " << i << " check " << c;
    }
    checks += wc.size();
    stops += stop != 0;
  }
  EXPECT_GT(checks, texts.size());
  RecordProperty("checks", static_cast<int>(checks));
  RecordProperty("stops", static_cast<int>(stops));
}

INSTANTIATE_TEST_SUITE_P(
    traces, sentencepiece_ids,
    ::testing::Values(std::make_tuple("qwq32b_math500.jsonl", 250u, 20.0),
                      std::make_tuple("qwen25math_math100x8.jsonl", 250u, 20.0),
                      std::make_tuple("qwen25math_math100x8.jsonl", 37u, 3.0)));

TEST(sentencepiece_vocabulary, bytes_of_every_id_are_what_sentencepiece_decodes) {
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.Load(LIL_TEST_SP_MODEL).ok());
  const auto v = lil::load_sentencepiece_vocabulary(LIL_TEST_SP_MODEL);
  ASSERT_EQ(v.size(), static_cast<std::size_t>(sp.GetPieceSize()));
  const int a = sp.PieceToId("a");
  std::size_t compared = 0;
  for (int id = 0; id < sp.GetPieceSize(); ++id) {
    if (sp.IsByte(id)) continue;  // a lone byte decodes to U+FFFD unless its character completes
    // In the middle of a text: after "a".
    const std::string mid = sp.DecodeIds({a, id}).substr(1);
    ASSERT_EQ(std::string(v.bytes(id)), mid) << "id " << id << " piece " << sp.IdToPiece(id);
    // At the start of a text.
    ASSERT_EQ(std::string(v.first_bytes(id)), sp.DecodeIds({id})) << "id " << id << " piece " << sp.IdToPiece(id);
    ++compared;
  }
  EXPECT_GT(compared, 31000u);
  EXPECT_EQ(v.bytes(sp.PieceToId("<0x0A>")), "\n");
  EXPECT_EQ(v.bytes(sp.bos_id()), "");
  EXPECT_EQ(v.bytes(sp.eos_id()), "");
}

TEST(sentencepiece_vocabulary, a_missing_model_is_named) {
  try {
    (void)lil::load_sentencepiece_vocabulary("/nonexistent/tokenizer.model");
    FAIL() << "no error";
  } catch (const lil::error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tokenizer.model"), std::string::npos) << e.what();
  }
}

}  // namespace
