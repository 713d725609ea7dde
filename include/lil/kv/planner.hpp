// lil/kv/planner.hpp - one layer's KV policy state for many sequences at once.
//
// What it is
//   A batched engine (continuous batching, beam search, parallel sampling)
//   keeps many sequences of one layer in flight. The planner holds the policy
//   state of up to `max_batch` sequences of one layer as a structure of arrays
//   (one contiguous allocation per array, sequence id first), taken at
//   construction. Per call it takes rows (sequence id, position, key; the
//   query for Quest) and returns, ready to upload as block tables, int32 slot
//   indices to read per KV head (page indices too, for Quest), the slot each
//   new token is written to, and the token it evicted. The engine then runs
//   its attention over those slots and, for the policies that score
//   (H2O, TOVA, SnapKV during the prompt), hands back the probabilities.
//   One policy, one implementation: a planner's sequence is a policy object
//   (policy.hpp) whose state lives in the planner's arrays; make_policy()
//   builds the same object over arrays of one sequence, and layer_cache is a
//   planner of one sequence. So a batch of B gives exactly the selections of
//   B independent runs, and wrap_step() drives the same code.
//
// One call
//     plan = pl.step(rows)          append every row's token, then select
//     for row r (sequence seq[r]), KV head h:
//       write K/V of the row's token at slot plan.slots_of(r)[h]
//       read the first plan.count(r, h) entries of plan.table(r, h)
//     pl.observe(weights)           when some sequence of the call needs
//                                   weights (pl.requirements(seq).weights)
//   Sequence verbs: prefill_done(seq) once after a prompt (SnapKV compresses
//   and lists K/V moves), fork(src, dst) (dst becomes a copy of src: beam
//   search, parallel sampling), release(seq) (forget; the memory stays).
//
// Rows, chunks and decode
//   A decode step has one row per sequence. Chunked prefill puts several
//   consecutive rows of one sequence in one call (positions in order); a
//   sequence's rows must be consecutive. Row i of a chunk of n reads the first
//   count(seq) - (n - 1 - i) entries of its sequence's table: the entries the
//   chunk appended come last, in row order, so that is causal attention over
//   the held tokens and the chunk. A chunk of n > 1 must fit in room(seq):
//   the tokens that can still be appended with nothing evicted and every held
//   token read (Full: capacity - held; Sink, H2O, TOVA: budget - held; Quest:
//   budget_pages x page_size - held; SnapKV: capacity - held during the
//   prompt). Within that room, one chunk equals its rows run one by one:
//   every row then reads everything before it, nothing is evicted, and
//   observe() folds the rows into the scores in row order. Beyond it (an
//   evicting policy at its budget, Quest past its dense phase) rows go one per
//   call per sequence - the decision for row i+1 depends on row i's weights.
//   A chunk of 1 is always accepted.
//
// Layout (mirrored by the CUDA kernels: same arrays, shapes, dtypes, rules)
//   B = max_batch, H = n_kv_heads, Q = n_heads, D = head_dim, C = capacity(),
//   S = max_selected(), M = slot maps (1 when the policy keeps the same
//   tokens in every KV head: Full, Sink, Quest, TOVA; H for H2O, SnapKV and
//   TOVA per_kv_head; KV head h uses map M == 1 ? 0 : h), T = table_heads()
//   (the read tables: 1 for Full, Sink and TOVA, which read the same slots in
//   every KV head; H otherwise, Quest included: one slot map, a selection per
//   KV head; KV head h reads table T == 1 ? 0 : h), R = max_rows, P = Quest's
//   budget pages, G = 16 (Quest's tile). All arrays are row-major, sequence
//   id (for state) or row / group (for outputs) first.
//
//   State, per sequence (state(name) returns the array):
//     "appended"          int64 [B]          tokens appended so far
//     "slot.position"     int64 [B][M][C]    token position in the slot, -1 free
//     "slot.arrival"      int64 [B][M][C]    arrival rank (0 = first), -1 free;
//                                            "oldest" always means lowest arrival
//     "slot.live"         int32 [B][M][C]    live slots in read order, first
//                                            n_live valid (Full, Sink, H2O,
//                                            TOVA, SnapKV read exactly this)
//     "slot.live_index"   int32 [B][M][C]    index of a slot in slot.live, -1 free
//     "slot.count"        int32 [B][M][2]    n_live, next never-used slot
//     "sink.ring"         int32 [B][budget - sinks]  non-sink slots, arrival order
//     "sink.cursor"       int32 [B][2]       ring entries filled, oldest entry
//     "h2o.score"         f32   [B][H][budget]  accumulated folded attention
//     "h2o.shield"        f32   [B][H][budget]  +inf inside the recent window, else 0
//     "h2o.recent_ring"   int32 [B][H][recent]  slot of arrival a at a % recent
//     "tova.score"        f32   [B][M][budget]  last step's folded attention,
//                                               +inf until first observed
//     "quest.page_max"    f32   [B][H][tiles][D][G]  per page and channel,
//     "quest.page_min"    f32   (same)          max / min key; page p at tile
//                                               p / G, lane p % G; tiles =
//                                               ceil(max_context / (page_size G))
//     ("quest.page_max16", "quest.page_min16": uint16 bf16, same shape, with
//      bound_format::bf16; max rounded up, min rounded down)
//     "quest.table"       int32 [B][H][S]    the last sparse selection (slots)
//     "snapkv.rows"       f32   [B][H][window][C]  folded weight rows of the
//                                                  last `window` prompt steps (a
//                                                  ring), indexed by slot
//     "snapkv.row_len"    int32 [B][window]  valid entries of each row
//     "snapkv.pinned"     uint8 [B][H][C]    chosen by score at prefill_done
//     "snapkv.cursor"     int32 [B][3]       prefilled, next row, rows seen
//
//   Outputs of step(), per call (step_plan views them):
//     write_slot          int32 [R][H]       slot the row's K/V goes to
//     evicted_position    int64 [R][H]       position the slot held, -1 if none
//     row_group           int32 [R]          the row's group (one per sequence
//                                            of the call, first-appearance order)
//     row_count           int32 [R][H]       entries of its group's table it reads
//     group_seq           int32 [B]          sequence id of each group
//     tables              int32 [B][T][S]    per group, the slots to read, in
//                                            the order weights are given
//     group_count         int32 [B][H]       entries of tables valid per KV head
//     page_tables         int32 [B][H][P]    Quest only: pages to read,
//     page_count          int32 [B][H]       ascending (current page last)
//   Weights for observe(): f32 [n_rows][Q][stride]; row r, query head q holds
//   one probability per entry of table(r, kv_head_of(q)), first row_count
//   entries, in table order.
//
// Rules the kernels must reproduce bit for bit
//   GQA fold of weights (H2O, TOVA, SnapKV): over the query heads of a KV head
//   in ascending order (all Q heads for TOVA with T = 1): sum: r0 + r1 + ...
//   left to right in fp32; mean: that sum divided (fp32 division) by the head
//   count; max: running maximum. No fused multiply-add anywhere.
//   Full: token i goes to slot i; reads slot.live.
//   Sink: the first `sinks` arrivals stay; later ones fill the ring; once full
//   a token takes the slot of ring entry `oldest`, which then advances.
//   H2O: observe adds the folded weight of each read slot to h2o.score (one
//   fp32 add per step). Append of arrival a, per KV head: first, if a >=
//   recent, unshield (shield 0) the slot in ring entry a % recent; then, when
//   full, the victim is the slot with the lowest fp32 h2o.score + h2o.shield,
//   ties to the lowest arrival; the new token's score is 0, its shield +inf,
//   and its slot goes to ring entry a % recent.
//   TOVA: observe overwrites tova.score of each read slot with the folded
//   weight; the victim is the lowest score, ties to the lowest arrival; a new
//   token's score is +inf.
//   Quest: page p holds slots [p*16, p*16+16) (page_size generally); page
//   bounds update on append (min / max; the first token of a page sets them).
//   select, when the pages exceed P: q+ = max(q, 0), q- = min(q, 0); mean and
//   sum folds add q+ (and q-) of the group's heads in ascending order
//   (starting from 0); the bound of page p is, per G-page tile, an fp32
//   accumulator over channels c = 0..D-1 of acc += (q+_c * max_c + q-_c *
//   min_c) (products, their sum, then the add), times 1/g (fp32, computed as
//   1.0f / g) for mean; max fold: the same per query head, then the running
//   max over the group. The P - 1 best pages of [0, current) win (higher bound
//   first; ties to the lower page), sorted ascending, then the current page;
//   the table lists their slots ascending. With at most P pages, the table is
//   every live slot.
//   SnapKV: during the prompt every step's folded row is stored at ring entry
//   `next row`, entry i at index table[i] (the slot), with row_len = the
//   longest selection. prefill_done, per KV head, with n held and prefix =
//   n - min(window, n): if n <= budget, slots below prefix are pinned and
//   nothing moves; else for each slot
//   s < prefix, score = the rows summed oldest first (row r adds its entries
//   below min(row_len[r], prefix)); pooled with kernel k (half = k / 2,
//   clipped to [0, prefix)): avg = left-to-right window sum divided by k, max
//   = window maximum; the budget - window best pooled slots win (ties to the
//   lower slot); survivors ascending move to slots 0..k-1. evict_generated:
//   once held >= budget after the prompt, a new token takes the slot of the
//   lowest-arrival token not chosen from the prompt (snapkv.pinned 0).
//
// Costs and rules
//   Everything is allocated at construction; no verb allocates. Per call the
//   planner copies each sequence's selection into its table (T x S int32 at
//   most per sequence), besides the policy's own work. A planner holds one
//   layer; model_planner keeps one per layer (Quest's dense first layers are
//   Full planners) and forks or releases a sequence in all of them. Python: lil.kv.Planner, numpy arrays in and out. A planner
//   belongs to one thread at a time; different layers' planners are
//   independent. Bad input (a sequence id outside 0..max_batch-1, a chunk
//   beyond room(), a negative position, non-finite weights) throws lil::error
//   naming the row, before any state of that call changes.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "lil/kv/factory.hpp"
#include "lil/kv/policy.hpp"

