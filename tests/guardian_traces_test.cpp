// The rule on real reasoning traces (../shared/data/traces): every check's
// C(n) and every stop of lil's guardian equal the paper's computation from
// scratch - with zlib in the zlib profile, with lil's engine recompressing in
// the gzip profile. Tokens are 4-byte chunks of the response here (lil guard's
// --bytes-per-token 4); the sentencepiece path is covered by the CLI tests.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "lil/guardian/guardian.hpp"
#include "support/engine_recompressor.hpp"
#include "support/zlib_sizer.hpp"

namespace {

std::vector<std::vector<std::string>> load_traces(const std::string& file, std::size_t bytes_per_token) {
  std::ifstream in(std::string(LIL_TEST_TRACES) + "/" + file);
  if (!in) throw std::runtime_error("cannot open " + file);
  std::vector<std::vector<std::string>> traces;
  std::string line;
  while (std::getline(in, line)) {
    const std::string text = nlohmann::json::parse(line).at("response").get<std::string>();
    std::vector<std::string> tokens;
    for (std::size_t i = 0; i < text.size(); i += bytes_per_token) tokens.push_back(text.substr(i, bytes_per_token));
    traces.push_back(std::move(tokens));
  }
  return traces;
}

lil::guardian_options options(std::uint64_t f, lil::deflate::profile p) {
  lil::guardian_options o;
  o.rule.check_every = static_cast<std::uint32_t>(f);
  o.profile = p;
  o.curve_capacity = 1 << 16;
  return o;
}

template <class G>
lil::test::oracle_result run(G g, const std::vector<std::string>& tokens) {
  for (const auto& t : tokens) g.accept(t);
  lil::test::oracle_result r;
  r.stop = g.decision().stopped_at;
  for (const auto& p : g.curve()) r.checks.emplace_back(p.tokens, p.size);
  return r;
}

void expect_zlib_exact(const std::string& file, std::uint64_t f) {
  const auto traces = load_traces(file, 4);
  ASSERT_FALSE(traces.empty());
  lil::test::oracle_rule rule;
  rule.f = f;
  std::size_t checks = 0;
  for (std::size_t i = 0; i < traces.size(); ++i) {
    const auto got = run(lil::guardian<>(options(f, lil::deflate::profile::zlib)), traces[i]);
    const auto want = lil::test::zlib_oracle(traces[i], rule);
    ASSERT_EQ(got.checks, want.checks) << file << " trace " << i;
    ASSERT_EQ(got.stop, want.stop) << file << " trace " << i;
    checks += want.checks.size();
  }
  EXPECT_GT(checks, traces.size());
}

void expect_gzip_equals_recompress(const std::string& file, std::uint64_t f, std::size_t every) {
  const auto traces = load_traces(file, 4);
  for (std::size_t i = 0; i < traces.size(); i += every) {
    const auto o = options(f, lil::deflate::profile::gzip);
    const auto got = run(lil::guardian<>(o), traces[i]);
    const auto want = run(lil::guardian<lil::test::engine_recompressor>(o), traces[i]);
    ASSERT_EQ(got.checks, want.checks) << file << " trace " << i;
    ASSERT_EQ(got.stop, want.stop) << file << " trace " << i;
  }
}

TEST(guardian_traces, qwq_zlib_profile_equals_zlib_from_scratch) { expect_zlib_exact("qwq32b_math500.jsonl", 250); }
TEST(guardian_traces, qwen_zlib_profile_equals_zlib_from_scratch) { expect_zlib_exact("qwen25math_math100x8.jsonl", 50); }
TEST(guardian_traces, qwq_gzip_profile_equals_recompress) { expect_gzip_equals_recompress("qwq32b_math500.jsonl", 250, 1); }
TEST(guardian_traces, qwen_gzip_profile_equals_recompress) {
  expect_gzip_equals_recompress("qwen25math_math100x8.jsonl", 50, 1);
}

}  // namespace
