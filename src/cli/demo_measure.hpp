// `lil demo`'s measurements: the sweep of policies x budgets over a model's
// prompts (src/decoder/sweep.hpp), summed up into one row per
// (model, policy, budget), with and without Guardian.
//
// "With Guardian" is read off the same greedy run: Guardian observed every
// token, and the run cut at its stop is what an enforcing loop would have
// produced (guardian_session.hpp). The answer is judged on the cut text,
// tokens and time are counted up to the stop.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "eval.hpp"
#include "sweep.hpp"

namespace lil::cli {

struct demo_row {
  std::string model, policy;
  int budget = 0;  // 0: none (full attention)
  int problems = 0;
  std::optional<double> accuracy, accuracy_guardian;  // the reasoner only
  double mean_tokens = 0, mean_tokens_guardian = 0;
  double ms_per_token = 0;                   // decode time / generated tokens
  double total_s = 0, total_s_guardian = 0;  // prefill + decode, summed over the problems
  double kv_bytes = 0;                       // mean K/V bytes held at the end of a sequence
  int stopped = 0;                           // sequences Guardian stopped
  int capped = 0;                            // sequences that hit the token cap
  // stories only: share of repeated 4-grams and the dense model's perplexity
  std::optional<double> repetition, repetition_guardian, perplexity, perplexity_guardian;
};

using progress_callback = std::function<void(std::size_t done, std::size_t total)>;

std::vector<demo_row> measure_reasoner(const tiny_llama::checkpoint& model, const tiny_llama::tokenizer& tok,
                                       const std::vector<tiny_llama::problem>& problems,
                                       const std::vector<tiny_llama::sweep_config>& configs,
                                       const tiny_llama::sweep_options& options, const progress_callback& progress);

std::vector<demo_row> measure_stories(const tiny_llama::checkpoint& model, const tiny_llama::tokenizer& tok,
                                      const std::vector<std::string>& prompts,
                                      const std::vector<tiny_llama::sweep_config>& configs,
                                      const tiny_llama::sweep_options& options, const progress_callback& progress);

}  // namespace lil::cli
