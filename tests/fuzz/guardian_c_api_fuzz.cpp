// libFuzzer target: the Guardian C ABI (include/lil/lil.h) under random
// options and random sequences of its verbs.
//   - bad options are refused with LIL_E_BAD_OPTION or LIL_E_STRUCT_SIZE and a
//     message, never LIL_E_INTERNAL, never a crash;
//   - the guardian under test (single and batched accepts, speculative
//     accepts rolled back, rollbacks of any length, clones replacing it,
//     resets) always decides exactly as a reference guardian that was fed,
//     one token at a time from a fresh handle, only the tokens that were
//     kept: rollback then re-accept equals never having accepted;
//   - a rollback within lil_guardian_rollback_limit() succeeds, one past it is
//     refused with LIL_E_ROLLBACK and changes nothing;
//   - NULL arguments are refused with LIL_E_NULL.
#include <fuzzer/FuzzedDataProvider.h>
#include <lil/lil.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "guardian_c_api_fuzz: %s (last error: %s)\n", what, lil_last_error_message());
  std::abort();
}

struct handle_free {
  void operator()(lil_guardian* g) const noexcept { lil_guardian_free(g); }
};
using handle = std::unique_ptr<lil_guardian, handle_free>;

struct token {
  bool is_id = false;
  std::int32_t id = 0;
  std::string text;
};

handle create(const lil_guardian_options& o) {
  lil_guardian* g = nullptr;
  if (lil_guardian_create(&o, &g) != LIL_OK || !g) fail("options accepted once are refused later");
  return handle(g);
}

void accept_one(lil_guardian* g, const token& t) {
  const int s = t.is_id ? lil_guardian_accept_raw_id(g, t.id) : lil_guardian_accept_text(g, t.text.data(), t.text.size());
  if (s != LIL_OK && s != LIL_STOP) fail("an accept failed");
}

// Several tokens with the batch verbs when they are all of one kind.
void accept_many(lil_guardian* g, const std::vector<token>& ts, std::size_t from) {
  const std::size_t n = ts.size() - from;
  bool all_ids = true, all_texts = true;
  for (std::size_t i = from; i < ts.size(); ++i) (ts[i].is_id ? all_texts : all_ids) = false;
  int s = LIL_OK;
  if (n > 0 && all_ids) {
    std::vector<std::int32_t> ids;
    for (std::size_t i = from; i < ts.size(); ++i) ids.push_back(ts[i].id);
    s = lil_guardian_accept_raw_ids(g, ids.data(), ids.size());
  } else if (n > 0 && all_texts) {
    std::vector<const char*> texts;
    std::vector<std::size_t> sizes;
    for (std::size_t i = from; i < ts.size(); ++i) {
      texts.push_back(ts[i].text.empty() ? nullptr : ts[i].text.data());
      sizes.push_back(ts[i].text.size());
    }
    s = lil_guardian_accept_texts(g, texts.data(), sizes.data(), texts.size());
  } else {
    for (std::size_t i = from; i < ts.size(); ++i) accept_one(g, ts[i]);
  }
  if (s != LIL_OK && s != LIL_STOP) fail("a batch accept failed");
}

lil_decision decision_of(const lil_guardian* g) {
  lil_decision d;
  std::memset(&d, 0, sizeof d);
  d.struct_size = sizeof d;
  if (lil_guardian_decision(g, &d) != LIL_OK) fail("decision failed");
  return d;
}

