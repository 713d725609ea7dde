// tiny_llama - run a llama2.c checkpoint on the CPU: generate text, or measure
// the self-trained reasoner or the TinyStories model (see docs/model.md).
//
//   tiny_llama generate --model M.bin --tokenizer T.bin --prompt "Once upon a time"
//   tiny_llama reasoner --model reasoner.bin --tokenizer reasoner_tok.bin --problems eval.tsv
//   tiny_llama stories  --model stories260K.bin --tokenizer tok512.bin
// --policy SPEC (reasoner, stories) runs a lil::kv policy around every layer's
// attention: full, sink:B, h2o:B, quest:B, snapkv:B, tova:B (B tokens).
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <string>

#include "eval.hpp"
#include "kv_session.hpp"

namespace {

struct model_flags {
  std::string model, tokenizer;
  void add(CLI::App& app) {
    app.add_option("--model", model, "llama2.c legacy checkpoint")->required();
    app.add_option("--tokenizer", tokenizer, "llama2.c tokenizer.bin")->required();
  }
};

int run_generate(const model_flags& f, const std::string& prompt, int max_tokens, float temperature, float top_p,
                 unsigned long long seed) {
  auto model = tiny_llama::checkpoint::from_file(f.model);
  auto tok = tiny_llama::tokenizer::from_file(f.tokenizer);
  tok.check_vocab_size(model.cfg().vocab_size);
  tiny_llama::state s(model.cfg());
  tiny_llama::sampler pick(model.cfg().vocab_size, temperature, top_p, seed);
  tiny_llama::dense_session session;
  const auto tokens = tok.encode(prompt, true, false);
  const auto g = tiny_llama::generate(model, s, tokens, max_tokens, pick, session);
  fmt::print("{}{}\n", prompt, tok.decode_all(g.tokens, tokens.back()));
  fmt::print(stderr, "[{} prompt + {} generated tokens, stop: {}, {:.3f} ms/token]\n", tokens.size(), g.tokens.size(),
             tiny_llama::to_string(g.reason), g.tokens.empty() ? 0.0 : 1000.0 * g.decode_seconds / static_cast<double>(g.tokens.size()));
  return 0;
}

// Runs `evaluate` with dense attention, or with the policy when one is named.
template <class Evaluate>
auto with_sessions(const std::string& policy, const tiny_llama::config& c, Evaluate&& evaluate) {
  if (policy.empty() || policy == "dense") return evaluate(tiny_llama::dense_sessions{});
  const auto spec = lil::kv::policy_spec::parse(policy);
  tiny_llama::kv_session probe(spec, c);  // bad specs fail here, before any decoding
  (void)probe;
  return evaluate(tiny_llama::kv_sessions{spec, c});
}

int run_reasoner(const model_flags& f, const std::string& problems_path, int max_tokens, int threads, int limit, int show,
                 const std::string& policy) {
  auto model = tiny_llama::checkpoint::from_file(f.model);
  auto tok = tiny_llama::tokenizer::from_file(f.tokenizer);
  auto problems = tiny_llama::load_problems(problems_path);
  if (limit > 0 && static_cast<std::size_t>(limit) < problems.size()) problems.resize(static_cast<std::size_t>(limit));
  const auto r = with_sessions(policy, model.cfg(), [&](auto sessions) {
    return tiny_llama::evaluate_reasoner(model, tok, problems, {max_tokens, threads}, sessions);
  });
  for (int i = 0; i < show && i < r.problems; ++i) {
    const auto& o = r.outcomes[static_cast<std::size_t>(i)];
    fmt::print("--- problem {} (answer {}, {}, {} tokens, stop {})\n{}{}\n", i, problems[static_cast<std::size_t>(i)].answer,
               o.correct ? "correct" : "WRONG", o.tokens.size(), tiny_llama::to_string(o.reason),
               problems[static_cast<std::size_t>(i)].prompt, o.text);
  }
  int capped = 0;
  for (const auto& o : r.outcomes) capped += o.reason == tiny_llama::stop_reason::token_cap ? 1 : 0;
  fmt::print("policy {}  problems {}  accuracy {:.3f}  mean_tokens {:.1f}  hit_cap {}  ms_per_token {:.4f}  total_s {:.2f}  "
             "kv_bytes {:.0f}  threads {}\n",
             policy.empty() ? "dense" : policy, r.problems, r.accuracy, r.mean_tokens, capped, r.ms_per_token, r.total_seconds,
             r.kv_bytes, threads);
  return 0;
}

int run_stories(const model_flags& f, int max_tokens, int threads, int show, const std::string& policy) {
  auto model = tiny_llama::checkpoint::from_file(f.model);
  auto tok = tiny_llama::tokenizer::from_file(f.tokenizer);
  const auto prompts = tiny_llama::default_story_prompts();
  const auto r = with_sessions(policy, model.cfg(), [&](auto sessions) {
    return tiny_llama::evaluate_stories(model, tok, prompts, {max_tokens, threads}, sessions);
  });
  for (int i = 0; i < show && i < r.stories; ++i) {
    const auto& o = r.outcomes[static_cast<std::size_t>(i)];
    fmt::print("--- story {} ({} tokens, stop {}, repeated 4-grams {:.3f}, perplexity {:.3f})\n{}{}\n", i, o.tokens.size(),
               tiny_llama::to_string(o.reason), o.repetition, o.perplexity, prompts[static_cast<std::size_t>(i)], o.text);
  }
  fmt::print("policy {}  stories {}  mean_tokens {:.1f}  repeated_4grams {:.3f}  perplexity {:.3f}  ms_per_token {:.4f}  "
             "total_s {:.2f}  kv_bytes {:.0f}\n",
             policy.empty() ? "dense" : policy, r.stories, r.mean_tokens, r.mean_repetition, r.mean_perplexity, r.ms_per_token,
             r.total_seconds, r.kv_bytes);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tiny_llama - a small Llama decoder for llama2.c checkpoints", "tiny_llama"};
  app.require_subcommand(1);

  model_flags gen_flags, reason_flags, story_flags;
  std::string prompt = "Once upon a time", problems;
  int gen_max = 256, reason_max = 512, story_max = 256, threads = 1, limit = 0, show = 0;
  std::string policy;
  float temperature = 0, top_p = 0.9f;
  unsigned long long seed = 1;

  auto* gen = app.add_subcommand("generate", "generate text from a prompt");
  gen_flags.add(*gen);
  gen->add_option("--prompt", prompt, "the prompt")->capture_default_str();
  gen->add_option("--max-tokens", gen_max, "most tokens to generate")->capture_default_str()->check(CLI::NonNegativeNumber);
  gen->add_option("--temperature", temperature, "0 = greedy")->capture_default_str()->check(CLI::NonNegativeNumber);
  gen->add_option("--top-p", top_p, "nucleus mass when sampling")->capture_default_str();
  gen->add_option("--seed", seed, "sampling seed")->capture_default_str();

  auto* reason = app.add_subcommand("reasoner", "accuracy of the reasoner on a problem set (greedy, dense)");
  reason_flags.add(*reason);
  reason->add_option("--problems", problems, "TSV problem set")->required();
  reason->add_option("--max-tokens", reason_max, "token cap per problem")->capture_default_str()->check(CLI::PositiveNumber);
  reason->add_option("--threads", threads, "worker threads")->capture_default_str()->check(CLI::PositiveNumber);
  reason->add_option("--limit", limit, "first N problems only (0 = all)")->capture_default_str();
  reason->add_option("--show", show, "print the first N traces")->capture_default_str();
  reason->add_option("--policy", policy, "KV policy around every layer (full, sink:B, h2o:B, quest:B, snapkv:B, tova:B)");

  auto* stories = app.add_subcommand("stories", "length, repetition and perplexity of TinyStories generations");
  story_flags.add(*stories);
  stories->add_option("--max-tokens", story_max, "token cap per story")->capture_default_str()->check(CLI::PositiveNumber);
  stories->add_option("--threads", threads, "worker threads")->capture_default_str()->check(CLI::PositiveNumber);
  stories->add_option("--show", show, "print the first N stories")->capture_default_str();
  stories->add_option("--policy", policy, "KV policy around every layer (full, sink:B, h2o:B, quest:B, snapkv:B, tova:B)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (gen->parsed()) return run_generate(gen_flags, prompt, gen_max, temperature, top_p, seed);
    if (reason->parsed()) return run_reasoner(reason_flags, problems, reason_max, threads, limit, show, policy);
    if (stories->parsed()) return run_stories(story_flags, story_max, threads, show, policy);
  } catch (const lil::error& e) {
    fmt::print(stderr, "tiny_llama: error: {}\n", e.what());
    return 2;
  }
  return 2;
}