namespace lil::kv {

// The rows of one call: row r appends the token at `position[r]` to sequence
// `seq[r]`. keys: [n_rows][n_kv_heads][head_dim]; queries: [n_rows][n_heads]
// [head_dim], needed by Quest only (may be null otherwise).
struct planner_rows {
  const std::int32_t* seq = nullptr;
  const std::int64_t* position = nullptr;
  std::int32_t n_rows = 0;
  const float* keys = nullptr;
  const float* queries = nullptr;
};

// What step() decided: views into the planner, valid until its next call.
struct step_plan {
  std::int32_t n_rows = 0;
  std::int32_t n_groups = 0;
  int n_kv_heads = 0;
  int table_heads = 1;
  std::int32_t table_stride = 0;  // S
  std::int32_t page_stride = 0;   // P (0 unless Quest)
  const std::int32_t* write_slot = nullptr;        // [R][H]
  const std::int64_t* evicted_position = nullptr;  // [R][H]
  const std::int32_t* row_group = nullptr;         // [R]
  const std::int32_t* row_count = nullptr;         // [R][H]
  const std::int32_t* group_seq = nullptr;         // [groups]
  const std::int32_t* tables = nullptr;            // [groups][T][S]
  const std::int32_t* group_count = nullptr;       // [groups][H]
  const std::int32_t* page_tables = nullptr;       // [groups][H][P]
  const std::int32_t* page_count = nullptr;        // [groups][H]

