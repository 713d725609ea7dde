// Guardian as a llama_sampler: in llama.cpp's chain it stops a looping
// generation at the same token as lil::guardian fed the same text; after the
// stop only end-of-generation tokens survive apply(); clone and reset behave;
// several sequences keep independent state.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "llama_cpp_support.hpp"

namespace {

using lil::llama_cpp::guardian_of;
using lil::llama_cpp::guardian_sampler_stopped;
using lil::llama_cpp::init_guardian_sampler;
using llama_run::sampler_ptr;
using llama_test::shared_reasoner;

// The demo's rule scaled to the reasoner (docs/demo.md): f = 25, t = 2 bytes.
lil::guardian_options demo_rule() {
  lil::guardian_options o;
  o.rule.check_every = 25;
  o.rule.min_gain = 2;
  return o;
}

// Where lil::guardian, fed each token's text as lil's tokenizer decodes it,
// stops (tokens at the stopping check); 0 when it never does.
std::size_t lil_stop(const tiny_llama::tokenizer& tok, const std::vector<llama_token>& tokens, int previous,
                     const lil::guardian_options& o) {
  lil::guardian<> g(o);
  for (llama_token t : tokens) {
    g.accept(tok.decode(previous, t));
    previous = t;
    if (g.stopped()) return static_cast<std::size_t>(g.decision().stopped_at);
  }
  return 0;
}

TEST(llama_cpp_guardian_sampler, stops_a_looping_generation_at_the_same_token_as_lil_guardian) {
  auto& r = shared_reasoner();
  int stopped = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    const std::vector<llama_token> prompt = r.prompt(i);
    llama_run::settings cfg;
    cfg.max_new_tokens = 400;
    cfg.sink_budget = 16;  // the budget at which the reasoner loops (docs/demo.md)
    const llama_run::trace free_run = llama_run::generate(r.ctx.get(), r.pieces, prompt, cfg);
    cfg.guardian = true;
    cfg.guardian_options = demo_rule();
    const llama_run::trace guarded = llama_run::generate(r.ctx.get(), r.pieces, prompt, cfg);
    const std::size_t expected = lil_stop(r.tok, free_run.tokens, prompt.back(), demo_rule());
    if (expected == 0) {
      EXPECT_FALSE(guarded.guardian_stopped) << "problem " << i;
      EXPECT_EQ(guarded.tokens, free_run.tokens) << "problem " << i;
      continue;
    }
    ++stopped;
    EXPECT_TRUE(guarded.guardian_stopped) << "problem " << i;
    // The sampler ends the sequence right after the token whose check stopped it.
    ASSERT_EQ(guarded.tokens.size(), expected) << "problem " << i;
    EXPECT_TRUE(std::equal(guarded.tokens.begin(), guarded.tokens.end(), free_run.tokens.begin())) << "problem " << i;
  }
  // At sink budget 16 most traces loop to the cap: the test must see stops.
  EXPECT_GE(stopped, 4);
}

