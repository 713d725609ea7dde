// tiny_llama/sweep.hpp - many decode configurations over one prompt set, on a
// small thread pool, with Guardian observing every sequence: the measuring
// loop of `lil demo`.
//
// What it computes
//   For every (configuration, prompt) pair - a configuration is a lil::kv
//   policy with its budget - one greedy generation through a kv_session
//   wrapped in a guardian_session in observe mode. Each run yields the tokens,
//   why it ended, its prefill and decode times, the K/V bytes the policy held
//   at the end, and Guardian's record: where it would have stopped and the
//   decode time up to there. A run "with Guardian" is the same run cut at that
//   stop (greedy decoding: see guardian_session.hpp), so one generation serves
//   both columns of the demo's table.
//
// The pool
//   `threads` workers take (configuration, prompt) jobs from one atomic
//   counter, each with its own model state (activations and cache) over the
//   shared read-only checkpoint. Jobs go prompt by prompt, all configurations
//   of a prompt together, so that a change in the machine's load over the run
//   spreads over every configuration's times instead of biasing the last ones. Results land by index, and every job is a
//   pure function of the model, the prompt and the configuration, so the
//   figures do not depend on the thread count or the scheduling; only the
//   times do. The calling thread reports progress (about ten times a second)
//   and rethrows the first error a worker met.
//
// A `score(config_index, prompt_index, run, state&)` callback runs on the
// worker right after each generation, with that worker's state - for a
// judgement that needs the model again (the dense perplexity of a story).
// Workers call it concurrently, for different jobs: it must write only what
// belongs to its (config, prompt) pair, or synchronise.
//
// Costs: one generation per job (plus whatever score does); a guardian
// (about 200 KiB) and the policy's cache per job, freed after it.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "eval.hpp"
#include "generate.hpp"
#include "guardian_session.hpp"
#include "kv_session.hpp"
#include "lil/kv/factory.hpp"

namespace tiny_llama {

struct sweep_config {
  std::string policy;  // the name reports use: full, sink, h2o, quest, snapkv, tova
  int budget = 0;      // tokens; 0 for a policy without one (full)
  lil::kv::policy_spec spec;
};

// The configuration `lil demo` runs for a policy name and budget. SnapKV
// protects an observation window inside its budget; its paper's window (32)
// does not fit the demo's smallest budgets, so the window is half the budget,
// at most the paper's 32. Every other policy keeps its paper defaults.
inline sweep_config demo_config(const std::string& policy, int budget) {
  sweep_config c;
  c.policy = policy;
  if (policy == "full") {
    c.spec = lil::kv::policy_spec::full();
    return c;
  }
  c.budget = budget;
  if (policy == "snapkv") {
    lil::kv::snapkv_options o;
    o.budget = budget;
    o.window = std::min(o.window, budget / 2);
    c.spec = o;
    return c;
  }
  c.spec = lil::kv::policy_spec::parse(policy + ":" + std::to_string(budget));
  return c;
}

struct sequence_run {
  std::vector<int> prompt;
  std::vector<int> tokens;  // generated, without the end token
  stop_reason reason = stop_reason::token_cap;
  double prefill_seconds = 0;
  double decode_seconds = 0;
  std::size_t kv_bytes = 0;  // K and V the policy held when the sequence ended
  guardian_record guardian;  // guardian.stop == 0: Guardian never stopped it

  bool stopped_by_guardian() const noexcept { return guardian.stop != 0; }
  // Generated tokens with Guardian in the loop: the run cut at the stop.
  std::size_t tokens_with_guardian() const noexcept { return stopped_by_guardian() ? guardian.stop : tokens.size(); }
  double seconds() const noexcept { return prefill_seconds + decode_seconds; }
  double seconds_with_guardian() const noexcept {
    return prefill_seconds + (stopped_by_guardian() ? std::min(guardian.seconds_to_stop, decode_seconds) : decode_seconds);
  }
};

struct sweep_options {
  int max_new_tokens = 512;
  int threads = 1;
  lil::guardian_options guardian;
};

// One generation of `prompt` (already tokenized, with BOS) under `config`,
// Guardian observing. `s` is the worker's state.
inline sequence_run run_sequence(const checkpoint& model, const tokenizer& tok, state& s, const std::vector<int>& prompt,
                                 const sweep_config& config, const sweep_options& options) {
  guardian_session<kv_session> session(kv_session(config.spec, model.cfg()), tok, prompt.back(), options.guardian,
                                       guardian_mode::observe);
  sampler greedy(model.cfg().vocab_size);
  generation g = generate(model, s, prompt, options.max_new_tokens, greedy, session);
  sequence_run r;
  r.prompt = prompt;
  r.tokens = std::move(g.tokens);
  r.reason = g.reason;
  r.prefill_seconds = g.prefill_seconds;
  r.decode_seconds = g.decode_seconds;
  r.kv_bytes = session.inner().kv_bytes();
  r.guardian = session.record();
  return r;
}

// Every configuration over every prompt; result[config][prompt].
template <class Score, class Progress>
std::vector<std::vector<sequence_run>> run_sweep(const checkpoint& model, const tokenizer& tok,
                                                 const std::vector<std::string>& prompts,
                                                 const std::vector<sweep_config>& configs, const sweep_options& options,
                                                 Score&& score, Progress&& progress) {
  tok.check_vocab_size(model.cfg().vocab_size);
  if (options.threads < 1) lil::detail::throw_error("sweep: threads = " + std::to_string(options.threads) + " must be >= 1");
  options.guardian.validate();
  // A configuration the policy rejects (a budget below its floor) fails here, before any decoding.
  for (const auto& c : configs) kv_session probe(c.spec, model.cfg());

  std::vector<std::vector<int>> encoded;
  encoded.reserve(prompts.size());
  for (const auto& p : prompts) encoded.push_back(tok.encode(p, true, false));

  std::vector<std::vector<sequence_run>> results(configs.size(), std::vector<sequence_run>(prompts.size()));
  const std::size_t jobs = configs.size() * prompts.size();
  std::atomic<std::size_t> next{0}, done{0};
  std::atomic<bool> failed{false};
  std::exception_ptr first_error;
  std::mutex mutex;
  std::condition_variable finished;
  int running = 0;

  auto worker = [&] {
    try {
      state s(model.cfg());
      for (std::size_t job = next++; job < jobs && !failed; job = next++) {
        const std::size_t p = job / configs.size(), c = job % configs.size();
        results[c][p] = run_sequence(model, tok, s, encoded[p], configs[c], options);
        score(c, p, results[c][p], s);
        ++done;
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex);
      if (!first_error) first_error = std::current_exception();
      failed = true;
    }
    std::lock_guard<std::mutex> lock(mutex);
    --running;
    finished.notify_all();
  };

  const int n = static_cast<int>(std::max<std::size_t>(1, std::min<std::size_t>(static_cast<std::size_t>(options.threads), jobs)));
  std::vector<std::thread> pool;
  running = n;
  for (int t = 0; t < n; ++t) pool.emplace_back(worker);
  {
    std::unique_lock<std::mutex> lock(mutex);
    while (!finished.wait_for(lock, std::chrono::milliseconds(100), [&] { return running == 0; })) {
      lock.unlock();
      progress(done.load(), jobs);
      lock.lock();
    }
  }
  for (auto& t : pool) t.join();
  if (first_error) std::rethrow_exception(first_error);
  progress(jobs, jobs);
  return results;
}

}  // namespace tiny_llama