  const std::int32_t* slots_of(std::int32_t row) const noexcept {
    return write_slot + static_cast<std::size_t>(row) * static_cast<std::size_t>(n_kv_heads);
  }
  const std::int32_t* table(std::int32_t row, int kv_head) const noexcept {
    const std::size_t g = static_cast<std::size_t>(row_group[row]);
    const std::size_t t = table_heads == 1 ? 0u : static_cast<std::size_t>(kv_head);
    return tables + (g * static_cast<std::size_t>(table_heads) + t) * static_cast<std::size_t>(table_stride);
  }
  std::int32_t count(std::int32_t row, int kv_head) const noexcept {
    return row_count[static_cast<std::size_t>(row) * static_cast<std::size_t>(n_kv_heads) +
                     static_cast<std::size_t>(kv_head)];
  }
};

// One state array of the planner (see "Layout"): `elements` per sequence,
// sequence s at data + s * elements * element_size bytes.
struct state_array {
  const char* name = nullptr;
  const char* dtype = nullptr;  // "int64", "int32", "float32", "uint16", "uint8"
  void* data = nullptr;
  std::size_t elements = 0;
  std::size_t element_size = 0;
};

class planner {
 public:
  // max_rows: most rows per call (decode: max_batch; chunked prefill: the
  // longest chunk). 0 means max_batch.
  planner(const policy_spec& spec, const model_shape& shape, int layer, int max_batch, int max_rows = 0)
      : pool_(std::make_unique<detail::state_pool>(checked_batch(max_batch))),
        max_rows_(max_rows == 0 ? max_batch : checked_rows(max_rows)) {
    seqs_.reserve(static_cast<std::size_t>(max_batch));
    for (int s = 0; s < max_batch; ++s) seqs_.push_back(detail::make_policy_in(spec, shape, layer, {pool_.get(), s}));
    const kv::policy& p0 = *seqs_[0];
    h_ = p0.shape().n_kv_heads;
    q_ = p0.shape().n_heads;
    d_ = p0.shape().head_dim;
    // Quest shares one slot map but selects per KV head.
    t_ = p0.slot_maps();
    s_ = p0.max_selected() > 0 ? p0.max_selected() : 1;
    if (const auto* quest = dynamic_cast<const quest_policy*>(&p0)) {
      page_size_ = quest->page_size();
      pages_ = (s_ + page_size_ - 1) / page_size_;
      t_ = h_;
    }
    const std::size_t b = static_cast<std::size_t>(max_batch), r = static_cast<std::size_t>(max_rows_),
                      h = static_cast<std::size_t>(h_);
    write_slot_.assign(r * h, -1);
    evicted_.assign(r * h, -1);
    row_group_.assign(r, 0);
    row_count_.assign(r * h, 0);
    group_seq_.assign(b, 0);
    group_first_.assign(b, 0);
    group_rows_.assign(b, 0);
    group_of_seq_.assign(b, -1);
    tables_.assign(b * static_cast<std::size_t>(t_) * static_cast<std::size_t>(s_), 0);
    group_count_.assign(b * h, 0);
    page_tables_.assign(b * h * static_cast<std::size_t>(pages_), 0);
    page_count_.assign(b * h, 0);
    for (const auto& a : pool_->arrays())
      states_.push_back({a.name.c_str(), a.dtype, a.data(), a.elements, a.element_size});
    plan_.n_kv_heads = h_;
    plan_.table_heads = t_;
    plan_.table_stride = s_;
    plan_.page_stride = pages_;
    plan_.write_slot = write_slot_.data();
    plan_.evicted_position = evicted_.data();
    plan_.row_group = row_group_.data();
    plan_.row_count = row_count_.data();
    plan_.group_seq = group_seq_.data();
    plan_.tables = tables_.data();
    plan_.group_count = group_count_.data();
    plan_.page_tables = page_tables_.data();
    plan_.page_count = page_count_.data();
  }

