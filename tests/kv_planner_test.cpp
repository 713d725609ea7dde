// Properties of planner.hpp: a batch equals its sequences run alone, a fork
// equals two independent runs, a chunked prompt equals the prompt token by
// token, the state sits where the documented layout says, bad calls are
// refused before anything changes, and steps allocate nothing.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "kv_test_util.hpp"
#include "support/allocation_counter.hpp"

namespace kv = lil::kv;

namespace {

kv::model_shape shape() { return kvtest::shape(8, 2, 16, 160); }

// Every policy, with the variants whose layout differs (per-KV-head TOVA,
// Quest's max fold and bf16 bounds, SnapKV evicting generated tokens).
std::vector<kv::policy_spec> every_policy() {
  std::vector<kv::policy_spec> out;
  for (const char* text : {"full", "sink:24", "h2o:24", "h2o:24,gqa=max", "quest:32,page=8,skip=0",
                           "quest:32,page=8,gqa=max,skip=0", "quest:32,page=8,bounds=bf16,skip=0",
                           "snapkv:24,window=8", "snapkv:24,window=8,evict_generated=1,gqa=max", "tova:24",
                           "tova:24,per_kv_head=1"})
    out.push_back(kv::policy_spec::parse(text));
  return out;
}

// What one sequence saw at one step: its output, what it wrote where, what
// it read (positions, so that layouts may differ) and what it evicted.
struct step_record {
  std::vector<float> out;
  std::vector<std::int32_t> slots;
  std::vector<std::int64_t> evicted;
  std::vector<std::vector<std::int64_t>> read;  // per KV head, positions
};

// A sequence run alone through a policy object of its own (make_policy and
// wrap_step: the single-sequence path).
struct alone {
  std::unique_ptr<kv::policy> p;
  kv::kv_store store;
  kv::step_workspace ws;
  alone(const kv::policy_spec& spec, const kv::model_shape& s)
      : p(kv::make_policy(spec, s, 0)), store(s.n_kv_heads, p->capacity(), s.head_dim), ws(*p) {}

  step_record step(std::int64_t pos, const kvtest::token& t) {
    const auto& s = p->shape();
    step_record r;
    r.out.assign(static_cast<std::size_t>(s.n_heads * s.head_dim), 0.0f);
    kv::wrap_step(*p, ws, store, pos, t.q.data(), t.k.data(), t.v.data(), r.out.data(),
                  [&](const kv::attention_args& a) {
                    for (int h = 0; h < s.n_kv_heads; ++h) {
                      std::vector<std::int64_t> read;
                      for (std::int32_t slot : a.selected.head(h)) read.push_back(p->position(h, slot));
                      r.read.push_back(read);
                    }
                    kv::reference_attention(store.view())(a);
                  });
    // The slot and eviction of this append, per KV head.
    for (int h = 0; h < s.n_kv_heads; ++h) {
      std::int32_t slot = -1;
      for (std::int32_t x : p->live_slots(h))
        if (p->position(h, x) == pos) slot = x;
      r.slots.push_back(slot);
    }
    return r;
  }
  void prefill_done() { kv::apply_moves(store, p->prefill_done()); }
};

// The engine side of a planner: one kv_store per sequence, the reference
// attention per row over the plan's tables, the weights stacked by row.
struct engine {
  kv::planner pl;
  std::vector<kv::kv_store> stores;
  std::vector<float> weights;
  std::size_t stride;
  engine(const kv::policy_spec& spec, const kv::model_shape& s, int batch, int rows)
      : pl(spec, s, 0, batch, rows),
        stride(static_cast<std::size_t>(pl.max_selected())) {
    for (int b = 0; b < batch; ++b) stores.emplace_back(s.n_kv_heads, pl.capacity(), s.head_dim);
    weights.assign(static_cast<std::size_t>(rows) * static_cast<std::size_t>(s.n_heads) * stride, 0.0f);
  }

