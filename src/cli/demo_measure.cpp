#include "demo_measure.hpp"

#include <algorithm>

namespace lil::cli {

namespace {

// The figures every model shares; `add` fills the model's own.
demo_row summarise(const std::string& model, const tiny_llama::sweep_config& config,
                   const std::vector<tiny_llama::sequence_run>& runs) {
  demo_row row;
  row.model = model;
  row.policy = config.policy;
  row.budget = config.budget;
  row.problems = static_cast<int>(runs.size());
  double tokens = 0, tokens_g = 0, decode = 0, seconds = 0, seconds_g = 0, kv = 0;
  for (const auto& r : runs) {
    tokens += static_cast<double>(r.tokens.size());
    tokens_g += static_cast<double>(r.tokens_with_guardian());
    decode += r.decode_seconds;
    seconds += r.seconds();
    seconds_g += r.seconds_with_guardian();
    kv += static_cast<double>(r.kv_bytes);
    row.stopped += r.stopped_by_guardian() ? 1 : 0;
    row.capped += r.reason == tiny_llama::stop_reason::token_cap ? 1 : 0;
  }
  const double n = std::max<double>(1, static_cast<double>(runs.size()));
  row.mean_tokens = tokens / n;
  row.mean_tokens_guardian = tokens_g / n;
  row.ms_per_token = tokens > 0 ? 1000 * decode / tokens : 0;
  row.total_s = seconds;
  row.total_s_guardian = seconds_g;
  row.kv_bytes = kv / n;
  return row;
}

std::vector<int> prefix(const std::vector<int>& tokens, std::size_t count) {
  return {tokens.begin(), tokens.begin() + static_cast<std::ptrdiff_t>(std::min(count, tokens.size()))};
}

}  // namespace

std::vector<demo_row> measure_reasoner(const tiny_llama::checkpoint& model, const tiny_llama::tokenizer& tok,
                                       const std::vector<tiny_llama::problem>& problems,
                                       const std::vector<tiny_llama::sweep_config>& configs,
                                       const tiny_llama::sweep_options& options, const progress_callback& progress) {
  std::vector<std::string> prompts;
  for (const auto& p : problems) prompts.push_back(p.prompt);
  const auto runs = tiny_llama::run_sweep(
      model, tok, prompts, configs, options, [](std::size_t, std::size_t, const tiny_llama::sequence_run&, tiny_llama::state&) {},
      progress);
  std::vector<demo_row> rows;
  for (std::size_t c = 0; c < configs.size(); ++c) {
    demo_row row = summarise("reasoner", configs[c], runs[c]);
    double correct = 0, correct_g = 0;
    for (std::size_t p = 0; p < problems.size(); ++p) {
      const auto& r = runs[c][p];
      const int previous = r.prompt.back();
      correct += tiny_llama::extract_answer(tok.decode_all(r.tokens, previous)) == problems[p].answer ? 1 : 0;
      correct_g += tiny_llama::extract_answer(tok.decode_all(prefix(r.tokens, r.tokens_with_guardian()), previous)) ==
                           problems[p].answer
                       ? 1
                       : 0;
    }
    const double n = std::max<double>(1, static_cast<double>(problems.size()));
    row.accuracy = correct / n;
    row.accuracy_guardian = correct_g / n;
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<demo_row> measure_stories(const tiny_llama::checkpoint& model, const tiny_llama::tokenizer& tok,
                                      const std::vector<std::string>& prompts,
                                      const std::vector<tiny_llama::sweep_config>& configs,
                                      const tiny_llama::sweep_options& options, const progress_callback& progress) {
  // Per-token NLL of each generated story under the dense model, computed on
  // the worker that generated it (it needs a model state).
  std::vector<std::vector<std::vector<double>>> nll(configs.size(), std::vector<std::vector<double>>(prompts.size()));
  const auto runs = tiny_llama::run_sweep(
      model, tok, prompts, configs, options,
      [&](std::size_t c, std::size_t p, const tiny_llama::sequence_run& r, tiny_llama::state& s) {
        nll[c][p] = tiny_llama::dense_token_nll(model, s, r.prompt, r.tokens);
      },
      progress);
  std::vector<demo_row> rows;
  for (std::size_t c = 0; c < configs.size(); ++c) {
    demo_row row = summarise("stories260K", configs[c], runs[c]);
    double rep = 0, rep_g = 0, ppl = 0, ppl_g = 0;
    for (std::size_t p = 0; p < prompts.size(); ++p) {
      const auto& r = runs[c][p];
      rep += tiny_llama::repeated_ngram_share(r.tokens, 4);
      rep_g += tiny_llama::repeated_ngram_share(prefix(r.tokens, r.tokens_with_guardian()), 4);
      ppl += tiny_llama::perplexity_of_prefix(nll[c][p], r.tokens.size());
      ppl_g += tiny_llama::perplexity_of_prefix(nll[c][p], r.tokens_with_guardian());
    }
    const double n = std::max<double>(1, static_cast<double>(prompts.size()));
    row.repetition = rep / n;
    row.repetition_guardian = rep_g / n;
    row.perplexity = ppl / n;
    row.perplexity_guardian = ppl_g / n;
    rows.push_back(std::move(row));
  }
  return rows;
}

}  // namespace lil::cli