void expect_same(const lil_guardian* a, const lil_guardian* b, std::size_t curve_capacity) {
  const lil_decision x = decision_of(a), y = decision_of(b);
  if (x.stop != y.stop || x.reason != y.reason || x.tokens != y.tokens || x.stopped_at != y.stopped_at)
    fail("the decision differs from the reference's");
  const lil_check &p = x.last_check, &q = y.last_check;
  if (p.tokens != q.tokens || p.bytes != q.bytes || p.size != q.size || p.gain != q.gain ||
      p.low_gain_streak != q.low_gain_streak || p.reason != q.reason || !(p.threshold == q.threshold))
    fail("the last check differs from the reference's");
  std::vector<lil_curve_point> u(curve_capacity + 1), v(curve_capacity + 1);
  std::size_t nu = 0, nv = 0;
  if (lil_guardian_curve(a, u.data(), u.size(), &nu) != LIL_OK || lil_guardian_curve(b, v.data(), v.size(), &nv) != LIL_OK)
    fail("curve failed");
  if (nu != nv) fail("the curve's length differs from the reference's");
  for (std::size_t i = 0; i < std::min(nu, u.size()); ++i)
    if (u[i].tokens != v[i].tokens || u[i].bytes != v[i].bytes || u[i].size != v[i].size)
      fail("a curve point differs from the reference's");
}

token random_token(FuzzedDataProvider& in) {
  token t;
  t.is_id = in.ConsumeBool();
  if (t.is_id) {
    t.id = in.ConsumeIntegral<std::int32_t>();
  } else {
    // A small alphabet makes repetition, and so stops, likely.
    const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(0, 12);
    const bool wide = in.ConsumeBool();
    for (std::size_t i = 0; i < n; ++i)
      t.text += wide ? static_cast<char>(in.ConsumeIntegral<std::uint8_t>())
                     : static_cast<char>('a' + in.ConsumeIntegralInRange<int>(0, 3));
  }
  return t;
}