  // Rows (seq[r], pos[r], toks[r]); returns one record per row.
  std::vector<step_record> step(const std::vector<std::int32_t>& seq, const std::vector<std::int64_t>& pos,
                                const std::vector<const kvtest::token*>& toks, std::vector<std::int64_t>* evicted_all = nullptr) {
    const auto& s = pl.shape();
    const std::size_t qd = static_cast<std::size_t>(s.n_heads * s.head_dim);
    std::vector<float> keys, queries;
    for (const auto* t : toks) {
      keys.insert(keys.end(), t->k.begin(), t->k.end());
      queries.insert(queries.end(), t->q.begin(), t->q.end());
    }
    kv::planner_rows rows;
    rows.seq = seq.data();
    rows.position = pos.data();
    rows.n_rows = static_cast<std::int32_t>(seq.size());
    rows.keys = keys.data();
    rows.queries = queries.data();
    const kv::step_plan& plan = pl.step(rows);
    std::vector<step_record> recs(seq.size());
    for (std::int32_t r = 0; r < rows.n_rows; ++r) {
      auto& st = stores[static_cast<std::size_t>(seq[static_cast<std::size_t>(r)])];
      for (int h = 0; h < s.n_kv_heads; ++h) {
        st.write(h, plan.slots_of(r)[h], toks[static_cast<std::size_t>(r)]->k.data() + h * s.head_dim,
                 toks[static_cast<std::size_t>(r)]->v.data() + h * s.head_dim);
        recs[static_cast<std::size_t>(r)].slots.push_back(plan.slots_of(r)[h]);
        recs[static_cast<std::size_t>(r)].evicted.push_back(plan.evicted_position[r * s.n_kv_heads + h]);
      }
    }
    // Attention only after every row is written: a chunk's rows read one another.
    for (std::int32_t r = 0; r < rows.n_rows; ++r) {
      const std::int32_t sq = seq[static_cast<std::size_t>(r)];
      std::vector<const std::int32_t*> heads;
      std::vector<std::int32_t> counts;
      auto& rec = recs[static_cast<std::size_t>(r)];
      for (int h = 0; h < s.n_kv_heads; ++h) {
        heads.push_back(plan.table(r, h));
        counts.push_back(plan.count(r, h));
        std::vector<std::int64_t> read;
        for (std::int32_t i = 0; i < plan.count(r, h); ++i)
          read.push_back(pl.sequence(sq).position(h, plan.table(r, h)[i]));
        rec.read.push_back(read);
      }
      rec.out.assign(qd, 0.0f);
      kv::attention_args a;
      a.query = toks[static_cast<std::size_t>(r)]->q.data();
      a.out = rec.out.data();
      a.weights = &weights[static_cast<std::size_t>(r) * static_cast<std::size_t>(s.n_heads) * stride];
      a.weights_stride = stride;
      a.weights_wanted = true;
      a.selected = kv::slot_lists(heads.data(), counts.data(), s.n_kv_heads);
      a.n_heads = s.n_heads;
      a.n_kv_heads = s.n_kv_heads;
      a.head_dim = s.head_dim;
      a.position = pos[static_cast<std::size_t>(r)];
      kv::reference_attention(stores[static_cast<std::size_t>(sq)].view())(a);
    }
    pl.observe(weights.data(), stride);
    if (evicted_all) *evicted_all = std::vector<std::int64_t>(plan.evicted_position, plan.evicted_position + rows.n_rows * s.n_kv_heads);
    return recs;
  }
  void prefill_done(std::int32_t seq) { kv::apply_moves(stores[static_cast<std::size_t>(seq)], pl.prefill_done(seq)); }
};

}  // namespace

