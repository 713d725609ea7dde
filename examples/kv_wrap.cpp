// kv_wrap - a hand-written attention step wrapped with two KV-cache policies.
//
// One attention layer (8 query heads, 2 KV heads, head_dim 32) reads a
// stream of 600 random tokens. Token 300 is a "needle": its key points along a
// direction that only a few late queries (steps 500, 550) look for, and its
// value carries a marker. The same stream runs through Full (dense), H2O and
// Quest with a budget of 64 tokens, each around the same user-written
// attention lambda that owns its K/V storage. H2O must decide what to keep
// before the question is asked; Quest keeps everything and picks pages per
// query, at the price of memory.
//
// Run: build/bin/kv_wrap
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <vector>

#include "lil/kv/cache.hpp"

namespace kv = lil::kv;

namespace {

constexpr int kHeads = 8, kKvHeads = 2, kDim = 32, kTokens = 600, kNeedle = 300, kBudget = 64;
constexpr int kQuestions[] = {500, 550};

// The user's own K/V storage: all wrap_step() needs is write() (and move()
// for SnapKV's compaction).
struct my_kv_storage {
  int capacity;
  std::vector<float> keys, values;  // [kv head][slot][dim]
  explicit my_kv_storage(int cap)
      : capacity(cap), keys(static_cast<std::size_t>(kKvHeads * cap * kDim)), values(keys.size()) {}
  float* key(int h, std::int32_t slot) { return &keys[static_cast<std::size_t>((h * capacity + slot) * kDim)]; }
  float* value(int h, std::int32_t slot) { return &values[static_cast<std::size_t>((h * capacity + slot) * kDim)]; }
  void write(int h, std::int32_t slot, const float* k, const float* v) {
    std::copy(k, k + kDim, key(h, slot));
    std::copy(v, v + kDim, value(h, slot));
  }
  void move(int h, std::int32_t from, std::int32_t to) { write(h, to, key(h, from), value(h, from)); }
};

struct token {
  std::vector<float> q, k, v;
};

std::vector<token> make_stream() {
  std::mt19937 gen(2024);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::vector<token> s(kTokens);
  for (int t = 0; t < kTokens; ++t) {
    auto& tk = s[static_cast<std::size_t>(t)];
    tk.q.resize(kHeads * kDim);
    tk.k.resize(kKvHeads * kDim);
    tk.v.resize(kKvHeads * kDim);
    for (auto& x : tk.q) x = 2.0f * noise(gen);  // peaky attention, as in trained models
    for (auto& x : tk.k) x = noise(gen);
    for (auto& x : tk.v) x = noise(gen);
    // Channel 0 is the needle's: nobody else uses it.
    for (int h = 0; h < kKvHeads; ++h) tk.k[static_cast<std::size_t>(h * kDim)] = 0.0f;
    for (int h = 0; h < kHeads; ++h) tk.q[static_cast<std::size_t>(h * kDim)] = 0.0f;
  }
  for (int h = 0; h < kKvHeads; ++h) {
    s[kNeedle].k[static_cast<std::size_t>(h * kDim)] = 12.0f;
    for (int j = 0; j < kDim; ++j) s[kNeedle].v[static_cast<std::size_t>(h * kDim + j)] = 5.0f;  // the marker
  }
  for (int t : kQuestions)
    for (int h = 0; h < kHeads; ++h) s[static_cast<std::size_t>(t)].q[static_cast<std::size_t>(h * kDim)] = 12.0f;
  return s;
}

struct run_result {
  std::vector<std::vector<float>> outputs;
  double needle_weight[2] = {0, 0};  // mean attention on the needle at each question
  kv::memory_report memory;
  std::int32_t read_per_head = 0;
};

run_result run(const kv::policy_spec& spec, const std::vector<token>& stream) {
  kv::model_shape shape;
  shape.n_heads = kHeads;
  shape.n_kv_heads = kKvHeads;
  shape.head_dim = kDim;
  shape.max_context = kTokens;
  std::unique_ptr<kv::policy> policy = kv::make_policy(spec, shape, /*layer=*/0);
  kv::step_workspace workspace(*policy);
  my_kv_storage storage(policy->capacity());

  // The user-written attention step: plain loops over the selected slots.
  auto attention = [&](const kv::attention_args& a) {
    const float scale = 1.0f / std::sqrt(static_cast<float>(a.head_dim));
    for (int q = 0; q < a.n_heads; ++q) {
      const int h = a.kv_head_of(q);
      const kv::slot_span sel = a.selected.head(h);
      const float* qv = a.query + q * a.head_dim;
      float* w = a.weights_row(q);  // always there; the policy reads it when a.weights_wanted
      float top = -INFINITY;
      for (std::int32_t i = 0; i < sel.size; ++i) {
        const float* k = storage.key(h, sel[i]);
        float dot = 0.0f;
        for (int j = 0; j < a.head_dim; ++j) dot += qv[j] * k[j];
        w[i] = dot * scale;
        top = std::max(top, w[i]);
      }
      float sum = 0.0f;
      for (std::int32_t i = 0; i < sel.size; ++i) sum += (w[i] = std::exp(w[i] - top));
      float* out = a.out + q * a.head_dim;
      std::fill(out, out + a.head_dim, 0.0f);
      for (std::int32_t i = 0; i < sel.size; ++i) {
        w[i] /= sum;
        const float* v = storage.value(h, sel[i]);
        for (int j = 0; j < a.head_dim; ++j) out[j] += w[i] * v[j];
      }
    }
  };

  run_result r;
  std::vector<float> out(kHeads * kDim);
  for (int t = 0; t < kTokens; ++t) {
    const auto& tk = stream[static_cast<std::size_t>(t)];
    kv::wrap_step(*policy, workspace, storage, t, tk.q.data(), tk.k.data(), tk.v.data(), out.data(), attention);
    r.outputs.push_back(out);
    for (int qi = 0; qi < 2; ++qi) {
      if (t != kQuestions[qi]) continue;
      const kv::weights_view w{workspace.weights(), workspace.stride()};
      for (int q = 0; q < kHeads; ++q) {
        const int h = shape.kv_head_of(q);
        const kv::slot_span sel = policy->last_selection().head(h);
        for (std::int32_t i = 0; i < sel.size; ++i)
          if (policy->position(h, sel[i]) == kNeedle) r.needle_weight[qi] += w.row(q)[i] / kHeads;
      }
      r.read_per_head = policy->last_selection().head(0).size;
    }
  }
  r.memory = policy->memory();
  return r;
}

double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

}  // namespace