TEST(llama_cpp_guardian_sampler, after_the_stop_apply_leaves_only_end_of_generation_tokens) {
  auto& r = shared_reasoner();
  sampler_ptr s(init_guardian_sampler(r.pieces, demo_rule()));
  EXPECT_STREQ(llama_sampler_name(s.get()), "lil-guardian");
  const int n = r.pieces->size();
  auto all = [n] {
    std::vector<llama_token_data> d;
    for (int id = 0; id < n; ++id) d.push_back({id, static_cast<float>(id % 7), 0.0f});
    return d;
  };
  std::vector<llama_token_data> data = all();
  llama_token_data_array cur{data.data(), data.size(), -1, false};
  llama_sampler_apply(s.get(), &cur);
  for (int id = 0; id < n; ++id) EXPECT_EQ(data[static_cast<std::size_t>(id)].logit, static_cast<float>(id % 7));

  // A repeated piece stops carrying information: Guardian stops within a few checks.
  const llama_token a = 10;
  int fed = 0;
  while (!guardian_sampler_stopped(s.get()) && fed < 1000) {
    llama_sampler_accept(s.get(), a);
    ++fed;
  }
  ASSERT_TRUE(guardian_sampler_stopped(s.get()));
  EXPECT_EQ(fed % 25, 0) << "a stop is decided at a check";
  data = all();
  cur = {data.data(), data.size(), -1, false};
  llama_sampler_apply(s.get(), &cur);
  for (int id = 0; id < n; ++id) {
    if (r.pieces->is_eog(id)) {
      EXPECT_TRUE(std::isfinite(data[static_cast<std::size_t>(id)].logit)) << id;
    } else {
      EXPECT_EQ(data[static_cast<std::size_t>(id)].logit, -INFINITY) << id;
    }
  }
  // A truncating sampler before it dropped every end token: EOS alone remains.
  std::vector<llama_token_data> few = {{10, 3.0f, 0.0f}, {11, 2.0f, 0.0f}};
  cur = {few.data(), few.size(), -1, false};
  llama_sampler_apply(s.get(), &cur);
  ASSERT_EQ(cur.size, 1u);
  EXPECT_EQ(cur.data[0].id, 2);
}

TEST(llama_cpp_guardian_sampler, clone_is_an_independent_fork_and_reset_forgets_the_output) {
  auto& r = shared_reasoner();
  sampler_ptr s(init_guardian_sampler(r.pieces, demo_rule()));
  for (int i = 0; i < 30; ++i) llama_sampler_accept(s.get(), 10);
  sampler_ptr fork(llama_sampler_clone(s.get()));
  ASSERT_NE(guardian_of(fork.get()), nullptr);
  // The fork shares the vocabulary, not the Guardian state.
  EXPECT_NE(guardian_of(fork.get()), guardian_of(s.get()));
  EXPECT_EQ(guardian_of(fork.get())->bound_vocabulary(), guardian_of(s.get())->bound_vocabulary());
  std::printf("Guardian state per sampler: %zu bytes; shared vocabulary: %zu bytes\n",
              guardian_of(s.get())->state_bytes(), r.pieces->state_bytes());
  EXPECT_EQ(guardian_of(fork.get())->tokens(), 30u);
  EXPECT_EQ(guardian_of(fork.get())->bytes(), guardian_of(s.get())->bytes());
  while (!guardian_sampler_stopped(s.get())) llama_sampler_accept(s.get(), 10);
  EXPECT_FALSE(guardian_sampler_stopped(fork.get())) << "the fork saw none of the later tokens";
  EXPECT_EQ(guardian_of(fork.get())->tokens(), 30u);
  llama_sampler_reset(s.get());
  EXPECT_FALSE(guardian_sampler_stopped(s.get()));
  EXPECT_EQ(guardian_of(s.get())->tokens(), 0u);
}

TEST(llama_cpp_guardian_sampler, is_found_inside_a_chain_and_other_samplers_are_not_guardians) {
  auto& r = shared_reasoner();
  sampler_ptr chain(llama_sampler_chain_init(llama_sampler_chain_default_params()));
  llama_sampler_chain_add(chain.get(), llama_sampler_init_top_k(40));
  llama_sampler_chain_add(chain.get(), init_guardian_sampler(r.pieces, demo_rule()));
  llama_sampler_chain_add(chain.get(), llama_sampler_init_greedy());
  ASSERT_NE(guardian_of(chain.get()), nullptr);
  EXPECT_EQ(guardian_of(chain.get()), guardian_of(llama_sampler_chain_get(chain.get(), 1)));
  EXPECT_EQ(guardian_of(llama_sampler_chain_get(chain.get(), 0)), nullptr);
  sampler_ptr greedy(llama_sampler_init_greedy());
  EXPECT_EQ(guardian_of(greedy.get()), nullptr);
  EXPECT_FALSE(guardian_sampler_stopped(nullptr));
  // A user sampler without a name (allowed by llama.h) is not a chain and not ours.
  static llama_sampler_i anonymous{};
  anonymous.apply = [](llama_sampler*, llama_token_data_array*) {};
  llama_sampler nameless{&anonymous, nullptr};
  EXPECT_EQ(guardian_of(&nameless), nullptr);
}