TEST(kv_planner, a_batch_equals_its_sequences_run_alone) {
  const auto s = shape();
  constexpr int kBatch = 4;
  const int prompt[kBatch] = {40, 9, 57, 30};
  const int total[kBatch] = {120, 100, 150, 90};  // past every budget
  for (const auto& spec : every_policy()) {
    engine eng(spec, s, kBatch, kBatch);
    std::vector<std::unique_ptr<alone>> solo;
    std::vector<std::vector<kvtest::token>> toks;
    for (int b = 0; b < kBatch; ++b) {
      solo.push_back(std::make_unique<alone>(spec, s));
      toks.push_back(kvtest::random_tokens(s, total[b], 100u + static_cast<unsigned>(b), 2.0f));
    }
    int steps_compared = 0;
    for (int t = 0; t < 160; ++t) {
      // Sequences join at different times and leave when done: rows in a
      // changing order, as a continuous-batching engine sends them.
      std::vector<std::int32_t> seq;
      std::vector<std::int64_t> pos;
      std::vector<const kvtest::token*> rows;
      for (int i = 0; i < kBatch; ++i) {
        const int b = (i + t) % kBatch;
        const int p = t - b * 3;  // sequence b starts at step 3b
        if (p < 0 || p >= total[b]) continue;
        seq.push_back(b);
        pos.push_back(p);
        rows.push_back(&toks[static_cast<std::size_t>(b)][static_cast<std::size_t>(p)]);
      }
      if (seq.empty()) continue;
      const auto batched = eng.step(seq, pos, rows);
      for (std::size_t r = 0; r < seq.size(); ++r) {
        const int b = seq[r];
        const step_record want = solo[static_cast<std::size_t>(b)]->step(pos[r], *rows[r]);
        ASSERT_EQ(batched[r].read, want.read) << spec.name() << " seq " << b << " pos " << pos[r];
        ASSERT_EQ(batched[r].out, want.out) << spec.name() << " seq " << b << " pos " << pos[r];
        ++steps_compared;
        if (pos[r] == prompt[b] - 1) {
          eng.prefill_done(b);
          solo[static_cast<std::size_t>(b)]->prefill_done();
        }
      }
    }
    EXPECT_EQ(steps_compared, 120 + 100 + 150 + 90) << spec.name();
  }
}

TEST(kv_planner, evictions_and_slots_match_the_single_sequence_policy) {
  const auto s = shape();
  for (const auto& spec : every_policy()) {
    engine eng(spec, s, 2, 2);
    auto solo = kv::make_policy(spec, s, 0);
    const auto toks = kvtest::random_tokens(s, 100, 7, 2.0f);
    kv::step_workspace ws(*solo);
    kv::kv_store st(s.n_kv_heads, solo->capacity(), s.head_dim);
    int evictions = 0;
    for (int t = 0; t < 100; ++t) {
      std::vector<std::int64_t> ev;
      // Sequence 1 of the planner carries the stream; sequence 0 idles.
      const auto rec = eng.step({1}, {t}, {&toks[static_cast<std::size_t>(t)]}, &ev);
      std::vector<float> out(static_cast<std::size_t>(s.n_heads * s.head_dim));
      const kvtest::token& tk = toks[static_cast<std::size_t>(t)];
      kv::wrap_step(*solo, ws, st, t, tk.q.data(), tk.k.data(), tk.v.data(), out.data(),
                    [&](const kv::attention_args& a) { kv::reference_attention(st.view())(a); });
      for (int h = 0; h < s.n_kv_heads; ++h) {
        // The slot maps are the same code on the same inputs: same slots.
        EXPECT_EQ(eng.pl.sequence(1).position(h, rec[0].slots[static_cast<std::size_t>(h)]), t);
        EXPECT_EQ(solo->position(h, rec[0].slots[static_cast<std::size_t>(h)]), t) << spec.name();
        if (ev[static_cast<std::size_t>(h)] >= 0) ++evictions;
      }
      if (t == 39) {
        eng.prefill_done(1);
        kv::apply_moves(st, solo->prefill_done());
      }
      ASSERT_EQ(rec[0].out, out) << spec.name() << " t " << t;
    }
    EXPECT_EQ(eng.pl.sequence(0).appended(), 0) << spec.name();
    const std::string name = spec.name();
    if (name == "sink" || name == "h2o" || name == "tova") {
      EXPECT_GT(evictions, 0) << name;
    }
  }
}

