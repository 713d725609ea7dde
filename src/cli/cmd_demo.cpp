// `lil demo`: a real decode loop that shows "Less is Less" and what Guardian
// saves. The self-trained reasoner (embedded in this binary) runs through
// every KV policy and budget, with Guardian observing every token; the table,
// the JSON and the plots say, per (model, policy, budget), how long and how
// right the outputs are without Guardian and with it. `--stories` adds the
// TinyStories stories260K model from a path on disk.
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "command.hpp"
#include "flag_checks.hpp"
#include "demo_data.hpp"
#include "demo_measure.hpp"
#include "demo_report.hpp"
#include "io.hpp"
#include "progress.hpp"

namespace lil::cli {

namespace {

// Guardian's rule scaled to the demo's short outputs: the paper checks every
// 250 tokens and stops below 20 bytes of growth; a tenth of both keeps t/f.
constexpr int paper_f = 250;
constexpr double paper_t = 20;
constexpr int default_f = 25;

// The default run fits in about three minutes on two shared cores (see docs/demo.md).
constexpr int default_problems = 40;
constexpr int default_cap = 400;
constexpr int full_cap = 800;
constexpr int default_story_cap = 256;

const std::vector<std::string> all_policies = {"full", "sink", "h2o", "quest", "snapkv", "tova"};

struct demo_settings {
  int problems = default_problems;
  int max_tokens = default_cap;
  bool full = false;
  int threads = 0;  // 0: one per hardware thread
  std::vector<int> budgets = {16, 32, 64, 128};
  std::vector<std::string> policies = all_policies;
  int f = default_f;
  double t = -1;  // < 0: f * 20 / 250
  std::string plots = "lil-demo-plots";
  std::string json;
  bool stories = false;
  std::string stories_path;
  int story_tokens = default_story_cap;
  bool problems_given = false, cap_given = false;
};

struct model_files {
  std::string model, tokenizer;
};

// --stories [PATH]: a folder with stories260K.bin and tok512.bin, or the
// checkpoint with tok512.bin beside it; without PATH, $LIL_SHARED_DIR's or
// ../shared's models/stories260K.
model_files find_stories(const std::string& given) {
  namespace fs = std::filesystem;
  std::vector<fs::path> candidates;
  if (!given.empty()) {
    candidates.push_back(given);
  } else {
    if (const char* shared = std::getenv("LIL_SHARED_DIR"); shared != nullptr && *shared != '\0')
      candidates.push_back(fs::path(shared) / "models" / "stories260K");
    candidates.push_back(fs::path("..") / "shared" / "models" / "stories260K");
  }
  std::string tried;
  for (const auto& c : candidates) {
    std::error_code ec;
    const fs::path model = fs::is_directory(c, ec) ? c / "stories260K.bin" : c;
    const fs::path tokenizer = model.parent_path() / "tok512.bin";
    if (fs::is_regular_file(model, ec) && fs::is_regular_file(tokenizer, ec)) return {model.string(), tokenizer.string()};
    tried += (tried.empty() ? "" : ", ") + model.string() + " with " + tokenizer.string();
  }
  throw io_error("--stories: stories260K not found (tried " + tried +
                 "); download stories260K.bin and tok512.bin from Karpathy's tinyllamas collection on Hugging Face "
                 "and pass their folder");
}

std::vector<tiny_llama::sweep_config> make_configs(const demo_settings& s) {
  std::vector<tiny_llama::sweep_config> configs;
  for (const auto& policy : s.policies) {
    if (policy == "full") {
      configs.push_back(tiny_llama::demo_config(policy, 0));
      continue;
    }
    for (int b : s.budgets) configs.push_back(tiny_llama::demo_config(policy, b));
  }
  return configs;
}

void check_settings(demo_settings& s, std::size_t available_problems) {
  if (s.full) {
    if (!s.problems_given) s.problems = static_cast<int>(available_problems);
    if (!s.cap_given) s.max_tokens = full_cap;
  }
  if (s.problems < 1 || static_cast<std::size_t>(s.problems) > available_problems)
    throw lil::error(fmt::format("--problems {}: must be 1..{} (the embedded evaluation set)", s.problems,
                                 available_problems));
  if (s.threads == 0) s.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (s.t < 0) s.t = s.f * paper_t / paper_f;
  std::sort(s.budgets.begin(), s.budgets.end());
  s.budgets.erase(std::unique(s.budgets.begin(), s.budgets.end()), s.budgets.end());
  std::vector<std::string> unique;
  for (const auto& p : s.policies)
    if (std::find(unique.begin(), unique.end(), p) == unique.end()) unique.push_back(p);
  s.policies = unique;
  const bool budgeted = std::any_of(s.policies.begin(), s.policies.end(), [](const std::string& p) { return p != "full"; });
  if (budgeted && s.budgets.empty()) throw lil::error("--budgets: give at least one budget");
}

void print_to(std::FILE* out, const std::string& text) {
  write_all(out, out == stdout ? "<stdout>" : "<stderr>", reinterpret_cast<const unsigned char*>(text.data()),
            text.size());
}

int run_demo(demo_settings s) {
  const auto wall_start = std::chrono::steady_clock::now();
  auto model = tiny_llama::checkpoint::from_bytes(demo_data::reasoner_model().data(), demo_data::reasoner_model().size(),
                                                  "<embedded reasoner.bin>");
  auto tok = tiny_llama::tokenizer::from_bytes(demo_data::reasoner_tokenizer().data(),
                                               demo_data::reasoner_tokenizer().size(), "<embedded reasoner_tok.bin>");
  std::istringstream problem_text{std::string(demo_data::reasoner_problems())};
  auto problems = tiny_llama::parse_problems(problem_text, "<embedded reasoner_eval.tsv>");
  const std::size_t available = problems.size();
  check_settings(s, available);
  problems.resize(static_cast<std::size_t>(s.problems));
  const model_files stories = s.stories ? find_stories(s.stories_path) : model_files{};

  tiny_llama::sweep_options options;
  options.max_new_tokens = s.max_tokens;
  options.threads = s.threads;
  options.guardian.rule.check_every = static_cast<std::uint32_t>(s.f);
  options.guardian.rule.min_gain = s.t;
  options.guardian.validate();
  const auto configs = make_configs(s);
  // A budget a policy rejects is a bad flag: say so before any output.
  for (const auto& c : configs) tiny_llama::kv_session probe(c.spec, model.cfg());

  // With the JSON on stdout, the table goes to stderr.
  std::FILE* out = s.json == "-" ? stderr : stdout;
  const std::string guardian_text =
      fmt::format("f = {} tokens, t = {:g} bytes (t/f = {:g}; the paper's f = {}, t = {:g}, t/f = {:g}), level {}, "
                  "profile gzip",
                  s.f, s.t, s.t / s.f, paper_f, paper_t, paper_t / paper_f, options.guardian.level);
  print_to(out, fmt::format(
                    "lil demo: Lil (\"Less is Less\") in a real decode loop, and what Guardian saves.\n"
                    "Every KV policy x budget, greedy decoding, {} thread(s). Guardian: {}.\n"
                    "One generation per (policy, budget) with Guardian observing every token: under greedy decoding a "
                    "run with\nGuardian is a prefix of the run without it, so '+Guard' columns are that run cut at "
                    "Guardian's stop (the\nanswer judged on the cut text, tokens and time counted up to the stop).\n\n",
                    s.threads, guardian_text));

  std::vector<demo_row> all_rows;
  const auto reasoner_rows = [&] {
    progress_bar bar("lil demo: reasoner", configs.size() * problems.size());
    return measure_reasoner(model, tok, problems, configs, options,
                            [&](std::size_t done, std::size_t) { bar.update(done); });
  }();
  print_to(out, fmt::format("reasoner (self-trained, {} parameters, embedded): {} of {} evaluation problems, cap {} tokens\n",
                            model.parameter_count(), s.problems, available, s.max_tokens));
  print_to(out, format_table(reasoner_rows));
  all_rows.insert(all_rows.end(), reasoner_rows.begin(), reasoner_rows.end());

  std::vector<demo_row> story_rows;
  if (s.stories) {
    auto story_model = tiny_llama::checkpoint::from_file(stories.model);
    auto story_tok = tiny_llama::tokenizer::from_file(stories.tokenizer);
    const auto prompts = tiny_llama::default_story_prompts();
    tiny_llama::sweep_options story_options = options;
    story_options.max_new_tokens = s.story_tokens;
    story_rows = [&] {
      progress_bar bar("lil demo: stories260K", configs.size() * prompts.size());
      return measure_stories(story_model, story_tok, prompts, configs, story_options,
                             [&](std::size_t done, std::size_t) { bar.update(done); });
    }();
    print_to(out, fmt::format("\nstories260K ({}): {} story openings, until BOS/EOS or {} tokens; rep4 = share of "
                              "repeated 4-grams, ppl = dense model's perplexity of the text\n",
                              stories.model, prompts.size(), s.story_tokens));
    print_to(out, format_table(story_rows));
    all_rows.insert(all_rows.end(), story_rows.begin(), story_rows.end());
  }

  print_to(out,
           "\naccuracy: final 'ans=' right; tokens: mean generated tokens; stopped: sequences Guardian stopped; capped: "
           "sequences that hit the cap;\nms/token: decode time per generated token; total s: prefill + decode time "
           "summed over the sequences; KV bytes: K and V\nheld at the end of a sequence (mean; quest keeps every "
           "token and reads its budget; snapkv compresses only the prompt,\nwith an observation window of half the "
           "budget, at most its paper's 32).\n");

  if (!s.plots.empty()) {
    plot_context context;
    context.directory = s.plots;
    std::vector<std::string> written;
    context.subtitle = fmt::format("{} problems, greedy, cap {} tokens; Guardian f = {}, t = {:g}", s.problems,
                                   s.max_tokens, s.f, s.t);
    written = write_plots(reasoner_rows, context);
    if (!story_rows.empty()) {
      context.subtitle = fmt::format("10 story openings, greedy, cap {} tokens; Guardian f = {}, t = {:g}",
                                     s.story_tokens, s.f, s.t);
      const auto more = write_plots(story_rows, context);
      written.insert(written.end(), more.begin(), more.end());
    }
    std::string list;
    for (const auto& w : written) list += (list.empty() ? "" : ", ") + w;
    print_to(out, fmt::format("plots: {}\n", list));
  }

  if (!s.json.empty()) {
    std::string text = "[\n";
    for (std::size_t i = 0; i < all_rows.size(); ++i)
      text += to_json(all_rows[i]).dump() + (i + 1 < all_rows.size() ? ",\n" : "\n");
    text += "]\n";
    if (s.json == "-") {
      print_to(stdout, text);
      if (std::fflush(stdout) != 0) throw io_error("cannot write <stdout>");
    } else {
      std::ofstream file(s.json, std::ios::binary);
      if (!file) throw io_error(fmt::format("--json {}: cannot open for writing", s.json));
      file << text;
      file.close();
      if (!file) throw io_error(fmt::format("--json {}: cannot write", s.json));
    }
  }

  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  print_to(out, fmt::format("wall time: {:.1f} s\n", wall));
  return exit_ok;
}

}  // namespace

subcommand register_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "demo",
      "Run the embedded self-trained reasoner through every KV policy and budget, with and without Guardian: "
      "a table, SVG plots and optional JSON (about 3 minutes on 2 cores)");
  auto s = std::make_shared<demo_settings>();
  auto* problems = cmd->add_option("--problems", s->problems, "Evaluation problems to run (1..200)")
                       ->check(integer_at_least(1, 1000000))
                       ->capture_default_str();
  auto* cap = cmd->add_option("--max-tokens", s->max_tokens, "Token cap per generated trace")
                  ->check(integer_at_least(1, 1000000))
                  ->capture_default_str();
  cmd->add_flag("--full", s->full,
                fmt::format("The full evaluation: all 200 problems, cap {} tokens (--problems/--max-tokens still apply)",
                            full_cap));
  cmd->add_option("--threads", s->threads, "Worker threads (default: one per hardware thread)")->check(integer_at_least(1, 1000000));
  cmd->add_option("--budgets", s->budgets, "KV budgets in tokens, comma-separated")
      ->delimiter(',')
      ->check(integer_at_least(1, 1000000))
      ->capture_default_str();
  cmd->add_option("--policies", s->policies, "KV policies, comma-separated")
      ->delimiter(',')
      ->check(CLI::IsMember(all_policies))
      ->capture_default_str();
  cmd->add_option("--f", s->f, "Guardian: tokens between checks")->check(integer_at_least(1, 1000000))->capture_default_str();
  cmd->add_option("--t", s->t, "Guardian: stop below this many bytes of growth per f tokens (default: f * 20 / 250)")
      ->check(number_at_least(0));
  cmd->add_option("--plots", s->plots, "Folder for the SVG plots (created if missing; '' for none)")
      ->type_name("DIR")
      ->capture_default_str();
  cmd->add_option("--json", s->json, "Write one JSON object per (model, policy, budget) to FILE ('-': stdout)")
      ->type_name("FILE");
  cmd->add_option("--stories", s->stories_path,
                  "Add the TinyStories stories260K model: its folder (stories260K.bin, tok512.bin); without PATH, "
                  "$LIL_SHARED_DIR/models/stories260K or ../shared/models/stories260K")
      ->type_name("[PATH]")
      ->expected(0, 1);
  cmd->add_option("--story-tokens", s->story_tokens, "Token cap per story")->check(integer_at_least(1, 1000000))->capture_default_str();
  return {cmd, [s, cmd, problems, cap] {
            demo_settings settings = *s;
            settings.problems_given = problems->count() > 0;
            settings.cap_given = cap->count() > 0;
            settings.stories = cmd->get_option("--stories")->count() > 0;
            return run_demo(settings);
          }};
}

}  // namespace lil::cli