lil_guardian_options random_options(FuzzedDataProvider& in) {
  lil_guardian_options o;
  lil_guardian_options_init(&o);
  o.check_every = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::uint32_t>(0, 40) : in.ConsumeIntegral<std::uint32_t>();
  o.min_gain = in.ConsumeBool() ? in.ConsumeFloatingPointInRange<double>(0, 40) : in.ConsumeFloatingPoint<double>();
  o.level = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::int32_t>(1, 9) : in.ConsumeIntegral<std::int32_t>();
  o.profile = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::int32_t>(0, 1) : in.ConsumeIntegral<std::int32_t>();
  o.patience = in.ConsumeIntegralInRange<std::uint32_t>(0, 4);
  o.warmup_tokens = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::uint64_t>(0, 100) : in.ConsumeIntegral<std::uint64_t>();
  o.relative_gain = in.ConsumeBool() ? 0.0 : in.ConsumeFloatingPoint<double>();
  o.relative_checks = in.ConsumeIntegralInRange<std::uint32_t>(1, 6);
  o.pending_capacity = in.ConsumeBool() ? 0 : in.ConsumeBool() ? in.ConsumeIntegralInRange<std::size_t>(1, 256)
                                                               : in.ConsumeIntegral<std::size_t>();
  o.curve_capacity = in.ConsumeBool() ? in.ConsumeIntegralInRange<std::size_t>(0, 64) : in.ConsumeIntegral<std::size_t>();
  // Legal but huge capacities (up to 1 GiB of buffer, 6 GiB of curve) would
  // only hit libFuzzer's memory limit; the refusal of larger ones is what is
  // tested there (the fuzzer finds the bounds from the comparisons).
  if (o.pending_capacity > (1u << 16) && o.pending_capacity <= (std::size_t{1} << 30)) o.pending_capacity %= 1u << 16;
  if (o.curve_capacity > (1u << 12) && o.curve_capacity <= (std::size_t{1} << 28)) o.curve_capacity %= 1u << 12;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const lil_guardian_options o = random_options(in);
  lil_guardian* raw = nullptr;
  const int created = lil_guardian_create(&o, &raw);
  if (created != LIL_OK) {
    if (created != LIL_E_BAD_OPTION && created != LIL_E_STRUCT_SIZE && created != LIL_E_NO_MEMORY)
      fail("bad options gave a status other than LIL_E_BAD_OPTION");
    if (raw != nullptr) fail("a refused create left a handle");
    if (std::strlen(lil_last_error_message()) == 0) fail("a refused create left no message");
    return 0;
  }
  handle g(raw);
  handle ref = create(o);  // fed only the kept tokens, one at a time
  std::vector<token> kept;
  std::size_t capacity = std::min<std::size_t>(o.curve_capacity, 64);

  for (int step = 0; step < 48 && in.remaining_bytes() > 0; ++step) {
    switch (in.ConsumeIntegralInRange<int>(0, 7)) {
      case 0: {  // one token
        kept.push_back(random_token(in));
        accept_one(g.get(), kept.back());
        accept_one(ref.get(), kept.back());
        break;
      }
      case 1: {  // a batch
        const std::size_t from = kept.size();
        const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(0, 80);
        const bool ids = in.ConsumeBool();
        for (std::size_t i = 0; i < n; ++i) {
          token t = random_token(in);
          if (t.is_id != ids) t = ids ? token{true, static_cast<std::int32_t>(i), {}} : token{false, 0, "ab"};
          kept.push_back(t);
        }
        accept_many(g.get(), kept, from);
        for (std::size_t i = from; i < kept.size(); ++i) accept_one(ref.get(), kept[i]);
        break;
      }
      case 2:
      case 3: {  // speculative tokens, then a rollback of some or all, maybe more
        std::vector<token> draft = kept;
        const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(0, 40);
        for (std::size_t i = 0; i < n; ++i) draft.push_back(random_token(in));
        accept_many(g.get(), draft, kept.size());
        std::size_t limit = 0;
        if (lil_guardian_rollback_limit(g.get(), &limit) != LIL_OK) fail("rollback_limit failed");
        const std::size_t back = in.ConsumeIntegralInRange<std::size_t>(0, n + 8);
        const int s = lil_guardian_rollback(g.get(), back);
        if (back <= limit && back <= draft.size()) {
          if (s != LIL_OK) fail("a rollback within the limit was refused");
          draft.resize(draft.size() - back);
        } else if (s != LIL_E_ROLLBACK) {
          fail("a rollback past the limit was not refused with LIL_E_ROLLBACK");
        }
        if (s == LIL_OK && back > 0) {
          // The reference never saw the rolled-back tokens: a fresh one fed the rest.
          ref = create(o);
          for (const auto& t : draft) accept_one(ref.get(), t);
        } else {
          for (std::size_t i = kept.size(); i < draft.size(); ++i) accept_one(ref.get(), draft[i]);
        }
        kept = std::move(draft);
        break;
      }
      case 4: {  // reset
        if (lil_guardian_reset(g.get()) != LIL_OK) fail("reset failed");
        kept.clear();
        ref = create(o);
        break;
      }
      case 5: {  // the guardian is replaced by its clone
        lil_guardian* c = nullptr;
        if (lil_guardian_clone(g.get(), &c) != LIL_OK || !c) fail("clone failed");
        if (in.ConsumeBool()) expect_same(g.get(), c, capacity);
        g.reset(c);
        break;
      }
      case 6: {  // NULL arguments
        lil_decision d;
        std::size_t n = 0;
        if (lil_guardian_decision(g.get(), nullptr) != LIL_E_NULL || lil_guardian_decision(nullptr, &d) != LIL_E_NULL ||
            lil_guardian_rollback_limit(g.get(), nullptr) != LIL_E_NULL || lil_guardian_curve(g.get(), nullptr, 0, nullptr) != LIL_E_NULL ||
            lil_guardian_curve(g.get(), nullptr, 1, &n) != LIL_E_NULL || lil_guardian_state_bytes(g.get(), nullptr) != LIL_E_NULL ||
            lil_guardian_accept_text(g.get(), nullptr, 1) != LIL_E_NULL || lil_guardian_accept_raw_ids(g.get(), nullptr, 2) != LIL_E_NULL ||
            lil_guardian_rollback(nullptr, 0) != LIL_E_NULL)
          fail("a NULL argument was not refused with LIL_E_NULL");
        break;
      }
      default: {
        std::size_t bytes = 0;
        if (lil_guardian_state_bytes(g.get(), &bytes) != LIL_OK || bytes == 0) fail("state_bytes failed");
        break;
      }
    }
    expect_same(g.get(), ref.get(), capacity);
  }
  return 0;
}