TEST(kv_planner, a_fork_equals_two_independent_runs) {
  const auto s = shape();
  for (const auto& spec : every_policy()) {
    engine eng(spec, s, 3, 3);
    const auto common = kvtest::random_tokens(s, 50, 11, 2.0f);
    const auto tail_a = kvtest::random_tokens(s, 70, 12, 2.0f);
    const auto tail_b = kvtest::random_tokens(s, 70, 13, 2.0f);
    const auto noise = kvtest::random_tokens(s, 30, 14, 2.0f);
    alone a(spec, s), b(spec, s);
    // Sequence 2 first holds an unrelated stream, so that the fork must
    // replace every part of its state.
    for (int t = 0; t < 30; ++t) eng.step({2}, {t}, {&noise[static_cast<std::size_t>(t)]});
    for (int t = 0; t < 50; ++t) {
      const auto& tk = common[static_cast<std::size_t>(t)];
      const auto got = eng.step({0}, {t}, {&tk});
      const auto want = a.step(t, tk);
      b.step(t, tk);
      ASSERT_EQ(got[0].read, want.read) << spec.name() << " t " << t;
      ASSERT_EQ(got[0].out, want.out) << spec.name() << " t " << t;
      if (t == 29) {
        eng.prefill_done(0);
        a.prefill_done();
        b.prefill_done();
      }
    }
    eng.pl.fork(0, 2);
    eng.stores[2] = eng.stores[0];  // the engine forks its own K/V
    for (int t = 50; t < 120; ++t) {
      const auto& ta = tail_a[static_cast<std::size_t>(t - 50)];
      const auto& tb = tail_b[static_cast<std::size_t>(t - 50)];
      const auto got = eng.step({2, 0}, {t, t}, {&tb, &ta});
      const auto want_b = b.step(t, tb);
      const auto want_a = a.step(t, ta);
      ASSERT_EQ(got[0].read, want_b.read) << spec.name() << " t " << t;
      ASSERT_EQ(got[0].out, want_b.out) << spec.name() << " t " << t;
      ASSERT_EQ(got[1].read, want_a.read) << spec.name() << " t " << t;
      ASSERT_EQ(got[1].out, want_a.out) << spec.name() << " t " << t;
    }
    // The two branches really diverged.
    EXPECT_NE(eng.step({0}, {120}, {&tail_a[0]})[0].out, eng.step({2}, {120}, {&tail_a[0]})[0].out) << spec.name();
  }
}

TEST(kv_planner, a_fork_in_the_middle_of_the_prompt_compresses_like_an_independent_run) {
  const auto s = shape();
  const auto spec = kv::policy_spec::parse("snapkv:24,window=8");
  engine eng(spec, s, 2, 2);
  alone a(spec, s), b(spec, s);
  const auto toks = kvtest::random_tokens(s, 80, 21, 2.0f);
  const auto other = kvtest::random_tokens(s, 80, 22, 2.0f);
  for (int t = 0; t < 20; ++t) {
    eng.step({0}, {t}, {&toks[static_cast<std::size_t>(t)]});
    a.step(t, toks[static_cast<std::size_t>(t)]);
    b.step(t, toks[static_cast<std::size_t>(t)]);
  }
  eng.pl.fork(0, 1);
  eng.stores[1] = eng.stores[0];
  for (int t = 20; t < 80; ++t) {
    const auto got = eng.step({0, 1}, {t, t}, {&toks[static_cast<std::size_t>(t)], &other[static_cast<std::size_t>(t)]});
    ASSERT_EQ(got[0].out, a.step(t, toks[static_cast<std::size_t>(t)]).out) << t;
    ASSERT_EQ(got[1].out, b.step(t, other[static_cast<std::size_t>(t)]).out) << t;
    if (t == 39) {
      eng.prefill_done(0);
      eng.prefill_done(1);
      a.prefill_done();
      b.prefill_done();
    }
  }
}

TEST(kv_planner, a_chunked_prompt_equals_the_prompt_token_by_token) {
  const auto s = shape();
  constexpr int kPrompt = 70, kTotal = 130, kChunk = 16;
  for (const auto& spec : every_policy()) {
    engine eng(spec, s, 2, kChunk);
    alone a(spec, s);
    const auto toks = kvtest::random_tokens(s, kTotal, 31, 2.0f);
    int t = 0, chunks = 0;
    while (t < kTotal) {
      const int left = (t < kPrompt ? kPrompt : kTotal) - t;
      int n = std::min({kChunk, left, eng.pl.room(1)});
      n = n < 1 ? 1 : n;
      std::vector<std::int32_t> seq(static_cast<std::size_t>(n), 1);
      std::vector<std::int64_t> pos;
      std::vector<const kvtest::token*> rows;
      for (int i = 0; i < n; ++i) {
        pos.push_back(t + i);
        rows.push_back(&toks[static_cast<std::size_t>(t + i)]);
      }
      const auto got = eng.step(seq, pos, rows);
      for (int i = 0; i < n; ++i) {
        const auto want = a.step(t + i, toks[static_cast<std::size_t>(t + i)]);
        ASSERT_EQ(got[static_cast<std::size_t>(i)].read, want.read) << spec.name() << " pos " << t + i;
        ASSERT_EQ(got[static_cast<std::size_t>(i)].out, want.out) << spec.name() << " pos " << t + i;
      }
      chunks += n > 1;
      t += n;
      if (t == kPrompt) {
        eng.prefill_done(1);
        a.prefill_done();
      }
    }
    EXPECT_GT(chunks, 0) << spec.name();
  }
}

