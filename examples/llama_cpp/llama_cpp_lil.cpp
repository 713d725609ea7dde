// llama_cpp_lil - "Less is Less" reproduced inside llama.cpp.
//
// The committed reasoner, converted to GGUF (cmake/provision_llama_cpp.sh),
// decoded greedily by llama.cpp: dense, and with lil's StreamingLLM policy
// driving llama.cpp's KV cache at each budget (the KV bridge), each without
// and with the Guardian sampler in the chain. Beside each llama.cpp row, lil's
// own decoder (src/decoder) on the same settings. Prints per configuration:
// accuracy, mean generated tokens, tokens Guardian saved, wall time per
// sequence (prefill + decode, one thread).
//
//   build/bin/llama_cpp_lil [--problems 40] [--max-tokens 400] [--budgets 16,32,64,128]
//                           [--f 25] [--t 2] [--rerotate] [--no-lil]
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "eval.hpp"
#include "generate.hpp"
#include "guardian_session.hpp"
#include "kv_session.hpp"
#include "lil/kv/factory.hpp"
#include "llama_run.hpp"

namespace {

struct row {
  std::string engine, policy;
  int budget = 0;  // 0: dense
  int problems = 0;
  double accuracy = 0, accuracy_guardian = 0;
  double tokens = 0, tokens_guardian = 0;
  double ms = 0, ms_guardian = 0;  // per sequence
  int stopped = 0;
};

double ms_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count();
}

