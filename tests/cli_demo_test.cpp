// `lil demo`, run as a user runs it: from an empty directory (the model is
// embedded), small runs whose JSON has exactly the documented keys and sane
// values, figures that do not depend on the thread count, plots written, and
// bad flags answered with one line and exit status 2.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace {

namespace fs = std::filesystem;

struct run_result {
  int status;
  std::string out, err;
};

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A fresh, empty working directory per test.
fs::path empty_dir(const std::string& name) {
  const fs::path dir = fs::path(::testing::TempDir()) / ("lil_demo_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// Runs `lil demo ARGS` in `dir`; stdout and stderr captured.
run_result demo(const fs::path& dir, const std::string& args) {
  const fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string command = "cd '" + dir.string() + "' && env -u LIL_SHARED_DIR '" + std::string(LIL_TEST_CLI) +
                              "' demo " + args + " > '" + out.string() + "' 2> '" + err.string() + "'";
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(out), read_text(err)};
}

std::size_t lines(const std::string& s) {
  std::size_t n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

const std::set<std::string> keys = {"model",       "policy",   "budget",          "problems",
                                    "accuracy",    "accuracy_guardian", "mean_tokens", "mean_tokens_guardian",
                                    "ms_per_token", "total_s", "total_s_guardian", "kv_bytes"};

TEST(cli_demo, json_has_exactly_the_documented_keys_and_sane_values) {
  const fs::path dir = empty_dir("json");
  const run_result r = demo(dir, "--problems 2 --json -");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto rows = nlohmann::json::parse(r.out);  // stdout holds only the JSON; the table went to stderr
  ASSERT_TRUE(rows.is_array());
  EXPECT_EQ(rows.size(), 21u);  // full, and 5 policies x 4 budgets
  std::set<std::string> policies;
  for (const auto& row : rows) {
    SCOPED_TRACE(row.dump());
    std::set<std::string> seen;
    for (const auto& item : row.items()) seen.insert(item.key());
    EXPECT_EQ(seen, keys);
    EXPECT_EQ(row["model"], "reasoner");
    policies.insert(row["policy"].get<std::string>());
    if (row["policy"] == "full") {
      EXPECT_TRUE(row["budget"].is_null());
    } else {
      ASSERT_TRUE(row["budget"].is_number_integer());
      EXPECT_TRUE(std::set<int>({16, 32, 64, 128}).count(row["budget"].get<int>()));
    }
    EXPECT_EQ(row["problems"], 2);
    for (const char* k : {"accuracy", "accuracy_guardian"}) {
      ASSERT_TRUE(row[k].is_number());
      EXPECT_GE(row[k].get<double>(), 0);
      EXPECT_LE(row[k].get<double>(), 1);
    }
    const double tokens = row["mean_tokens"], tokens_g = row["mean_tokens_guardian"];
    EXPECT_GT(tokens, 0);
    EXPECT_LE(tokens, 400);  // the default cap
    EXPECT_GT(tokens_g, 0);
    EXPECT_LE(tokens_g, tokens);
    EXPECT_GT(row["ms_per_token"].get<double>(), 0);
    EXPECT_GT(row["total_s"].get<double>(), 0);
    EXPECT_LE(row["total_s_guardian"].get<double>(), row["total_s"].get<double>());
    EXPECT_GT(row["kv_bytes"].get<double>(), 0);
  }
  EXPECT_EQ(policies, (std::set<std::string>{"full", "sink", "h2o", "quest", "snapkv", "tova"}));
  // The table and the settings went to stderr; the plots to the default folder in the working directory.
  EXPECT_NE(r.err.find("Guardian: f = 25 tokens, t = 2 bytes"), std::string::npos) << r.err;
  for (const char* plot : {"reasoner_length.svg", "reasoner_accuracy.svg", "reasoner_guardian_savings.svg"}) {
    const std::string svg = read_text(dir / "lil-demo-plots" / plot);
    EXPECT_EQ(svg.rfind("<svg", 0), 0u) << plot;
    EXPECT_NE(svg.find("</svg>"), std::string::npos) << plot;
  }
}

TEST(cli_demo, figures_do_not_depend_on_the_thread_count) {
  const fs::path dir = empty_dir("threads");
  const std::string common = "--problems 3 --policies full,sink,tova --budgets 16,64 --plots '' --json - ";
  const run_result one = demo(dir, common + "--threads 1");
  const run_result two = demo(dir, common + "--threads 2");
  ASSERT_EQ(one.status, 0) << one.err;
  ASSERT_EQ(two.status, 0) << two.err;
  const auto a = nlohmann::json::parse(one.out), b = nlohmann::json::parse(two.out);
  ASSERT_EQ(a.size(), 5u);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i)
    for (const char* k : {"policy", "budget", "accuracy", "accuracy_guardian", "mean_tokens", "mean_tokens_guardian",
                          "kv_bytes"})
      EXPECT_EQ(a[i][k], b[i][k]) << i << " " << k;
  EXPECT_FALSE(fs::exists(dir / "lil-demo-plots"));  // --plots '' writes none
}

TEST(cli_demo, table_lists_every_configuration_and_json_file_is_written) {
  const fs::path dir = empty_dir("table");
  const run_result r = demo(dir, "--problems 1 --policies h2o,full --budgets 32 --plots plots --json rows.json");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("policy  budget problems accuracy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nh2o         32 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\nfull         - "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("wall time:"), std::string::npos) << r.out;
  const auto rows = nlohmann::json::parse(read_text(dir / "rows.json"));
  EXPECT_EQ(rows.size(), 2u);
  EXPECT_TRUE(fs::exists(dir / "plots" / "reasoner_length.svg"));
}

TEST(cli_demo, bad_flags_are_one_line_errors_with_status_2) {
  const fs::path dir = empty_dir("flags");
  const std::pair<const char*, const char*> cases[] = {
      {"--problems 0", "--problems"},         {"--problems 201", "--problems"},
      {"--problems two", "--problems"},       {"--policies full,bogus", "--policies"},
      {"--budgets 16,x", "--budgets"},        {"--threads 0", "--threads"},
      {"--f 0", "--f"},                       {"--t -1", "--t"},
      {"--max-tokens 0", "--max-tokens"},     {"--budgets 2 --policies sink", "budget 2"},
      {"--no-such-flag", "--no-such-flag"},
  };
  for (const auto& [args, named] : cases) {
    SCOPED_TRACE(args);
    const run_result r = demo(dir, args);
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(lines(r.err), 1u) << r.err;
    EXPECT_NE(r.err.find(named), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
  }
}

TEST(cli_demo, a_missing_stories_model_is_named_with_status_1) {
  const fs::path dir = empty_dir("stories_missing");
  const run_result r = demo(dir, "--problems 1 --stories /no/such/folder");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find("/no/such/folder"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("tinyllamas"), std::string::npos) << r.err;
}

#ifdef LIL_TEST_STORIES_DIR
TEST(cli_demo, stories_rows_follow_the_reasoner_rows_without_accuracy) {
  const fs::path dir = empty_dir("stories");
  const run_result r = demo(dir, "--problems 1 --policies full,sink --budgets 32 --story-tokens 40 --plots p --json - "
                                 "--stories '" LIL_TEST_STORIES_DIR "'");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto rows = nlohmann::json::parse(r.out);
  ASSERT_EQ(rows.size(), 4u);
  for (std::size_t i = 2; i < 4; ++i) {
    EXPECT_EQ(rows[i]["model"], "stories260K");
    EXPECT_TRUE(rows[i]["accuracy"].is_null());
    EXPECT_TRUE(rows[i]["accuracy_guardian"].is_null());
    EXPECT_EQ(rows[i]["problems"], 10);
    EXPECT_LE(rows[i]["mean_tokens"].get<double>(), 40);
  }
  EXPECT_NE(r.err.find("rep4"), std::string::npos);
  EXPECT_TRUE(fs::exists(dir / "p" / "stories260K_perplexity.svg"));
}
#endif

}  // namespace