  const char* name() const noexcept { return seqs_[0]->name(); }
  const model_shape& shape() const noexcept { return seqs_[0]->shape(); }
  int layer() const noexcept { return seqs_[0]->layer(); }
  int max_batch() const noexcept { return static_cast<int>(seqs_.size()); }
  int max_rows() const noexcept { return max_rows_; }
  // What a sequence needs now (SnapKV: weights only until prefill_done).
  needs requirements() const noexcept { return seqs_[0]->requirements(); }
  needs requirements(std::int32_t seq) const noexcept { return seqs_[static_cast<std::size_t>(seq)]->requirements(); }
  bool needs_query() const noexcept { return page_size_ > 0; }
  std::int32_t budget() const noexcept { return seqs_[0]->budget(); }
  std::int32_t capacity() const noexcept { return seqs_[0]->capacity(); }
  std::int32_t max_selected() const noexcept { return s_; }
  int table_heads() const noexcept { return t_; }
  int page_size() const noexcept { return page_size_; }  // 0 unless Quest

  // Append every row's token, then select; see "One call".
  const step_plan& step(const planner_rows& rows) {
    check_rows(rows);
    const std::size_t h = static_cast<std::size_t>(h_), kd = h * static_cast<std::size_t>(d_);
    for (std::int32_t r = 0; r < rows.n_rows; ++r) {
      const append_result& a = seqs_[static_cast<std::size_t>(rows.seq[r])]->append(
          rows.position[r], rows.keys + static_cast<std::size_t>(r) * kd);
      for (std::size_t k = 0; k < h; ++k) {
        write_slot_[static_cast<std::size_t>(r) * h + k] = a.slot[k];
        evicted_[static_cast<std::size_t>(r) * h + k] = a.evicted_position[k];
      }
    }
    const std::size_t qd = static_cast<std::size_t>(q_) * static_cast<std::size_t>(d_);
    for (std::int32_t g = 0; g < n_groups_; ++g) {
      const std::size_t gi = static_cast<std::size_t>(g);
      kv::policy& p = *seqs_[static_cast<std::size_t>(group_seq_[gi])];
      const std::int32_t last = group_first_[gi] + group_rows_[gi] - 1;
      const slot_lists sel =
          p.select(rows.queries == nullptr ? nullptr : rows.queries + static_cast<std::size_t>(last) * qd);
      p.remember_selection();
      for (int t = 0; t < t_; ++t) {
        const slot_span list = sel.head(t);
        std::int32_t* out = table_at(g, t);
        for (std::int32_t i = 0; i < list.size; ++i) out[i] = list[i];
      }
      for (int k = 0; k < h_; ++k) {
        const std::int32_t n = sel.head(k).size;
        group_count_[gi * h + static_cast<std::size_t>(k)] = n;
        for (std::int32_t i = 0; i < group_rows_[gi]; ++i)
          row_count_[static_cast<std::size_t>(group_first_[gi] + i) * h + static_cast<std::size_t>(k)] =
              n - (group_rows_[gi] - 1 - i);
        if (pages_ > 0) list_pages(g, k, sel.head(k));
      }
    }
    plan_.n_rows = rows.n_rows;
    plan_.n_groups = n_groups_;
    return plan_;
  }