TEST(kv_planner, state_sits_where_the_layout_says) {
  const auto s = shape();
  constexpr int kBatch = 3;
  const auto run = [&](kv::planner& pl, std::vector<std::vector<kvtest::token>>& toks) {
    std::vector<float> w(static_cast<std::size_t>(kBatch * s.n_heads * pl.max_selected()), 0.0f);
    for (int b = 0; b < kBatch; ++b) toks.push_back(kvtest::random_tokens(s, 60, 40u + static_cast<unsigned>(b)));
    for (int t = 0; t < 60; ++t) {
      std::vector<std::int32_t> seq = {0, 1, 2};
      std::vector<std::int64_t> pos = {t, t, t};
      std::vector<float> k, q;
      for (int b = 0; b < kBatch; ++b) {
        const auto& tk = toks[static_cast<std::size_t>(b)][static_cast<std::size_t>(t)];
        k.insert(k.end(), tk.k.begin(), tk.k.end());
        q.insert(q.end(), tk.q.begin(), tk.q.end());
      }
      kv::planner_rows rows{seq.data(), pos.data(), kBatch, k.data(), q.data()};
      const auto& plan = pl.step(rows);
      // Weights that differ by row and slot, so that scores differ.
      for (int r = 0; r < kBatch; ++r)
        for (int h = 0; h < s.n_heads; ++h)
          for (int i = 0; i < plan.count(r, s.kv_head_of(h)); ++i)
            w[(static_cast<std::size_t>(r) * s.n_heads + h) * pl.max_selected() + i] =
                static_cast<float>((r + 1) * (i % 7 + 1) + h) / 100.0f;
      pl.observe(w.data(), static_cast<std::size_t>(pl.max_selected()));
    }
  };
  {
    kv::planner pl(kv::policy_spec::parse("h2o:24"), s, 0, kBatch, kBatch);
    std::vector<std::vector<kvtest::token>> toks;
    run(pl, toks);
    const auto score = pl.state("h2o.score");
    ASSERT_NE(score.name, nullptr);
    EXPECT_STREQ(score.dtype, "float32");
    ASSERT_EQ(score.elements, static_cast<std::size_t>(s.n_kv_heads * 24));
    const auto pos = pl.state("slot.position");
    ASSERT_EQ(pos.elements, static_cast<std::size_t>(s.n_kv_heads * 24));  // T = H for H2O, C = budget
    const auto appended = pl.state("appended");
    for (int b = 0; b < kBatch; ++b) {
      const auto& p = static_cast<const kv::h2o_policy&>(pl.sequence(b));
      EXPECT_EQ(static_cast<const std::int64_t*>(appended.data)[b], 60);
      for (int h = 0; h < s.n_kv_heads; ++h)
        for (int slot = 0; slot < 24; ++slot) {
          const std::size_t at = (static_cast<std::size_t>(b) * s.n_kv_heads + h) * 24 + slot;
          EXPECT_EQ(static_cast<const float*>(score.data)[at], p.score(h, slot));
          EXPECT_EQ(static_cast<const std::int64_t*>(pos.data)[at], p.position(h, slot));
        }
    }
    EXPECT_EQ(pl.state("quest.page_max").name, nullptr);
  }
  {
    kv::planner pl(kv::policy_spec::parse("quest:32,page=8,skip=0"), s, 0, kBatch, kBatch);
    std::vector<std::vector<kvtest::token>> toks;
    run(pl, toks);
    const auto mx = pl.state("quest.page_max");
    const auto mn = pl.state("quest.page_min");
    ASSERT_NE(mx.name, nullptr);
    const int tiles = (s.max_context + 8 * 16 - 1) / (8 * 16);
    ASSERT_EQ(mx.elements, static_cast<std::size_t>(s.n_kv_heads * tiles * s.head_dim * 16));
    for (int b = 0; b < kBatch; ++b)
      for (int h = 0; h < s.n_kv_heads; ++h)
        for (int page = 0; page < 60 / 8; ++page)
          for (int c = 0; c < s.head_dim; ++c) {
            float hi = -INFINITY, lo = INFINITY;
            for (int t = page * 8; t < page * 8 + 8; ++t) {
              const float x = toks[static_cast<std::size_t>(b)][static_cast<std::size_t>(t)].k[static_cast<std::size_t>(h * s.head_dim + c)];
              hi = std::max(hi, x);
              lo = std::min(lo, x);
            }
            const std::size_t at = static_cast<std::size_t>(b) * mx.elements +
                                   ((static_cast<std::size_t>(h) * tiles + page / 16) * s.head_dim + c) * 16 + page % 16;
            EXPECT_EQ(static_cast<const float*>(mx.data)[at], hi);
            EXPECT_EQ(static_cast<const float*>(mn.data)[at], lo);
          }
    // Quest's page table lists the pages of its slot table, current page last.
    const auto& plan = pl.last_plan();
    ASSERT_EQ(plan.page_stride, 4);
    for (int r = 0; r < kBatch; ++r)
      for (int h = 0; h < s.n_kv_heads; ++h) {
        const std::int32_t* pages = plan.page_tables + (static_cast<std::size_t>(plan.row_group[r]) * s.n_kv_heads + h) * 4;
        ASSERT_EQ(plan.page_count[plan.row_group[r] * s.n_kv_heads + h], 4);
        EXPECT_EQ(pages[3], 59 / 8);
        for (int i = 0; i < plan.count(r, h); ++i) EXPECT_EQ(plan.table(r, h)[i] / 8, pages[i / 8]);
      }
  }
}