void print(const row& r) {
  const double saved = r.tokens > 0 ? 100.0 * (r.tokens - r.tokens_guardian) / r.tokens : 0;
  fmt::print("{:<10} {:<14} {:>6} {:>8} {:>8.3f} {:>8.3f} {:>7.1f} {:>7.1f} {:>6.1f}% {:>7} {:>8.1f} {:>8.1f}\n",
             r.engine, r.policy, r.budget == 0 ? std::string("-") : std::to_string(r.budget), r.problems, r.accuracy,
             r.accuracy_guardian, r.tokens, r.tokens_guardian, saved, r.stopped, r.ms, r.ms_guardian);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"lil inside llama.cpp: the reasoner under the KV bridge and the Guardian sampler"};
  const char* prefix_env = std::getenv("LIL_LLAMA_CPP_DIR");
  std::string prefix = prefix_env != nullptr ? prefix_env : LIL_LLAMA_CPP_DEFAULT_DIR;
  std::string gguf, backends, models = LIL_EXAMPLE_MODELS_DIR;
  int n_problems = 40, max_tokens = 400, f = 25;
  double t = -1;
  std::vector<int> budgets = {16, 32, 64, 128};
  bool rerotate = false, no_lil = false;
  app.add_option("--gguf", gguf, "the reasoner's GGUF (default: <prefix>/models/reasoner.gguf)");
  app.add_option("--backends", backends, "folder of ggml's CPU backends (default: <prefix>/lib)");
  app.add_option("--prefix", prefix, "what cmake/provision_llama_cpp.sh printed (or $LIL_LLAMA_CPP_DIR)");
  app.add_option("--models", models, "folder of reasoner.bin, reasoner_tok.bin, reasoner_eval.tsv");
  app.add_option("--problems", n_problems, "the first N evaluation problems")->check(CLI::Range(1, 200));
  app.add_option("--max-tokens", max_tokens, "token cap per trace")->check(CLI::Range(1, 900));
  app.add_option("--budgets", budgets, "sink budgets in tokens")->delimiter(',')->check(CLI::Range(5, 1024));
  app.add_option("--f", f, "Guardian's check interval in tokens")->check(CLI::Range(1, 100000));
  app.add_option("--t", t, "Guardian's threshold in bytes (default f * 20 / 250)");
  app.add_flag("--rerotate", rerotate, "also run the KV bridge with StreamingLLM's re-rotated positions");
  app.add_flag("--no-lil", no_lil, "skip lil's own decoder rows");
  CLI11_PARSE(app, argc, argv);
  if (gguf.empty()) gguf = prefix + "/models/reasoner.gguf";
  if (backends.empty()) backends = prefix + "/lib";

  try {
    lil::guardian_options rule;
    rule.rule.check_every = static_cast<std::uint32_t>(f);
    rule.rule.min_gain = t >= 0 ? t : f * 20.0 / 250.0;
    rule.validate();

    const auto model = llama_run::load_model(gguf, backends);
    const auto ctx = llama_run::new_context(model.get(), 1024);
    const auto pieces = std::make_shared<const lil::llama_cpp::token_pieces>(llama_model_get_vocab(model.get()));
    const auto lil_model = tiny_llama::checkpoint::from_file(models + "/reasoner.bin");
    const auto tok = tiny_llama::tokenizer::from_file(models + "/reasoner_tok.bin");
    auto problems = tiny_llama::load_problems(models + "/reasoner_eval.tsv");
    if (static_cast<int>(problems.size()) > n_problems) problems.resize(static_cast<std::size_t>(n_problems));

    fmt::print("reasoner: {} problems, cap {} tokens, Guardian f = {} t = {:g} bytes, one thread\n", problems.size(),
               max_tokens, f, rule.rule.min_gain);
    fmt::print("{:<10} {:<14} {:>6} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8}\n", "engine", "policy",
               "budget", "problems", "accuracy", "+Guard", "tokens", "+Guard", "saved", "stopped", "ms/seq", "+Guard");

    struct config {
      std::string name;
      int budget;
      lil::llama_cpp::position_mode mode;
    };
    std::vector<config> configs = {{"full", 0, lil::llama_cpp::position_mode::original}};
    for (int b : budgets) configs.push_back({"sink", b, lil::llama_cpp::position_mode::original});
    if (rerotate)
      for (int b : budgets) configs.push_back({"sink-rerotate", b, lil::llama_cpp::position_mode::rerotate});

    tiny_llama::state s(lil_model.cfg());
    for (const config& c : configs) {
      row llama_row{"llama.cpp", c.name, c.budget, static_cast<int>(problems.size())};
      row lil_row{"lil", c.name, c.budget, static_cast<int>(problems.size())};
      for (std::size_t i = 0; i < problems.size(); ++i) {
        const std::vector<int> ids = tok.encode(problems[i].prompt, true, false);
        const std::vector<llama_token> prompt(ids.begin(), ids.end());
        auto judge = [&](const std::vector<int>& out) {
          return tiny_llama::extract_answer(tok.decode_all(out, ids.back())) == problems[i].answer ? 1.0 : 0.0;
        };
        llama_run::settings cfg;
        cfg.max_new_tokens = max_tokens;
        cfg.sink_budget = c.budget;
        cfg.mode = c.mode;
        for (int guard = 0; guard < 2; ++guard) {
          cfg.guardian = guard == 1;
          cfg.guardian_options = rule;
          const llama_run::trace tr = llama_run::generate(ctx.get(), pieces, prompt, cfg);
          const double ok = judge(std::vector<int>(tr.tokens.begin(), tr.tokens.end()));
          const double n = static_cast<double>(tr.tokens.size());
          if (guard == 0) {
            llama_row.accuracy += ok, llama_row.tokens += n, llama_row.ms += 1000 * tr.seconds;
          } else {
            llama_row.accuracy_guardian += ok, llama_row.tokens_guardian += n, llama_row.ms_guardian += 1000 * tr.seconds;
            llama_row.stopped += tr.guardian_stopped;
          }
        }
        if (no_lil || c.mode == lil::llama_cpp::position_mode::rerotate) continue;
        auto run_lil = [&](auto inner, int guard) {
          tiny_llama::sampler greedy(lil_model.cfg().vocab_size);
          const auto start = std::chrono::steady_clock::now();
          tiny_llama::guardian_session<decltype(inner)> session(
              std::move(inner), tok, ids.back(), rule,
              guard == 1 ? tiny_llama::guardian_mode::enforce : tiny_llama::guardian_mode::observe);
          const tiny_llama::generation g = tiny_llama::generate(lil_model, s, ids, max_tokens, greedy, session);
          const double ms = ms_since(start);
          const double ok = judge(g.tokens);
          const double n = static_cast<double>(g.tokens.size());
          if (guard == 0) {
            lil_row.accuracy += ok, lil_row.tokens += n, lil_row.ms += ms;
          } else {
            lil_row.accuracy_guardian += ok, lil_row.tokens_guardian += n, lil_row.ms_guardian += ms;
            lil_row.stopped += g.reason == tiny_llama::stop_reason::session;
          }
        };
        for (int guard = 0; guard < 2; ++guard) {
          if (c.budget == 0) {
            run_lil(tiny_llama::dense_session{}, guard);
          } else {
            run_lil(tiny_llama::kv_session(lil::kv::policy_spec::parse("sink:" + std::to_string(c.budget)),
                                           lil_model.cfg()),
                    guard);
          }
        }
      }
      for (row* r : {&llama_row, &lil_row}) {
        const double n = static_cast<double>(problems.size());
        r->accuracy /= n, r->accuracy_guardian /= n, r->tokens /= n, r->tokens_guardian /= n, r->ms /= n,
            r->ms_guardian /= n;
      }
      print(llama_row);
      if (!no_lil && c.mode == lil::llama_cpp::position_mode::original) print(lil_row);
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "llama_cpp_lil: {}\n", e.what());
    return 1;
  }
  return 0;
}