TEST(llama_cpp_guardian_sampler, one_sampler_per_sequence_each_matches_its_own_lil_guardian) {
  auto& r = shared_reasoner();
  // Two sequences' outputs, interleaved token by token through two samplers.
  std::vector<std::vector<llama_token>> outputs(2);
  for (int i = 0; i < 600; ++i) {
    outputs[0].push_back(static_cast<llama_token>(10 + (i % 3)));
    outputs[1].push_back(static_cast<llama_token>(3 + (i * 7919 % 60)));
  }
  std::vector<sampler_ptr> samplers;
  for (int k = 0; k < 2; ++k) samplers.emplace_back(init_guardian_sampler(r.pieces, demo_rule()));
  for (std::size_t i = 0; i < 600; ++i)
    for (std::size_t k = 0; k < 2; ++k) llama_sampler_accept(samplers[k].get(), outputs[k][i]);
  for (std::size_t k = 0; k < 2; ++k) {
    const std::size_t expected = lil_stop(r.tok, outputs[k], 5, demo_rule());
    const lil::decision d = guardian_of(samplers[k].get())->decision();
    EXPECT_EQ(d.stop() ? static_cast<std::size_t>(d.stopped_at) : 0u, expected) << "sequence " << k;
  }
  EXPECT_TRUE(guardian_sampler_stopped(samplers[0].get())) << "a 3-token cycle must stop";
}

// A loop in which apply never runs (a backend sampler, a custom picker) picks
// tokens itself, calls accept, and ends when guardian_sampler_stopped says so:
// at the same token as the enforcing chain.
TEST(llama_cpp_guardian_sampler, a_loop_that_skips_apply_stops_at_the_same_token_through_guardian_sampler_stopped) {
  auto& r = shared_reasoner();
  const std::vector<llama_token> prompt = r.prompt(0);
  llama_run::settings cfg;
  cfg.max_new_tokens = 400;
  cfg.sink_budget = 16;
  const llama_run::trace free_run = llama_run::generate(r.ctx.get(), r.pieces, prompt, cfg);
  const std::size_t expected = lil_stop(r.tok, free_run.tokens, prompt.back(), demo_rule());
  ASSERT_GT(expected, 0u) << "problem 0 loops at sink budget 16";

  llama_memory_clear(llama_get_memory(r.ctx.get()), true);
  lil::kv::sink_options o;
  o.budget = 16;
  auto kv = lil::llama_cpp::kv_bridge::sink(r.ctx.get(), 0, o);
  sampler_ptr chain(llama_sampler_chain_init(llama_sampler_chain_default_params()));
  llama_sampler_chain_add(chain.get(), init_guardian_sampler(r.pieces, demo_rule()));
  ASSERT_EQ(kv.decode(prompt), 0);
  std::vector<llama_token> out;
  const int vocab = r.pieces->size();
  while (out.size() < 400) {
    const float* logits = llama_get_logits_ith(r.ctx.get(), -1);
    llama_token t = 0;
    for (int v = 1; v < vocab; ++v)
      if (logits[v] > logits[t]) t = v;
    if (t == 1 || t == 2) break;
    out.push_back(t);
    llama_sampler_accept(chain.get(), t);
    if (guardian_sampler_stopped(chain.get())) break;
    ASSERT_EQ(kv.decode(&t, 1), 0);
  }
  EXPECT_EQ(out.size(), expected);
  EXPECT_TRUE(std::equal(out.begin(), out.end(), free_run.tokens.begin()));
}

}  // namespace
