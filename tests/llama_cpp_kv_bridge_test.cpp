// The KV bridge: lil::kv's StreamingLLM policy drives llama.cpp's cache
// through llama_memory_seq_rm (and seq_add when re-rotating). The sequence
// never holds more cells than the budget, and with original positions the
// reasoner's greedy traces equal lil's own decoder's under the same policy.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

#include "generate.hpp"
#include "kv_session.hpp"
#include "lil/kv/factory.hpp"
#include "llama_cpp_support.hpp"

namespace {

using lil::llama_cpp::kv_bridge;
using lil::llama_cpp::position_mode;
using llama_test::shared_reasoner;

// Cells llama.cpp holds for sequence 0. The public API gives positions'
// range only (pos_min/pos_max, wrong once holes appear), so count them from
// the size of the sequence's saved state, which is linear in its cells:
// base + cells * per_cell. The two constants are measured on 1 and 2 cells.
class cell_counter {
 public:
  explicit cell_counter(llama_context* ctx) : ctx_(ctx) {
    llama_memory_clear(llama_get_memory(ctx), true);
    llama_token t[2] = {1, 5};
    EXPECT_EQ(llama_decode(ctx, llama_batch_get_one(t, 1)), 0);
    const auto one = static_cast<std::int64_t>(llama_state_seq_get_size(ctx, 0));
    EXPECT_EQ(llama_decode(ctx, llama_batch_get_one(t + 1, 1)), 0);
    const auto two = static_cast<std::int64_t>(llama_state_seq_get_size(ctx, 0));
    per_cell_ = two - one;
    base_ = one - per_cell_;
    llama_memory_clear(llama_get_memory(ctx), true);
    EXPECT_GT(per_cell_, 0);
  }
  std::int64_t cells() const {
    const auto size = static_cast<std::int64_t>(llama_state_seq_get_size(ctx_, 0));
    EXPECT_EQ((size - base_) % per_cell_, 0) << "state size " << size << " is not base + k cells";
    return (size - base_) / per_cell_;
  }