  // weights: [n_rows][n_heads][stride] over the last plan (see "Layout").
  // Every row's weights are checked before any score changes.
  void observe(const float* weights, std::size_t stride) {
    const std::size_t row_floats = static_cast<std::size_t>(q_) * stride;
    const bool many = plan_.n_rows > 1;
    for (int pass = many ? 0 : 1; pass < 2; ++pass) {
      for (std::int32_t g = 0; g < n_groups_; ++g) {
        const std::size_t gi = static_cast<std::size_t>(g);
        kv::policy& p = *seqs_[static_cast<std::size_t>(group_seq_[gi])];
        if (!p.requirements().weights) continue;
        for (std::int32_t i = 0; i < group_rows_[gi]; ++i) {
          const weights_view w{weights == nullptr ? nullptr
                                                  : weights + static_cast<std::size_t>(group_first_[gi] + i) * row_floats,
                               stride};
          p.narrow_selection(group_rows_[gi] - 1 - i);
          if (pass == 0) {
            try {
              p.validate_weights(w);
            } catch (...) {
              p.narrow_selection(0);
              throw;
            }
          } else {
            p.observe(w);
          }
        }
        p.narrow_selection(0);
      }
    }
  }

  // End of sequence seq's prompt; the K/V moves apply to its storage.
  prefill_result prefill_done(std::int32_t seq) { return seqs_[checked(seq, "prefill_done")]->prefill_done(); }

  // dst := a copy of src (dst's own state is dropped). src == dst is a no-op.
  void fork(std::int32_t src, std::int32_t dst) {
    checked(src, "fork source");
    checked(dst, "fork target");
    if (src != dst) pool_->copy(src, dst);
  }
  // Forget the sequence; the id may be reused at once.
  void release(std::int32_t seq) { seqs_[checked(seq, "release")]->reset(); }

