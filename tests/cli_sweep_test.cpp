// `lil sweep`: the judge's extraction and normalisation on hand-made cases,
// and the command from the outside - its rows for Guardian rules equal
// `lil guard`'s stops on the same traces, its output does not depend on
// --threads, bad records are named.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "lil/config.hpp"
#include "sweep_judge.hpp"

namespace {

using lil::cli::answer_extractor;
using lil::cli::answers_equal;
using lil::cli::normalize_answer;

TEST(SweepJudge, TakesTheLastBalancedBox) {
  const answer_extractor judge;
  EXPECT_EQ(judge.extract("first \\boxed{3}, then \\boxed{4}."), "4");
  EXPECT_EQ(judge.extract("\\boxed{\\frac{1}{2}}"), "\\frac{1}{2}");
  EXPECT_EQ(judge.extract("\\boxed {x^{2}+1}"), "x^{2}+1");
  EXPECT_EQ(judge.extract("\\boxed{\\{1, 2\\}}"), "\\{1, 2\\}");  // escaped braces do not group
  EXPECT_EQ(judge.extract("\\boxed{5} and \\boxed{6"), "5");        // the open box is no answer
  EXPECT_EQ(judge.extract("\\boxed{\\boxed{7}}"), "\\boxed{7}");    // inner boxes belong to the outer
  EXPECT_FALSE(judge.extract("no answer here").has_value());
  EXPECT_FALSE(judge.extract("\\boxed 5").has_value());
}

TEST(SweepJudge, APrefixKeepsTheSpansThatEndInsideIt) {
  const answer_extractor judge;
  const std::string text = "so \\boxed{12} is wrong; redo: \\boxed{\\frac{3}{4}} final";
  const auto spans = judge.spans(text);
  ASSERT_EQ(spans.size(), 2u);
  for (std::size_t cut = 0; cut <= text.size(); ++cut) {
    std::optional<std::string> from_spans;
    for (const auto& s : spans)
      if (s.end <= cut) from_spans = s.answer;
    EXPECT_EQ(judge.extract(std::string_view(text).substr(0, cut)), from_spans) << "cut " << cut;
  }
}

TEST(SweepJudge, PatternFlagTakesGroupOneOrTheMatch) {
  const answer_extractor group("answer is (\\w+)");
  EXPECT_EQ(group.extract("the answer is 7, no, the answer is 9."), "9");
  const answer_extractor whole("#[0-9]+");
  EXPECT_EQ(whole.extract("#1 then #22"), "#22");
  EXPECT_THROW(answer_extractor("(unclosed"), lil::error);
}

TEST(SweepJudge, NormalisationMakesEqualWhatIsWrittenDifferently) {
  EXPECT_TRUE(answers_equal("\\dfrac{1}{2}", "\\frac12"));
  EXPECT_TRUE(answers_equal("10\\%", "10"));
  EXPECT_TRUE(answers_equal("1,000,000", "1000000"));
  EXPECT_TRUE(answers_equal("1{,}000", "1000"));
  EXPECT_TRUE(answers_equal("x = 5", "5"));
  EXPECT_TRUE(answers_equal("\\text{(A)}", "(A)"));
  EXPECT_TRUE(answers_equal("90^\\circ", "90"));
  EXPECT_TRUE(answers_equal("0.50", "0.5"));
  EXPECT_TRUE(answers_equal("{7}", "7"));
  EXPECT_TRUE(answers_equal("\\left( 3, 4 \\right]", "(3,4]"));
  EXPECT_TRUE(answers_equal("$12.$", "12"));
  EXPECT_EQ(normalize_answer(" \\tfrac{a}{b} "), "\\frac{a}{b}");
}

TEST(SweepJudge, NormalisationKeepsDifferentAnswersApart) {
  EXPECT_FALSE(answers_equal("\\frac{1}{2}", "0.5"));  // no symbolic algebra (documented)
  EXPECT_FALSE(answers_equal("12", "21"));
  EXPECT_FALSE(answers_equal("1,00", "100"));          // not a thousands grouping
  EXPECT_FALSE(answers_equal("(1,2)", "(2,1)"));
  EXPECT_FALSE(answers_equal("{1}{2}", "12"));         // the braces are not around the whole
  EXPECT_FALSE(answers_equal("", "0"));
}

// --- the command -------------------------------------------------------------

struct run_result {
  int status = -1;
  std::string out;
};

// ctest runs each case as its own process, several at once: every case
// keeps its files apart under its own name.
std::string temp_path(const std::string& name) {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  return ::testing::TempDir() + "lil_sweep_" + (test ? std::string(test->name()) + "_" : std::string()) + name;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

run_result run(const std::string& args) {
  const std::string out = temp_path("stdout"), err = temp_path("stderr");
  const std::string cmd = std::string(LIL_TEST_CLI) + " " + args + " >" + out + " 2>" + err;
  const int raw = std::system(cmd.c_str());
  run_result r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = slurp(out) + slurp(err);
  return r;
}

std::vector<nlohmann::json> lines(const std::string& text) {
  std::vector<nlohmann::json> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  return out;
}

// Traces that say new things for a while, then loop, with a boxed answer
// before the loop (kept by a stop) or only at the very end (lost by one).
std::string synthetic_traces() {
  std::string out;
  for (int k = 0; k < 12; ++k) {
    std::string text;
    for (int i = 0; i < 60 + 15 * k; ++i)
      text += "step " + std::to_string(i) + ": " + std::to_string(i * (k + 3)) + " plus " + std::to_string(i * i) + ". ";
    if (k % 2 == 0) text += "So \\\\boxed{" + std::to_string(k) + "}. ";
    for (int i = 0; i < 40 * (k % 4); ++i) text += "Wait, let me check that again. ";
    if (k % 2 == 1) text += "Finally \\\\boxed{" + std::to_string(k) + "}.";
    out += "{\"id\": " + std::to_string(k) + ", \"response\": \"" + text + "\", \"answer\": \"" +
           std::to_string(k % 3 == 0 ? k + 100 : k) + "\"}\n";
  }
  return out;
}

std::string write_input(const std::string& name, const std::string& content) {
  const std::string path = temp_path(name);
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

// `lil guard`'s stop per trace, for the given flags.
std::vector<std::uint64_t> guard_stops(const std::string& input, const std::string& flags) {
  const auto r = run("guard " + input + " " + flags);
  EXPECT_EQ(r.status, 0) << r.out;
  std::vector<std::uint64_t> stops;
  for (const auto& j : lines(slurp(temp_path("stdout")))) stops.push_back(j["stop"].is_null() ? 0 : j["stop"].get<std::uint64_t>());
  return stops;
}

// The sweep over one Guardian rule: its per-trace stops and its JSON row.
std::pair<std::vector<std::uint64_t>, nlohmann::json> sweep_stops(const std::string& input, const std::string& tokens,
                                                                  const std::string& f, const std::string& t) {
  const std::string json = temp_path("rows.json"), per = temp_path("per.json");
  const auto r = run("sweep " + input + " " + tokens + " --no-repetition --patience 1 --warmup 0 --f " + f + " --t " + t +
                     " --json " + json + " --per-trace " + per);
  EXPECT_EQ(r.status, 0) << r.out;
  const auto rows = lines(slurp(json));
  std::size_t column = rows.size();
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i]["f"] == std::stoi(f) && rows[i]["t"] == std::stod(t)) column = i;
  EXPECT_LT(column, rows.size());
  std::vector<std::uint64_t> stops;
  for (const auto& j : lines(slurp(per))) stops.push_back(j["stops"][column].get<std::uint64_t>());
  return {stops, rows.at(column)};
}

void expect_rows_equal_guard(const std::string& input, const std::string& tokens, const std::string& f,
                             const std::string& t) {
  const auto expected = guard_stops(input, tokens + " --f " + f + " --t " + t);
  const auto [got, row] = sweep_stops(input, tokens, f, t);
  EXPECT_EQ(got, expected) << "f " << f << " t " << t;
  std::size_t stopped = 0;
  for (auto n : expected) stopped += n != 0;
  EXPECT_EQ(row["stopped"].get<std::size_t>(), stopped);
}

TEST(SweepCommand, GuardianRowsEqualLilGuardsStops) {
  const std::string input = write_input("synthetic.jsonl", synthetic_traces());
  expect_rows_equal_guard(input, "--bytes-per-token 3", "250", "20");  // the paper's rule
  expect_rows_equal_guard(input, "--bytes-per-token 3", "50", "20");
  const auto [stops, row] = sweep_stops(input, "--bytes-per-token 3", "50", "20");
  EXPECT_GT(row["stopped"].get<int>(), 3);  // the comparison covers real stops
}

// The repetition rule and the pair: `lil guard --rule repetition|either`.
TEST(SweepCommand, RepetitionAndEitherRowsEqualLilGuardsStops) {
  const std::string input = write_input("synthetic.jsonl", synthetic_traces());
  const std::string rep = "--repeat-min-size 1 --repeat-max-size 40 --repeat-count 3";
  const auto r = run("sweep " + input + " --bytes-per-token 3 --combine --f 50 --t 20 --patience 1 --warmup 0 " + rep +
                     " --json " + temp_path("e.json") + " --per-trace " + temp_path("ep.json"));
  ASSERT_EQ(r.status, 0) << r.out;
  const auto rows = lines(slurp(temp_path("e.json")));
  const auto traces = lines(slurp(temp_path("ep.json")));
  for (const char* kind : {"repetition", "either"}) {
    std::size_t column = rows.size();
    for (std::size_t i = 0; i < rows.size(); ++i)
      if (rows[i]["kind"] == kind && (rows[i]["kind"] == "repetition" || rows[i]["f"] == 50)) column = i;
    ASSERT_LT(column, rows.size()) << kind;
    std::vector<std::uint64_t> got;
    for (const auto& t : traces) got.push_back(t["stops"][column].get<std::uint64_t>());
    const auto expected = guard_stops(input, std::string("--bytes-per-token 3 --f 50 --t 20 --rule ") + kind + " " + rep);
    EXPECT_EQ(got, expected) << kind;
    std::size_t stopped = 0;
    for (auto n : expected) stopped += n != 0;
    EXPECT_GT(stopped, 0u) << kind;
  }
}

#ifdef LIL_TEST_SHARED
TEST(SweepCommand, GuardianRowsEqualLilGuardsStopsOnSharedTraces) {
  // The first 80 QwQ traces, tokenized with Llama 2's sentencepiece model:
  // cuts inside byte-fallback characters are priced as `lil guard` prices them.
  std::ifstream in(std::string(LIL_TEST_SHARED) + "/data/traces/qwq32b_math500.jsonl");
  std::string content, line;
  for (int i = 0; i < 80 && std::getline(in, line); ++i) content += line + "\n";
  const std::string input = write_input("qwq80.jsonl", content);
  const std::string tokens = std::string("--tokenizer ") + LIL_TEST_SHARED + "/tokenizers/llama2/tokenizer.model";
  expect_rows_equal_guard(input, tokens, "250", "20");
  expect_rows_equal_guard(input, tokens, "100", "40");
}
#endif

TEST(SweepCommand, ResultsDoNotDependOnThreads) {
  const std::string input = write_input("synthetic.jsonl", synthetic_traces());
  std::string outputs[2];
  for (int threads : {1, 2}) {
    const auto r = run("sweep " + input + " --bytes-per-token 3 --combine --f 50,100,250 --t 5,20 --repeat-max-size 2,8 " +
                       "--repeat-count 3,6 --threads " + std::to_string(threads) + " --json " + temp_path("t.json") +
                       " --per-trace " + temp_path("p.json"));
    ASSERT_EQ(r.status, 0) << r.out;
    outputs[threads - 1] = slurp(temp_path("t.json")) + slurp(temp_path("p.json"));
  }
  EXPECT_FALSE(outputs[0].empty());
  EXPECT_EQ(outputs[0], outputs[1]);
}

TEST(SweepCommand, JudgesCutsByTheAnswerTheyKeep) {
  const std::string input = write_input("synthetic.jsonl", synthetic_traces());
  const auto r = run("sweep " + input + " --bytes-per-token 3 --no-repetition --f 50 --t 20 --patience 1 --warmup 0 --json " +
                     temp_path("j.json") + " --per-trace " + temp_path("pt.json"));
  ASSERT_EQ(r.status, 0) << r.out;
  const auto rows = lines(slurp(temp_path("j.json")));
  const auto traces = lines(slurp(temp_path("pt.json")));
  std::size_t column = 0;
  for (std::size_t i = 0; i < rows.size(); ++i)
    if (rows[i]["f"] == 50) column = i;
  for (const auto& t : traces) {
    const int k = t["id"];
    EXPECT_EQ(t["correct"].get<bool>(), k % 3 != 0) << k;  // the reference is k, except k + 100 when k % 3 == 0
    const bool stopped = t["stops"][column].get<std::uint64_t>() != 0;
    // Odd traces box their answer only at the end: a stop loses it.
    if (stopped && k % 2 == 1) {
      EXPECT_FALSE(t["correct_after"][column].get<bool>()) << k;
    }
    if (stopped && k % 2 == 0) {
      EXPECT_EQ(t["correct_after"][column].get<bool>(), k % 3 != 0) << k;
    }
  }
  const auto& row = rows[column];
  EXPECT_EQ(row["correct_before"].get<int>() - row["lost"].get<int>() + row["gained"].get<int>(),
            row["correct_after"].get<int>());
}

TEST(SweepCommand, BadRecordsAreNamedAndTheOthersSwept) {
  const std::string input = write_input(
      "bad.jsonl",
      "{\"response\": \"a \\\\boxed{1}\", \"answer\": \"1\"}\n"
      "{\"response\": \"no answer field\"}\n"
      "{\"response\": \"b\", \"answer\": \"2\", \"is_correct\": \"yes\"}\n"
      "{\"response\": \"c \\\\boxed{3}\", \"answer\": 3}\n");
  const auto r = run("sweep " + input + " --bytes-per-token 2 --json " + temp_path("b.json"));
  EXPECT_EQ(r.status, 3) << r.out;
  EXPECT_NE(r.out.find("line 2: no field \"answer\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("line 3: field \"is_correct\" is a string, not true or false"), std::string::npos) << r.out;
  const auto rows = lines(slurp(temp_path("b.json")));
  ASSERT_FALSE(rows.empty());
  EXPECT_EQ(rows[0]["traces"], 2);
  EXPECT_EQ(rows[0]["correct_before"], 2);
}

TEST(SweepCommand, BadFlagsAreNamed) {
  auto r = run("sweep x.jsonl --bytes-per-token 2 --f 0");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("--f"), std::string::npos) << r.out;
  r = run("sweep x.jsonl --bytes-per-token 2 --repeat-count 1");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.out.find("--repeat-count"), std::string::npos) << r.out;
  r = run("sweep x.jsonl --bytes-per-token 2 --answer-regex '('");
  EXPECT_NE(r.out.find("--answer-regex"), std::string::npos) << r.out;
}

}  // namespace
