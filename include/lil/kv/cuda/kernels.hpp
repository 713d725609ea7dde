// lil/kv/cuda/kernels.hpp - the KV policies' per-step bookkeeping on a GPU,
// for a batch of sequences of one layer (optional component: built only where
// CMake finds the CUDA toolkit; nothing in the core includes it).
//
// What runs on the device
//   The same decisions as the CPU policies (sink.hpp, h2o.hpp, tova.hpp,
//   quest.hpp, snapkv.hpp), bit for bit, for many sequences in one launch:
//   which slot a new token takes and what it evicts (sink: the oldest
//   non-sink; H2O: the lowest accumulated score outside the recent window;
//   TOVA: the lowest last-step score; ties to the oldest), the score updates
//   from softmax weights, Quest's page bounds, page scores and top-k, and
//   SnapKV's observation-window scores, pooling, top-k and compaction at the
//   end of the prompt. Every float operation is written out in the CPU's order
//   with round-to-nearest intrinsics (no contraction into FMA), so scores are
//   equal, not close, and ties fall the same way; top-k ranks by (score
//   descending, index ascending), which is the CPU's order. One kernel more,
//   attention_probs, computes the softmax weights over the held slots from q
//   and the cached keys for engines whose attention kernel does not return
//   them (those weights are only close to the CPU's: expf, not lil's exp).
//
// Device memory layout (structure of arrays; `rows` = the batch's maximum
// number of sequences, a sequence id indexes the first dimension of every
// array; C = capacity slots per KV head; T = slot tables: 1 when the policy
// evicts the same token in every KV head - sink, quest, full, TOVA by
// default - else n_kv_heads; KV = n_kv_heads, H = n_heads, D = head_dim):
//   held      [rows]          int32  tokens held; they sit in slots 0..held-1
//                                    of every head (the CPU's live list is the
//                                    same dense prefix for every policy)
//   appended  [rows]          int32  tokens appended so far (arrival numbers)
//   arrival   [rows][T][C]    int32  arrival number of a slot's token, -1 free
//   position  [rows][T][C]    int32  original position of a slot's token, -1 free
//   score     [rows][S][C]    float  H2O (S = KV): accumulated weights; TOVA
//                                    (S = T): last step's weight, +inf unscored
//   quest bounds [rows][KV][P/16][D][16] float or bf16 bits: page max / min
//                                    per channel, in tiles of 16 pages, channel-
//                                    major inside a tile (the CPU planner's
//                                    layout); P = pages, a multiple of 16
//   snapkv rows  [rows][KV][W][C] float: the window's folded weight rows (a
//                                    ring); row_len [rows][W], next_row, rows_seen,
//                                    prefilled [rows] int32; pinned [rows][KV][C] uint8
//   K cache (attention_probs)  [rows][KV][C][D] float or bf16 (HF's layout)
//   probs / weights  [n][H][stride] float: entry i is slot i
// Per step a call takes n sequence ids (int32, device) - any subset of the
// rows, in any order - and that step's inputs row by row in the same order.
// Outputs are int32, ready to upload as block tables.
//
// Order of one decode step (per layer):
//   append(...)            slot and eviction per KV head of the new token
//   advance(...)           held += 1 (up to capacity), appended += 1
//                          (or append_and_advance: both, one launch if tables == 1)
//   quest_update_bounds(..) Quest: the new key into its page's min/max
//   quest_select(...)      Quest: pages to read per KV head (or quest_step:
//                          both Quest calls in two launches, one when fused)
//   [engine's attention over the slots; attention_probs if it gives no weights]
//   observe_scores(...)    H2O, TOVA; snapkv_observe + snapkv_advance in prefill
//   snapkv_prefill_done(...) + snapkv_finish(...)   once per sequence, end of prompt
// All launches go to the given stream (cudaStream_t as void*); none allocates,
// none synchronizes.
#pragma once

#include <cstdint>