  // Tokens a chunk of sequence seq may hold now (see "Rows, chunks and decode").
  std::int32_t room(std::int32_t seq) const {
    const std::int32_t r = seqs_[checked(seq, "room")]->room();
    return r > 0 ? r : 0;
  }
  // The single-sequence view of sequence seq (hooks, positions, memory()).
  kv::policy& sequence(std::int32_t seq) { return *seqs_[checked(seq, "sequence")]; }
  const kv::policy& sequence(std::int32_t seq) const { return *seqs_[checked(seq, "sequence")]; }

  // The named state array (see "Layout"); name == nullptr in the result when
  // this policy has no such array.
  state_array state(std::string_view name) const noexcept {
    for (const auto& a : states_)
      if (name == a.name) return a;
    return {};
  }
  const std::vector<state_array>& states() const noexcept { return states_; }
  const step_plan& last_plan() const noexcept { return plan_; }

 private:
  static int checked_batch(int b) {
    if (b < 1) lil::detail::throw_error("kv planner: max_batch " + detail::number(b) + " must be at least 1");
    return b;
  }
  static int checked_rows(int r) {
    if (r < 1) lil::detail::throw_error("kv planner: max_rows " + detail::number(r) + " must be at least 1");
    return r;
  }
  std::size_t checked(std::int32_t seq, const char* verb) const {
    if (seq < 0 || seq >= max_batch())
      lil::detail::throw_error(std::string("kv planner ") + verb + ": sequence " + detail::number(seq) +
                               " is outside 0.." + detail::number(max_batch() - 1));
    return static_cast<std::size_t>(seq);
  }

  // Groups the rows and rejects a bad call before anything changes.
  void check_rows(const planner_rows& rows) {
    auto fail = [&](std::int32_t r, const std::string& why) {
      for (std::int32_t g = 0; g < n_groups_; ++g) group_of_seq_[static_cast<std::size_t>(group_seq_[g])] = -1;
      n_groups_ = 0;
      lil::detail::throw_error("kv planner step: row " + detail::number(r) + " " + why);
    };
    for (std::int32_t g = 0; g < n_groups_; ++g) group_of_seq_[static_cast<std::size_t>(group_seq_[g])] = -1;
    n_groups_ = 0;
    if (rows.n_rows < 1 || rows.n_rows > max_rows_)
      lil::detail::throw_error("kv planner step: " + detail::number(rows.n_rows) + " rows; a call takes 1.." +
                               detail::number(max_rows_) + " (max_rows)");
    if (rows.seq == nullptr || rows.position == nullptr || rows.keys == nullptr)
      lil::detail::throw_error("kv planner step: seq, position and keys must not be null");
    if (needs_query() && rows.queries == nullptr)
      lil::detail::throw_error(std::string("kv planner step: ") + name() + " ranks pages by the query; queries is null");
    for (std::int32_t r = 0; r < rows.n_rows; ++r) {
      const std::int32_t seq = rows.seq[r];
      if (seq < 0 || seq >= max_batch())
        fail(r, "names sequence " + detail::number(seq) + ", outside 0.." + detail::number(max_batch() - 1));
      if (rows.position[r] < 0) fail(r, "has negative position " + detail::number(rows.position[r]));
      std::int32_t& g = group_of_seq_[static_cast<std::size_t>(seq)];
      if (g >= 0 && group_seq_[static_cast<std::size_t>(n_groups_ - 1)] != seq)
        fail(r, "continues sequence " + detail::number(seq) + " after other rows; a sequence's rows must be consecutive");
      if (g < 0) {
        g = n_groups_++;
        group_seq_[static_cast<std::size_t>(g)] = seq;
        group_first_[static_cast<std::size_t>(g)] = r;
        group_rows_[static_cast<std::size_t>(g)] = 0;
      } else if (rows.position[r] <= rows.position[r - 1]) {
        fail(r, "has position " + detail::number(rows.position[r]) + " after " + detail::number(rows.position[r - 1]) +
                    " in the chunk of sequence " + detail::number(seq) + "; positions must increase");
      }
      row_group_[static_cast<std::size_t>(r)] = g;
      ++group_rows_[static_cast<std::size_t>(g)];
    }
    for (std::int32_t g = 0; g < n_groups_; ++g) {
      const std::size_t gi = static_cast<std::size_t>(g);
      const kv::policy& p = *seqs_[static_cast<std::size_t>(group_seq_[gi])];
      const std::int32_t n = group_rows_[gi];
      if (n > 1 && n > p.room())
        fail(group_first_[gi], "starts a chunk of " + detail::number(n) + " tokens of sequence " +
                                   detail::number(group_seq_[gi]) + " but its room is " +
                                   detail::number(p.room() > 0 ? p.room() : 0) +
                                   " (nothing evicted, everything read); send the rest one per call");
      if (!p.can_append())
        fail(group_first_[gi], std::string("appends to sequence ") + detail::number(group_seq_[gi]) + ", whose " +
                                   p.name() + " cache already holds " + detail::number(p.capacity()) +
                                   " tokens (model_shape.max_context " + detail::number(p.shape().max_context) + ")");
    }
  }