TEST(kv_planner, bad_calls_are_refused_before_anything_changes) {
  const auto s = shape();
  kv::planner pl(kv::policy_spec::parse("h2o:24"), s, 0, 3, 32);
  std::vector<float> k(static_cast<std::size_t>(32 * s.n_kv_heads * s.head_dim), 0.5f);
  std::vector<float> w(static_cast<std::size_t>(32 * s.n_heads * 24), 0.01f);
  auto call = [&](std::vector<std::int32_t> seq, std::vector<std::int64_t> pos) {
    kv::planner_rows rows{seq.data(), pos.data(), static_cast<std::int32_t>(seq.size()), k.data(), nullptr};
    pl.step(rows);
  };
  call({0, 1}, {0, 0});
  pl.observe(w.data(), 24);
  kvtest::expect_error([&] { call({0, 5}, {1, 1}); }, {"row 1", "sequence 5", "outside 0..2"});
  kvtest::expect_error([&] { call({0, 1, 0}, {1, 1, 2}); }, {"row 2", "consecutive"});
  kvtest::expect_error([&] { call({0, 0}, {2, 1}); }, {"row 1", "positions must increase"});
  kvtest::expect_error([&] { call({1}, {-3}); }, {"row 0", "negative position -3"});
  std::vector<std::int32_t> chunk(30, 2);
  std::vector<std::int64_t> chunk_pos;
  for (int i = 0; i < 30; ++i) chunk_pos.push_back(i);
  kvtest::expect_error([&] { call(chunk, chunk_pos); }, {"chunk of 30", "room is 24"});
  EXPECT_EQ(pl.sequence(0).appended(), 1);
  EXPECT_EQ(pl.sequence(1).appended(), 1);
  EXPECT_EQ(pl.sequence(2).appended(), 0);
  // A bad weight in the second row leaves the first row's scores alone.
  call({0, 1}, {1, 1});
  const auto score = pl.state("h2o.score");
  std::vector<float> before(static_cast<const float*>(score.data), static_cast<const float*>(score.data) + 3 * score.elements);
  w[static_cast<std::size_t>(s.n_heads * 24 + 1)] = NAN;
  kvtest::expect_error([&] { pl.observe(w.data(), 24); }, {"h2o observe", "nan"});
  EXPECT_EQ(std::memcmp(before.data(), score.data, before.size() * sizeof(float)), 0);
  kvtest::expect_error([&] { pl.fork(0, 3); }, {"fork target", "sequence 3"});
  kvtest::expect_error([] { kv::planner(kv::policy_spec::parse("sink:8"), shape(), 0, 0); }, {"max_batch 0"});
  kv::planner quest(kv::policy_spec::parse("quest:32,skip=0"), s, 0, 1);
  kvtest::expect_error(
      [&] {
        std::int32_t seq = 0;
        std::int64_t pos = 0;
        quest.step({&seq, &pos, 1, k.data(), nullptr});
      },
      {"quest", "queries is null"});
  kv::planner full(kv::policy_spec::full(), kvtest::shape(8, 2, 16, 4), 0, 1, 8);
  std::vector<std::int32_t> four(4, 0);
  std::vector<std::int64_t> four_pos = {0, 1, 2, 3};
  full.step({four.data(), four_pos.data(), 4, k.data(), nullptr});
  kvtest::expect_error(
      [&] {
        std::int32_t seq = 0;
        std::int64_t pos = 4;
        full.step({&seq, &pos, 1, k.data(), nullptr});
      },
      {"full cache already holds 4 tokens"});
}

