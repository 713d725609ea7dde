// A real byte-level BPE vocabulary on the real traces: cl100k as the npm
// package js-tiktoken ships it (fetched, with each trace's ids from its own
// encoder, by scripts/fetch_js_tiktoken.sh). The ids' bytes round-trip every
// trace, and a guardian fed the ids through the vocabulary reports, at every
// check, the C(n) of the decoded prefix compressed from scratch (an unfinished
// character written as one U+FFFD, as Python's errors="replace" decodes) and
// the stop the paper's rule takes on those sizes.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "lil/guardian/guardian.hpp"

namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class cl100k_ids : public ::testing::TestWithParam<const char*> {};

TEST_P(cl100k_ids, round_trip_every_trace_and_price_the_decoded_prefix_at_every_check) {
  const std::string file = GetParam();
  const auto vocab = std::make_shared<const lil::vocabulary>(
      lil::vocabulary::from_tiktoken(read_all(std::string(LIL_TEST_TIKTOKEN) + "/cl100k_base.tiktoken")));
  ASSERT_EQ(vocab->size(), 100256u);
  std::ifstream traces(std::string(LIL_TEST_TRACES) + "/" + file + ".jsonl");
  std::ifstream ids_file(std::string(LIL_TEST_TIKTOKEN) + "/cl100k/" + file + ".ids");
  ASSERT_TRUE(traces && ids_file);
  lil::guardian_options o;
  o.curve_capacity = 1 << 12;
  lil::deflate::options d = o.deflate_options();
  lil::guardian<> g(o, vocab);
  std::size_t count = 0, checks = 0, cut = 0, stops = 0;
  std::string line, id_line;
  while (std::getline(traces, line)) {
    ASSERT_TRUE(std::getline(ids_file, id_line)) << file << ": fewer id lines than traces";
    const std::string text = nlohmann::json::parse(line).at("response").get<std::string>();
    std::vector<lil::token_id> ids;
    std::istringstream in(id_line);
    for (long long v; in >> v;) ids.push_back(static_cast<lil::token_id>(v));
    std::string decoded;
    std::vector<std::size_t> ends;
    for (auto id : ids) {
      ASSERT_TRUE(vocab->contains(id)) << file << " trace " << count << ": id " << id;
      decoded += vocab->bytes(id);
      ends.push_back(decoded.size());
    }
    ASSERT_EQ(decoded, text) << file << " trace " << count << " does not round-trip";
    g.reset();
    for (auto id : ids) g.accept_id(id);
    lil::plateau_detector rule(o.rule);
    std::uint64_t want_stop = 0;
    ASSERT_EQ(g.curve().size(), ids.size() / o.rule.check_every);
    for (const auto& p : g.curve()) {
      std::string prefix = text.substr(0, ends[p.tokens - 1]);
      const std::size_t tail = lil::detail::unfinished_utf8_tail(prefix);
      if (tail) {
        prefix.resize(prefix.size() - tail);
        prefix += "\xEF\xBF\xBD";
        ++cut;
      }
      lil::check_point q;
      q.tokens = p.tokens;
      q.bytes = p.bytes;
      q.size = lil::deflate::deflate_size(prefix.data(), prefix.size(), d);
      ASSERT_EQ(p.size, q.size) << file << " trace " << count << " n = " << p.tokens;
      if (rule.observe(q).action == lil::verdict::stop && want_stop == 0) want_stop = p.tokens;
    }
    EXPECT_EQ(g.decision().stopped_at, want_stop) << file << " trace " << count;
    checks += g.curve().size();
    stops += want_stop != 0;
    ++count;
  }
  EXPECT_FALSE(std::getline(ids_file, id_line)) << file << ": more id lines than traces";
  EXPECT_GT(count, 300u);
  EXPECT_GT(checks, count / 2);
  std::printf("%s: %zu traces, %zu checks (%zu cut a character), %zu stops\n", file.c_str(), count, checks, cut, stops);
}

INSTANTIATE_TEST_SUITE_P(traces, cl100k_ids, ::testing::Values("qwq32b_math500", "qwen25math_math100x8"));

}  // namespace