namespace lil::kv::cuda {

enum class fold : int { sum = 0, mean = 1, max = 2 };

// Which slot a token takes once the cache is full.
enum class victim : int {
  none = 0,  // never full before max_context (full, quest, snapkv): slot = held
  sink = 1,  // oldest token with arrival >= sinks
  h2o = 2,   // lowest score with arrival <= appended - recent; ties: oldest
  tova = 3,  // lowest score; ties: oldest
  // SnapKV with evict_generated: before its prompt ends as none; after it, at
  // the row's held_cap (the budget), the oldest slot not chosen from the
  // prompt by score (append_rule::pinned 0), so the window slides.
  snapkv = 4,
};

struct layer_dims {
  int rows = 0;        // sequences the arrays hold
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int capacity = 0;    // C
  int tables = 1;      // T
};

struct slot_state {
  std::int32_t* held = nullptr;
  std::int32_t* appended = nullptr;
  std::int32_t* arrival = nullptr;
  std::int32_t* position = nullptr;
  float* score = nullptr;  // null for sink, full, quest, snapkv
  int score_tables = 0;    // S
  // [rows] or null (then the capacity): a row holds at most this many tokens
  // (at most C). advance() stops there and append() takes its victim there
  // instead of at C. SnapKV's evict_generated: C, then the budget once
  // snapkv_finish has run.
  std::int32_t* held_cap = nullptr;
};

struct append_rule {
  victim kind = victim::none;
  int sinks = 0;   // sink
  int recent = 0;  // h2o
  // snapkv: snapkv_state::pinned ([rows][KV][C]; a slot a new token takes is
  // unpinned) and snapkv_state::prefilled.
  std::uint8_t* pinned = nullptr;
  const std::int32_t* prefilled = nullptr;
};

// slot_out, evicted_out: [n][KV] (the slot per KV head; the evicted token's
// position or -1; -2 marks a cache already full under victim::none, which the
// CPU rejects with an error). Reads held/appended; advance() updates them.
void append(const layer_dims& d, const slot_state& s, const append_rule& rule, const std::int32_t* seq_ids, int n,
            const std::int32_t* positions, std::int32_t* slot_out, std::int32_t* evicted_out, void* stream);
void advance(const layer_dims& d, const slot_state& s, const std::int32_t* seq_ids, int n, void* stream);
// append then advance: one launch when every row has one table (d.tables ==
// 1: the row's one block reads held and appended, then updates them), else
// the two launches.
void append_and_advance(const layer_dims& d, const slot_state& s, const append_rule& rule,
                        const std::int32_t* seq_ids, int n, const std::int32_t* positions, std::int32_t* slot_out,
                        std::int32_t* evicted_out, void* stream);

// H2O (accumulate = true: score[kv][i] += fold of the group's weights) and
// TOVA (accumulate = false: score[t][i] = fold over the table's heads - all
// heads when T == 1) over slots 0..held-1.
void observe_scores(const layer_dims& d, const slot_state& s, fold f, bool accumulate, const std::int32_t* seq_ids,
                    int n, const float* weights, int stride, void* stream);

struct quest_state {
  void* page_max = nullptr;  // [rows][KV][P/16][D][16]: float, or std::uint16_t bf16 bits
  void* page_min = nullptr;
  bool bf16 = false;
  int max_pages = 0;         // P: ceil(capacity / page_size) rounded up to a multiple of 16
  int page_size = 16;
  int budget_pages = 0;      // budget / page_size
  fold gqa = fold::mean;
  // Pages each thread of quest_select's scoring owns (a tuning knob; the
  // selection is the same whatever it is): bf16 bounds 2, 4 (0 = default) or
  // 8; fp32 bounds 1 (0 = default), 2 or 4. Fewer pages per thread: narrower
  // loads, more threads in flight; the defaults are the fastest measured.
  int pages_per_thread = 0;
  // Channels whose loads a scoring thread issues before their arithmetic: 8
  // (0 = default) or 16 (more bytes in flight, more registers). A tuning
  // knob too: the sums keep their order, the selection is the same.
  int loads_ahead = 0;
  // Score through shared memory instead (sum and mean folds; max keeps the
  // per-thread kernel): a block copies 16 tiles' bounds a kilobyte-run at a
  // time, then a thread per page sums from shared memory. Same selection.
  bool staged = false;
  // L2 fetch size the per-thread scoring asks for on each bound load: 256
  // bytes (the default), 128, or 0 (plain loads) (ld.global.L2::256B / ::128B).
  // A thread's next channels of a tile follow the one it loads (a bf16 row
  // of a tile is 32 bytes, 8 rows 256), so the hint asks DRAM for whole runs
  // instead of 32-byte sectors 4 KB apart. Same loads, same sums, same
  // selection; not used by the staged kernel. The default with tail_first
  // below: the fastest combination measured on an H200 (docs/kv.md: the
  // whole bf16 step at 32k 101.5 us against 115.5 with plain loads in
  // dispatch order, the same run; fp32 bounds within 2% either way).
  int prefetch = 256;
  // Dispatch the last, partial scoring block of each (row, KV head) first
  // (blocks in reverse order of their pages), so that it runs with the first
  // wave instead of alone after it (the default). Per-thread and grid-fused
  // kernels.
  bool tail_first = true;
  // quest_step in one launch instead of two, with the per-thread kernel's
  // width and prefetch (8 loads ahead):
  //   0  (default) the scoring launch also applies the new keys (the first
  //      block of each (row, KV head): the key's page is the current one,
  //      which is never scored), then the top-k; with staged scoring,
  //      quest_update_bounds then quest_select
  //   1  a block of 512 threads per (row, KV head) applies the new key,
  //      scores in rounds and runs the top-k on the scores in shared memory
  //      (only n x KV blocks: for large batches)
  //   2  the scoring grid of quest_select; the first block of a (row, KV
  //      head) applies the key, the last one to finish runs the top-k. It
  //      counts finished blocks in the last float of each (row, KV head)'s
  //      scratch row (max_pages floats; scores never use it), which must be
  //      0 before the first call (cudaMemset, torch.zeros); each call leaves
  //      it 0.
  // Same selection whichever.
  int fused = 0;
};

// keys: [n][KV][D] (float, or bf16 bits when keys_bf16), slot_out from append().
void quest_update_bounds(const layer_dims& d, const quest_state& q, const std::int32_t* seq_ids, int n,
                         const std::int32_t* slot_out, const void* keys, bool keys_bf16, void* stream);
// query: [n][H][D] float. scratch: n * KV * P floats. pages_out: [n][KV][budget_pages]
// ascending (the current page last), counts_out: [n][KV]. Reads held after advance().
void quest_select(const layer_dims& d, const slot_state& s, const quest_state& q, const std::int32_t* seq_ids, int n,
                  const float* query, float* scratch, std::int32_t* pages_out, std::int32_t* counts_out, void* stream);
// quest_select's two launches apart (quest_select = quest_score, then
// quest_topk), for timing them separately: the page scores into scratch,
// then the top-k from them.
void quest_score(const layer_dims& d, const slot_state& s, const quest_state& q, const std::int32_t* seq_ids, int n,
                 const float* query, float* scratch, void* stream);
void quest_topk(const layer_dims& d, const slot_state& s, const quest_state& q, const std::int32_t* seq_ids, int n,
                const float* scratch, std::int32_t* pages_out, std::int32_t* counts_out, void* stream);
// What quest_update_bounds then quest_select give, after append() and
// advance(): two launches (scoring with the keys, top-k), one when q.fused.
// Same arguments as theirs.
void quest_step(const layer_dims& d, const slot_state& s, const quest_state& q, const std::int32_t* seq_ids, int n,
                const std::int32_t* slot_out, const void* keys, bool keys_bf16, const float* query, float* scratch,
                std::int32_t* pages_out, std::int32_t* counts_out, void* stream);

struct snapkv_state {
  float* rows = nullptr;           // [rows][KV][W][C]
  std::int32_t* row_len = nullptr;  // [rows][W]
  std::int32_t* next_row = nullptr; // [rows]
  std::int32_t* rows_seen = nullptr;
  std::int32_t* prefilled = nullptr;
  std::uint8_t* pinned = nullptr;   // [rows][KV][C]
  int window = 32;
  int kernel = 5;
  bool max_pool = false;
  int budget = 0;
  fold gqa = fold::mean;
  // snapkv_finish then sets slot_state::held_cap (which must be set) to the
  // budget: generated tokens replace the oldest unpinned one (victim::snapkv).
  bool evict_generated = false;
};

void snapkv_observe(const layer_dims& d, const slot_state& s, const snapkv_state& k, const std::int32_t* seq_ids,
                    int n, const float* weights, int stride, void* stream);
void snapkv_advance(const layer_dims& d, const slot_state& s, const snapkv_state& k, const std::int32_t* seq_ids,
                    int n, void* stream);
// scratch: n * KV * 2 * C floats. kept_out: [n][KV][C] the surviving slots'
// old numbers, ascending (the token of kept[i] moves to slot i; in list order
// no move overwrites a row still to be moved); kept_count: [n][KV].
void snapkv_prefill_done(const layer_dims& d, const slot_state& s, const snapkv_state& k,
                         const std::int32_t* seq_ids, int n, float* scratch, std::int32_t* kept_out,
                         std::int32_t* kept_count, void* stream);
void snapkv_finish(const layer_dims& d, const slot_state& s, const snapkv_state& k, const std::int32_t* seq_ids,
                   int n, void* stream);

// Softmax weights over slots 0..held-1 of each query head: probs[r][q][i] for
// q . K[seq][q / group][i] * scale. query [n][H][D] float; keys [rows][KV][C][D];
// head_dim at most 256 (nothing is launched beyond).
void attention_probs(const layer_dims& d, const std::int32_t* held, const std::int32_t* seq_ids, int n,
                     const float* query, const void* keys, bool keys_bf16, float scale, float* probs, int stride,
                     void* stream);

// The last CUDA error as text ("" if none); clears it.
const char* last_error();

}  // namespace lil::kv::cuda