 private:
  llama_context* ctx_;
  std::int64_t base_ = 0, per_cell_ = 0;
};

int argmax(const float* logits, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return best;
}

void check_budget_through_a_long_trace(position_mode mode, int budget) {
  auto& r = shared_reasoner();
  llama_context* ctx = r.ctx.get();
  const cell_counter count(ctx);  // leaves the sequence empty
  lil::kv::sink_options o;
  o.budget = budget;
  kv_bridge bridge = kv_bridge::sink(ctx, 0, o, mode);
  const std::vector<llama_token> prompt = r.prompt(0);
  ASSERT_EQ(bridge.decode(prompt), 0);  // 51 tokens: budget 16 evicts inside the prompt, 64 only later
  const int vocab = r.lil_model.cfg().vocab_size;
  llama_memory_t mem = llama_get_memory(ctx);
  for (int step = 0; step < 300; ++step) {
    const std::int64_t appended = bridge.appended();
    const std::int64_t cells = count.cells();
    ASSERT_LE(cells, budget) << "step " << step;
    ASSERT_EQ(cells, std::min<std::int64_t>(appended, budget)) << "step " << step;
    ASSERT_EQ(cells, bridge.held());
    ASSERT_EQ(llama_memory_seq_pos_min(mem, 0), 0) << "the sinks stay";
    const llama_pos last = mode == position_mode::original ? static_cast<llama_pos>(appended - 1)
                                                           : static_cast<llama_pos>(cells - 1);
    ASSERT_EQ(llama_memory_seq_pos_max(mem, 0), last) << "step " << step;
    llama_token next = argmax(llama_get_logits_ith(ctx, -1), vocab);
    if (next == 1 || next == 2) next = 5;  // keep going: this test is about the cache, not the trace
    ASSERT_EQ(bridge.decode(&next, 1), 0);
  }
  EXPECT_EQ(bridge.peak_held(), budget);
  EXPECT_EQ(bridge.evictions(), bridge.appended() - budget);
}

TEST(llama_cpp_kv_bridge, sequence_never_holds_more_cells_than_the_budget_original_positions) {
  check_budget_through_a_long_trace(position_mode::original, 16);
  check_budget_through_a_long_trace(position_mode::original, 64);
}

TEST(llama_cpp_kv_bridge, sequence_never_holds_more_cells_than_the_budget_rerotated_positions) {
  ASSERT_TRUE(llama_memory_can_shift(llama_get_memory(shared_reasoner().ctx.get())));
  check_budget_through_a_long_trace(position_mode::rerotate, 16);
  check_budget_through_a_long_trace(position_mode::rerotate, 64);
}

TEST(llama_cpp_kv_bridge, reset_empties_the_sequence_and_the_policy) {
  auto& r = shared_reasoner();
  llama_memory_clear(llama_get_memory(r.ctx.get()), true);
  lil::kv::sink_options o;
  o.budget = 16;
  kv_bridge bridge = kv_bridge::sink(r.ctx.get(), 0, o);
  ASSERT_EQ(bridge.decode(r.prompt(1)), 0);
  EXPECT_EQ(bridge.held(), 16);
  bridge.reset();
  EXPECT_EQ(bridge.held(), 0);
  EXPECT_EQ(bridge.appended(), 0);
  EXPECT_EQ(llama_memory_seq_pos_max(llama_get_memory(r.ctx.get()), 0), -1);
}

// Under original positions the bridge is exactly lil's decoder with
// kv_session(sink:B): same kept tokens, keys keep their rotation, every token
// attends to the budget including itself (prefill token by token once full).
TEST(llama_cpp_kv_bridge, greedy_traces_equal_lil_decoder_under_the_same_sink_policy) {
  auto& r = shared_reasoner();
  tiny_llama::state s(r.lil_model.cfg());
  tiny_llama::sampler greedy(r.lil_model.cfg().vocab_size);
  int compared = 0, long_traces = 0;
  for (int budget : {16, 32, 64, 128}) {
    for (std::size_t i = 0; i < 6; ++i) {
      llama_run::settings cfg;
      cfg.max_new_tokens = 300;
      cfg.sink_budget = budget;
      const std::vector<llama_token> prompt = r.prompt(i);
      const std::vector<int> ids(prompt.begin(), prompt.end());
      tiny_llama::kv_session kv(lil::kv::policy_spec::parse("sink:" + std::to_string(budget)), r.lil_model.cfg());
      const tiny_llama::generation mine = tiny_llama::generate(r.lil_model, s, ids, cfg.max_new_tokens, greedy, kv);
      const llama_run::trace theirs = llama_run::generate(r.ctx.get(), r.pieces, prompt, cfg);
      ASSERT_EQ(std::vector<int>(theirs.tokens.begin(), theirs.tokens.end()), mine.tokens)
          << "sink budget " << budget << ", problem " << i;
      EXPECT_LE(theirs.peak_held, budget);
      ++compared;
      long_traces += mine.tokens.size() + ids.size() > static_cast<std::size_t>(budget);
    }
  }
  // The comparison means something only where the policy evicted.
  EXPECT_EQ(long_traces, compared);
}

TEST(llama_cpp_kv_bridge, a_sequence_that_already_holds_tokens_is_refused) {
  auto& r = shared_reasoner();
  llama_memory_clear(llama_get_memory(r.ctx.get()), true);
  std::vector<llama_token> prompt = r.prompt(2);
  ASSERT_EQ(llama_decode(r.ctx.get(), llama_batch_get_one(prompt.data(), static_cast<int32_t>(prompt.size()))), 0);
  try {
    (void)kv_bridge::sink(r.ctx.get(), 0, lil::kv::sink_options{});
    FAIL() << "the policy would not know the tokens already held";
  } catch (const lil::error& e) {
    EXPECT_NE(std::string(e.what()).find("sequence 0 already holds tokens (up to position " +
                                         std::to_string(prompt.size() - 1) + ")"),
              std::string::npos)
        << e.what();
  }
  llama_memory_clear(llama_get_memory(r.ctx.get()), true);
}

TEST(llama_cpp_kv_bridge, bad_input_is_named) {
  auto& r = shared_reasoner();
  llama_memory_clear(llama_get_memory(r.ctx.get()), true);
  lil::kv::sink_options o;
  o.budget = 4;
  o.sinks = 4;
  try {
    (void)kv_bridge::sink(r.ctx.get(), 0, o);
    FAIL() << "a budget of only sinks must be rejected";
  } catch (const lil::error& e) {
    EXPECT_NE(std::string(e.what()).find("budget 4"), std::string::npos) << e.what();
  }
  try {
    (void)kv_bridge::sink(nullptr, 0, lil::kv::sink_options{});
    FAIL() << "a null context must be rejected";
  } catch (const lil::error& e) {
    EXPECT_NE(std::string(e.what()).find("ctx is null"), std::string::npos) << e.what();
  }
}

}  // namespace