int main() {
  const auto stream = make_stream();
  auto quest = kv::policy_spec::quest(kBudget);
  quest.skip_first_layers = 0;  // a one-layer model: keep Quest on layer 0
  const kv::policy_spec specs[] = {kv::policy_spec::full(), kv::policy_spec::h2o(kBudget), quest};

  std::printf("one attention layer, %d query / %d KV heads, head_dim %d, %d tokens; needle at position %d,\n"
              "asked for at steps %d and %d; budget %d tokens\n\n",
              kHeads, kKvHeads, kDim, kTokens, kNeedle, kQuestions[0], kQuestions[1], kBudget);
  std::printf("%-6s %11s %11s %12s %16s %22s\n", "policy", "KV held", "KV bytes", "read/step", "cos vs dense",
              "attention on needle");
  run_result dense;
  for (const auto& spec : specs) {
    const run_result r = run(spec, stream);
    if (std::string(spec.name()) == "full") dense = r;
    double cos_sum = 0, cos_min = 1;
    for (std::size_t t = 0; t < r.outputs.size(); ++t) {
      const double c = cosine(r.outputs[t], dense.outputs[t]);
      cos_sum += c;
      cos_min = std::min(cos_min, c);
    }
    std::printf("%-6s %11d %11zu %12d %9.4f (min %.2f) %9.3f and %.3f\n", spec.name(), r.memory.tokens_held,
                r.memory.kv_bytes, r.read_per_head, cos_sum / static_cast<double>(r.outputs.size()), cos_min,
                r.needle_weight[0], r.needle_weight[1]);
  }
  std::printf("\nH2O had to choose what to keep before the question came; Quest keeps every token\n"
              "and reads the needle's page when the query asks for it.\n");
  return 0;
}