TEST(kv_planner, steps_forks_and_releases_allocate_nothing) {
  const auto s = shape();
  constexpr int kBatch = 3;
  for (const auto& spec : every_policy()) {
    kv::planner pl(spec, s, 0, kBatch, kBatch);
    const auto toks = kvtest::random_tokens(s, 150, 9);
    std::vector<float> k(static_cast<std::size_t>(kBatch * s.n_kv_heads * s.head_dim));
    std::vector<float> q(static_cast<std::size_t>(kBatch * s.n_heads * s.head_dim));
    std::vector<float> w(static_cast<std::size_t>(kBatch * s.n_heads * pl.max_selected()), 0.01f);
    std::vector<std::int32_t> seq = {0, 1, 2};
    std::vector<std::int64_t> pos(3, 0);
    const std::size_t before = lil::test::allocations();
    for (int t = 0; t < 150; ++t) {
      for (int b = 0; b < kBatch; ++b) {
        const auto& tk = toks[static_cast<std::size_t>(t)];
        std::copy(tk.k.begin(), tk.k.end(), k.begin() + b * s.n_kv_heads * s.head_dim);
        std::copy(tk.q.begin(), tk.q.end(), q.begin() + b * s.n_heads * s.head_dim);
        pos[static_cast<std::size_t>(b)] = pl.sequence(b).appended();
      }
      pl.step({seq.data(), pos.data(), kBatch, k.data(), q.data()});
      pl.observe(w.data(), static_cast<std::size_t>(pl.max_selected()));
      if (t == 49)
        for (int b = 0; b < kBatch; ++b) pl.prefill_done(b);
      if (t == 99) pl.fork(0, 2);
      if (t == 120) pl.release(1);
    }
    EXPECT_EQ(lil::test::allocations(), before) << spec.name();
  }
}

TEST(kv_planner, a_model_planner_forks_and_releases_every_layer) {
  const auto s = kvtest::shape(8, 2, 16, 160, 4);
  kv::model_planner model(kv::policy_spec::quest(32), s, 2);
  ASSERT_EQ(model.n_layers(), 4);
  EXPECT_STREQ(model.layer(0).name(), "full");  // Quest's first two layers stay dense
  EXPECT_STREQ(model.layer(2).name(), "quest");
  const auto toks = kvtest::random_tokens(s, 40, 51);
  for (int t = 0; t < 40; ++t)
    for (int l = 0; l < 4; ++l) {
      const std::int32_t seq = 0;
      const std::int64_t pos = t;
      model.layer(l).step({&seq, &pos, 1, toks[static_cast<std::size_t>(t)].k.data(), toks[static_cast<std::size_t>(t)].q.data()});
    }
  model.fork(0, 1);
  for (int l = 0; l < 4; ++l) {
    EXPECT_EQ(model.layer(l).sequence(1).appended(), 40);
    const auto a = model.layer(l).state("slot.position");
    EXPECT_EQ(std::memcmp(a.data, static_cast<const char*>(a.data) + a.elements * a.element_size,
                          a.elements * a.element_size),
              0);
  }
  model.release(0);
  for (int l = 0; l < 4; ++l) EXPECT_EQ(model.layer(l).sequence(0).appended(), 0);
}
