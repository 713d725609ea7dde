// A thin PyTorch binding of lil's KV kernels (include/lil/kv/cuda/kernels.hpp),
// FlashInfer style: every argument is a tensor the engine owns, on its device,
// in the documented layout; indices are int32; outputs are preallocated by
// the caller; launches go to torch's current stream. Nothing here allocates,
// so a decode step can be captured in a CUDA graph. The state object and the
// transformers cache on top live in lil_torch/__init__.py.
#include <torch/extension.h>

#include <ATen/cuda/CUDAContext.h>

#include "lil/kv/cuda/kernels.hpp"

namespace kc = lil::kv::cuda;

namespace {

void* stream() { return static_cast<void*>(at::cuda::getCurrentCUDAStream().stream()); }

void need(const at::Tensor& t, at::ScalarType type, const char* name) {
  TORCH_CHECK(t.is_cuda(), "lil_torch: ", name, " must be a CUDA tensor");
  TORCH_CHECK(t.is_contiguous(), "lil_torch: ", name, " must be contiguous");
  TORCH_CHECK(t.scalar_type() == type, "lil_torch: ", name, " must be ", c10::toString(type), ", got ",
              c10::toString(t.scalar_type()));
}

std::int32_t* i32(const at::Tensor& t, const char* name) {
  need(t, at::kInt, name);
  return t.data_ptr<std::int32_t>();
}
float* f32(const at::Tensor& t, const char* name) {
  need(t, at::kFloat, name);
  return t.data_ptr<float>();
}

// held [rows], appended [rows], arrival / position [rows][T][C]
kc::layer_dims dims(const at::Tensor& arrival, int64_t n_heads, int64_t n_kv_heads, int64_t head_dim) {
  TORCH_CHECK(arrival.dim() == 3, "lil_torch: arrival must be [rows][tables][capacity]");
  TORCH_CHECK(n_kv_heads > 0 && n_heads % n_kv_heads == 0, "lil_torch: n_heads ", n_heads,
              " is not a multiple of n_kv_heads ", n_kv_heads);
  kc::layer_dims d;
  d.rows = static_cast<int>(arrival.size(0));
  d.tables = static_cast<int>(arrival.size(1));
  d.capacity = static_cast<int>(arrival.size(2));
  d.n_heads = static_cast<int>(n_heads);
  d.n_kv_heads = static_cast<int>(n_kv_heads);
  d.head_dim = static_cast<int>(head_dim);
  return d;
}

kc::slot_state slots(const at::Tensor& held, const at::Tensor& appended, const at::Tensor& arrival,
                     const at::Tensor& position, const c10::optional<at::Tensor>& score) {
  kc::slot_state s;
  s.held = i32(held, "held");
  s.appended = i32(appended, "appended");
  s.arrival = i32(arrival, "arrival");
  s.position = i32(position, "position");
  TORCH_CHECK(position.sizes() == arrival.sizes(), "lil_torch: position and arrival differ in shape");
  if (score.has_value() && score->defined() && score->numel() > 0) {
    s.score = f32(*score, "score");
    TORCH_CHECK(score->dim() == 3 && score->size(2) == arrival.size(2), "lil_torch: score must be [rows][S][capacity]");
    s.score_tables = static_cast<int>(score->size(1));
  }
  return s;
}

void check_rows(const at::Tensor& seq_ids, const char* what, const at::Tensor& t) {
  TORCH_CHECK(t.size(0) >= seq_ids.size(0), "lil_torch: ", what, " has fewer rows than seq_ids");
}

// slot_state::held_cap from an optional [rows] tensor (null without one).
std::int32_t* held_cap_of(const c10::optional<at::Tensor>& held_cap, const at::Tensor& held) {
  if (!held_cap) return nullptr;
  TORCH_CHECK(held_cap->numel() >= held.numel(), "lil_torch: held_cap must be [rows]");
  return i32(*held_cap, "held_cap");
}

void fail_on_error(const char* what) {
  const char* e = kc::last_error();
  TORCH_CHECK(*e == 0, "lil_torch: ", what, ": ", e);
}

void append(at::Tensor held, at::Tensor appended, at::Tensor arrival, at::Tensor position,
            c10::optional<at::Tensor> score, int64_t rule, int64_t sinks, int64_t recent, int64_t n_heads,
            int64_t n_kv_heads, int64_t head_dim, at::Tensor seq_ids, at::Tensor positions, at::Tensor slot_out,
            at::Tensor evicted_out, c10::optional<at::Tensor> held_cap, c10::optional<at::Tensor> snap_pinned,
            c10::optional<at::Tensor> snap_cursor) {
  const kc::layer_dims d = dims(arrival, n_heads, n_kv_heads, head_dim);
  kc::slot_state s = slots(held, appended, arrival, position, score);
  kc::append_rule r;
  r.kind = static_cast<kc::victim>(rule);
  r.sinks = static_cast<int>(sinks);
  r.recent = static_cast<int>(recent);
  s.held_cap = held_cap_of(held_cap, held);
  if (r.kind == kc::victim::snapkv) {
    TORCH_CHECK(held_cap && snap_pinned && snap_cursor,
                "lil_torch: the snapkv victim (evict_generated) needs held_cap, the pinned flags and the cursor");
    need(*snap_pinned, at::kByte, "snapkv pinned");
    r.pinned = snap_pinned->data_ptr<std::uint8_t>();
    r.prefilled = i32(*snap_cursor, "snapkv cursor");  // its first row: prefilled
  }
  check_rows(seq_ids, "positions", positions);
  check_rows(seq_ids, "slot_out", slot_out);
  const int n = static_cast<int>(seq_ids.size(0));
  kc::append_and_advance(d, s, r, i32(seq_ids, "seq_ids"), n, i32(positions, "positions"), i32(slot_out, "slot_out"),
                         i32(evicted_out, "evicted_out"), stream());
  fail_on_error("append");
}

void observe_scores(at::Tensor held, at::Tensor appended, at::Tensor arrival, at::Tensor position, at::Tensor score,
                    int64_t fold, bool accumulate, int64_t n_heads, int64_t n_kv_heads, at::Tensor seq_ids,
                    at::Tensor weights) {
  const kc::layer_dims d = dims(arrival, n_heads, n_kv_heads, 1);
  const kc::slot_state s = slots(held, appended, arrival, position, score);
  TORCH_CHECK(weights.dim() == 3 && weights.size(1) == n_heads, "lil_torch: weights must be [n][n_heads][stride]");
  check_rows(seq_ids, "weights", weights);
  kc::observe_scores(d, s, static_cast<kc::fold>(fold), accumulate, i32(seq_ids, "seq_ids"),
                     static_cast<int>(seq_ids.size(0)), f32(weights, "weights"), static_cast<int>(weights.size(2)),
                     stream());
  fail_on_error("observe_scores");
}

kc::quest_state quest(const at::Tensor& page_max, const at::Tensor& page_min, int64_t page_size, int64_t budget_pages,
                      int64_t fold) {
  TORCH_CHECK(page_max.dim() == 5 && page_max.size(4) == 16,
              "lil_torch: quest bounds must be [rows][n_kv_heads][tiles][head_dim][16]");
  TORCH_CHECK(page_max.sizes() == page_min.sizes(), "lil_torch: page_max and page_min differ in shape");
  kc::quest_state q;
  q.bf16 = page_max.scalar_type() == at::kShort;
  need(page_max, q.bf16 ? at::kShort : at::kFloat, "page_max");
  need(page_min, q.bf16 ? at::kShort : at::kFloat, "page_min");
  q.page_max = page_max.data_ptr();
  q.page_min = page_min.data_ptr();
  q.max_pages = static_cast<int>(page_max.size(2) * 16);
  q.page_size = static_cast<int>(page_size);
  q.budget_pages = static_cast<int>(budget_pages);
  q.gqa = static_cast<kc::fold>(fold);
  return q;
}

void quest_update_bounds(at::Tensor page_max, at::Tensor page_min, int64_t page_size, at::Tensor seq_ids,
                         at::Tensor slot_out, at::Tensor keys) {
  const kc::quest_state q = quest(page_max, page_min, page_size, 1, 1);
  TORCH_CHECK(keys.dim() == 3, "lil_torch: keys must be [n][n_kv_heads][head_dim]");
  TORCH_CHECK(keys.size(1) == page_max.size(1) && keys.size(2) == page_max.size(3),
              "lil_torch: keys do not match the bounds' heads / head_dim");
  kc::layer_dims d;
  d.rows = static_cast<int>(page_max.size(0));
  d.n_kv_heads = static_cast<int>(page_max.size(1));
  d.n_heads = d.n_kv_heads;
  d.head_dim = static_cast<int>(page_max.size(3));
  const bool bf16 = keys.scalar_type() == at::kBFloat16;
  need(keys, bf16 ? at::kBFloat16 : at::kFloat, "keys");
  check_rows(seq_ids, "keys", keys);
  kc::quest_update_bounds(d, q, i32(seq_ids, "seq_ids"), static_cast<int>(seq_ids.size(0)), i32(slot_out, "slot_out"),
                          keys.data_ptr(), bf16, stream());
  fail_on_error("quest_update_bounds");
}

// The knobs of quest_select's scoring (kernels.hpp, quest_state): tuning
// only, every choice selects the same pages.
void knobs(kc::quest_state& q, int64_t pages_per_thread, bool staged, int64_t loads_ahead, int64_t prefetch,
           bool tail_first, int64_t fused) {
  TORCH_CHECK(prefetch == 0 || prefetch == 128 || prefetch == 256, "lil_torch: prefetch must be 0, 128 or 256");
  TORCH_CHECK(fused >= 0 && fused <= 2, "lil_torch: fused must be 0, 1 (a block per head) or 2 (the scoring grid)");
  q.pages_per_thread = static_cast<int>(pages_per_thread);
  q.loads_ahead = static_cast<int>(loads_ahead);
  q.staged = staged;
  q.prefetch = static_cast<int>(prefetch);
  q.tail_first = tail_first;
  q.fused = static_cast<int>(fused);
}

kc::layer_dims select_dims(const at::Tensor& page_max, int64_t n_heads, const at::Tensor& query) {
  kc::layer_dims d;
  d.rows = static_cast<int>(page_max.size(0));
  d.n_kv_heads = static_cast<int>(page_max.size(1));
  d.n_heads = static_cast<int>(n_heads);
  d.head_dim = static_cast<int>(page_max.size(3));
  TORCH_CHECK(query.dim() == 3 && query.size(1) == n_heads && query.size(2) == d.head_dim,
              "lil_torch: query must be [n][n_heads][head_dim]");
  return d;
}

// parts: 3 = the selection (scoring, then top-k); 1 = the scoring alone, 2 =
// the top-k alone from the scores in scratch (for timing them apart).
void quest_select(at::Tensor held, at::Tensor page_max, at::Tensor page_min, int64_t page_size, int64_t budget_pages,
                  int64_t fold, int64_t n_heads, at::Tensor seq_ids, at::Tensor query, at::Tensor scratch,
                  at::Tensor pages_out, at::Tensor counts_out, int64_t pages_per_thread, bool staged,
                  int64_t loads_ahead, int64_t prefetch, bool tail_first, int64_t parts) {
  kc::quest_state q = quest(page_max, page_min, page_size, budget_pages, fold);
  knobs(q, pages_per_thread, staged, loads_ahead, prefetch, tail_first, 0);
  const kc::layer_dims d = select_dims(page_max, n_heads, query);
  TORCH_CHECK(scratch.numel() >= seq_ids.size(0) * d.n_kv_heads * q.max_pages, "lil_torch: scratch too small");
  TORCH_CHECK(pages_out.dim() == 3 && pages_out.size(2) == budget_pages, "lil_torch: pages_out must be [n][KV][budget_pages]");
  TORCH_CHECK(parts >= 1 && parts <= 3, "lil_torch: parts must be 1 (scoring), 2 (top-k) or 3 (both)");
  check_rows(seq_ids, "query", query);
  kc::slot_state s;
  s.held = i32(held, "held");
  const std::int32_t* ids = i32(seq_ids, "seq_ids");
  const int n = static_cast<int>(seq_ids.size(0));
  float* sc = f32(scratch, "scratch");
  std::int32_t* po = i32(pages_out, "pages_out");
  std::int32_t* co = i32(counts_out, "counts_out");
  if (parts == 3) {
    kc::quest_select(d, s, q, ids, n, f32(query, "query"), sc, po, co, stream());
  } else if (parts == 1) {
    kc::quest_score(d, s, q, ids, n, f32(query, "query"), sc, stream());
  } else {
    kc::quest_topk(d, s, q, ids, n, sc, po, co, stream());
  }
  fail_on_error("quest_select");
}

// The bounds update of the new keys and the selection, after append: one
// launch when fused (quest_state::fused), else the scoring launch (which
// applies the keys) and the top-k.
void quest_step(at::Tensor held, at::Tensor page_max, at::Tensor page_min, int64_t page_size, int64_t budget_pages,
                int64_t fold, int64_t n_heads, at::Tensor seq_ids, at::Tensor slot_out, at::Tensor keys,
                at::Tensor query, at::Tensor scratch, at::Tensor pages_out, at::Tensor counts_out,
                int64_t pages_per_thread, bool staged, int64_t loads_ahead, int64_t prefetch, bool tail_first,
                int64_t fused) {
  kc::quest_state q = quest(page_max, page_min, page_size, budget_pages, fold);
  knobs(q, pages_per_thread, staged, loads_ahead, prefetch, tail_first, fused);
  const kc::layer_dims d = select_dims(page_max, n_heads, query);
  TORCH_CHECK(scratch.numel() >= seq_ids.size(0) * d.n_kv_heads * q.max_pages, "lil_torch: scratch too small");
  TORCH_CHECK(pages_out.dim() == 3 && pages_out.size(2) == budget_pages, "lil_torch: pages_out must be [n][KV][budget_pages]");
  TORCH_CHECK(keys.dim() == 3, "lil_torch: keys must be [n][n_kv_heads][head_dim]");
  TORCH_CHECK(keys.size(1) == page_max.size(1) && keys.size(2) == page_max.size(3),
              "lil_torch: keys do not match the bounds' heads / head_dim");
  const bool bf16 = keys.scalar_type() == at::kBFloat16;
  need(keys, bf16 ? at::kBFloat16 : at::kFloat, "keys");
  check_rows(seq_ids, "keys", keys);
  check_rows(seq_ids, "query", query);
  check_rows(seq_ids, "slot_out", slot_out);
  kc::slot_state s;
  s.held = i32(held, "held");
  kc::quest_step(d, s, q, i32(seq_ids, "seq_ids"), static_cast<int>(seq_ids.size(0)), i32(slot_out, "slot_out"),
                 keys.data_ptr(), bf16, f32(query, "query"), f32(scratch, "scratch"), i32(pages_out, "pages_out"),
                 i32(counts_out, "counts_out"), stream());
  fail_on_error("quest_step");
}

kc::snapkv_state snap(const at::Tensor& rows, const at::Tensor& row_len, const at::Tensor& cursor,
                      const at::Tensor& pinned, int64_t kernel, bool max_pool, int64_t budget, int64_t fold) {
  TORCH_CHECK(rows.dim() == 4, "lil_torch: snapkv rows must be [rows][n_kv_heads][window][capacity]");
  TORCH_CHECK(cursor.dim() == 2 && cursor.size(0) == 3 && cursor.size(1) == rows.size(0),
              "lil_torch: snapkv cursor must be [3][rows] (prefilled, next row, rows seen)");
  kc::snapkv_state k;
  k.rows = f32(rows, "snapkv rows");
  k.row_len = i32(row_len, "snapkv row_len");
  // cursor: [3][rows] = prefilled, next row, rows seen
  std::int32_t* c = i32(cursor, "snapkv cursor");
  const auto n = rows.size(0);
  k.prefilled = c;
  k.next_row = c + n;
  k.rows_seen = c + 2 * n;
  need(pinned, at::kByte, "snapkv pinned");
  k.pinned = pinned.data_ptr<std::uint8_t>();
  k.window = static_cast<int>(rows.size(2));
  k.kernel = static_cast<int>(kernel);
  k.max_pool = max_pool;
  k.budget = static_cast<int>(budget);
  k.gqa = static_cast<kc::fold>(fold);
  return k;
}

void snapkv_observe(at::Tensor held, at::Tensor appended, at::Tensor arrival, at::Tensor position, at::Tensor rows,
                    at::Tensor row_len, at::Tensor cursor, at::Tensor pinned, int64_t fold, int64_t n_heads,
                    at::Tensor seq_ids, at::Tensor weights) {
  const kc::layer_dims d = dims(arrival, n_heads, rows.size(1), 1);
  const kc::slot_state s = slots(held, appended, arrival, position, c10::nullopt);
  const kc::snapkv_state k = snap(rows, row_len, cursor, pinned, 1, false, 0, fold);
  TORCH_CHECK(weights.dim() == 3 && weights.size(1) == n_heads, "lil_torch: weights must be [n][n_heads][stride]");
  check_rows(seq_ids, "weights", weights);
  const int n = static_cast<int>(seq_ids.size(0));
  kc::snapkv_observe(d, s, k, i32(seq_ids, "seq_ids"), n, f32(weights, "weights"), static_cast<int>(weights.size(2)),
                     stream());
  kc::snapkv_advance(d, s, k, seq_ids.data_ptr<std::int32_t>(), n, stream());
  fail_on_error("snapkv_observe");
}

void snapkv_prefill_done(at::Tensor held, at::Tensor appended, at::Tensor arrival, at::Tensor position,
                         at::Tensor rows, at::Tensor row_len, at::Tensor cursor, at::Tensor pinned, int64_t kernel,
                         bool max_pool, int64_t budget, int64_t n_heads, at::Tensor seq_ids, at::Tensor scratch,
                         at::Tensor kept_out, at::Tensor kept_count, c10::optional<at::Tensor> held_cap) {
  const kc::layer_dims d = dims(arrival, n_heads, rows.size(1), 1);
  kc::slot_state s = slots(held, appended, arrival, position, c10::nullopt);
  kc::snapkv_state k = snap(rows, row_len, cursor, pinned, kernel, max_pool, budget, 1);
  s.held_cap = held_cap_of(held_cap, held);
  k.evict_generated = s.held_cap != nullptr;  // from now on the row holds at most the budget
  const int n = static_cast<int>(seq_ids.size(0));
  TORCH_CHECK(scratch.numel() >= static_cast<int64_t>(n) * d.n_kv_heads * 2 * d.capacity, "lil_torch: scratch too small");
  TORCH_CHECK(kept_out.numel() >= static_cast<int64_t>(n) * d.n_kv_heads * d.capacity, "lil_torch: kept_out too small");
  kc::snapkv_prefill_done(d, s, k, i32(seq_ids, "seq_ids"), n, f32(scratch, "scratch"), i32(kept_out, "kept_out"),
                          i32(kept_count, "kept_count"), stream());
  kc::snapkv_finish(d, s, k, seq_ids.data_ptr<std::int32_t>(), n, stream());
  fail_on_error("snapkv_prefill_done");
}

void attention_probs(at::Tensor held, at::Tensor seq_ids, at::Tensor query, at::Tensor keys, double scale,
                     at::Tensor probs) {
  TORCH_CHECK(keys.dim() == 4, "lil_torch: keys must be [rows][n_kv_heads][capacity][head_dim]");
  TORCH_CHECK(query.dim() == 3 && query.size(2) == keys.size(3), "lil_torch: query must be [n][n_heads][head_dim]");
  TORCH_CHECK(probs.dim() == 3 && probs.size(1) == query.size(1) && probs.size(2) >= keys.size(2),
              "lil_torch: probs must be [n][n_heads][stride >= capacity]");
  kc::layer_dims d;
  d.rows = static_cast<int>(keys.size(0));
  d.n_kv_heads = static_cast<int>(keys.size(1));
  d.capacity = static_cast<int>(keys.size(2));
  d.head_dim = static_cast<int>(keys.size(3));
  d.n_heads = static_cast<int>(query.size(1));
  TORCH_CHECK(d.n_heads % d.n_kv_heads == 0, "lil_torch: n_heads is not a multiple of n_kv_heads");
  TORCH_CHECK(d.head_dim <= 256, "lil_torch: attention_probs supports head_dim up to 256");
  const bool bf16 = keys.scalar_type() == at::kBFloat16;
  need(keys, bf16 ? at::kBFloat16 : at::kFloat, "keys");
  check_rows(seq_ids, "query", query);
  kc::attention_probs(d, i32(held, "held"), i32(seq_ids, "seq_ids"), static_cast<int>(seq_ids.size(0)),
                      f32(query, "query"), keys.data_ptr(), bf16, static_cast<float>(scale), f32(probs, "probs"),
                      static_cast<int>(probs.size(2)), stream());
  fail_on_error("attention_probs");
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "lil's KV-policy kernels on torch tensors (layout: include/lil/kv/cuda/kernels.hpp)";
  m.def("append", &append, "slot and eviction of each row's new token, then held/appended += 1");
  m.def("observe_scores", &observe_scores, "H2O (accumulate) / TOVA (overwrite) scores from softmax weights");
  m.def("quest_update_bounds", &quest_update_bounds, "Quest: the new keys into their pages' min/max");
  m.def("quest_select", &quest_select, "Quest: page scores and top-k pages per KV head");
  m.def("quest_step", &quest_step, "Quest: the new keys into their pages' bounds, then the selection (one launch if fused)");
  m.def("snapkv_observe", &snapkv_observe, "SnapKV: record one prompt step's folded weight rows");
  m.def("snapkv_prefill_done", &snapkv_prefill_done, "SnapKV: score, pool, top-k and compact at the end of the prompt");
  m.def("attention_probs", &attention_probs, "softmax weights over the held slots from q and the cached keys");
}