  std::int32_t* table_at(std::int32_t g, int t) noexcept {
    return &tables_[(static_cast<std::size_t>(g) * static_cast<std::size_t>(t_) + static_cast<std::size_t>(t)) *
                    static_cast<std::size_t>(s_)];
  }

  // Quest: the pages of KV head k's selection, in order.
  void list_pages(std::int32_t g, int k, slot_span sel) noexcept {
    const std::size_t at = (static_cast<std::size_t>(g) * static_cast<std::size_t>(h_) + static_cast<std::size_t>(k));
    std::int32_t* out = &page_tables_[at * static_cast<std::size_t>(pages_)];
    std::int32_t n = 0, last = -1;
    for (std::int32_t i = 0; i < sel.size; ++i) {
      const std::int32_t page = sel[i] / page_size_;
      if (page != last) out[n++] = last = page;
    }
    page_count_[at] = n;
  }

  std::unique_ptr<detail::state_pool> pool_;
  int max_rows_;
  std::vector<std::unique_ptr<kv::policy>> seqs_;
  int h_ = 0, q_ = 0, d_ = 0, t_ = 1;
  std::int32_t s_ = 1;
  int page_size_ = 0;
  std::int32_t pages_ = 0;
  std::int32_t n_groups_ = 0;
  std::vector<std::int32_t> write_slot_;
  std::vector<std::int64_t> evicted_;
  std::vector<std::int32_t> row_group_;
  std::vector<std::int32_t> row_count_;
  std::vector<std::int32_t> group_seq_;
  std::vector<std::int32_t> group_first_;
  std::vector<std::int32_t> group_rows_;
  std::vector<std::int32_t> group_of_seq_;
  std::vector<std::int32_t> tables_;
  std::vector<std::int32_t> group_count_;
  std::vector<std::int32_t> page_tables_;
  std::vector<std::int32_t> page_count_;
  std::vector<state_array> states_;
  step_plan plan_;
};

// The planners of every layer of a model, from one spec (Quest's first
// layers are Full planners), with the sequence verbs applied to all layers.
class model_planner {
 public:
  model_planner(const policy_spec& spec, const model_shape& shape, int max_batch, int max_rows = 0) {
    shape.validate();
    layers_.reserve(static_cast<std::size_t>(shape.n_layers));
    for (int l = 0; l < shape.n_layers; ++l) layers_.emplace_back(spec, shape, l, max_batch, max_rows);
  }
  int n_layers() const noexcept { return static_cast<int>(layers_.size()); }
  planner& layer(int l) noexcept { return layers_[static_cast<std::size_t>(l)]; }
  const planner& layer(int l) const noexcept { return layers_[static_cast<std::size_t>(l)]; }
  void fork(std::int32_t src, std::int32_t dst) {
    for (auto& l : layers_) l.fork(src, dst);
  }
  void release(std::int32_t seq) {
    for (auto& l : layers_) l.release(seq);
  }

 private:
  std::vector<planner> layers_;
};

}  // namespace lil::kv
