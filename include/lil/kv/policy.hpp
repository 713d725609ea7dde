// lil/kv/policy.hpp - the KV-cache policy interface: hooks, shapes, budgets.
//
// What a policy is
//   The state one sequence keeps for one attention layer: which tokens sit in
//   which cache slots, and whatever scores the policy ranks them by. The
//   caller owns the K/V storage ([n_kv_heads][capacity()][head_dim] is the
//   natural layout, see cache.hpp) and the attention kernel; the policy only
//   says where the new token goes, what to read, and what to drop.
//
// One attention step (wrap.hpp runs it for you)
//     r = p.append(position, k_new)   slot per KV head for the new token; if the
//                                     cache was full, the token that slot held
//                                     is evicted (r.evicted_position)
//     caller writes k_new, v_new into slot r.slot[h] of KV head h
//     s = p.select(q)                 per KV head, the slots to read
//     caller's attention over s       output, and softmax weights if needed
//     p.observe(weights)              only when p.requirements().weights
//   and after the last prompt token, once: p.prefill_done() (SnapKV compresses,
//   and reports the K/V rows to move so that its cache stays a dense prefix).
//   The issue lists append last. We append first so that the token attends to
//   itself through the same slots as every other token (causal attention
//   includes the diagonal) and the cache never holds more than the budget.
//   Eviction decisions use everything observed so far, so "attend, then drop
//   the weakest" (H2O, TOVA) is decided at the next append, with exactly the
//   same outcome.
//
// Budgets
//   `budget()` counts tokens per KV head, the token being processed included:
//   a select never returns more, and evicting policies never hold more. Where a
//   paper states a ratio (H2O), token_budget::ratio_of_context resolves it
//   against model_shape::max_context at construction.
//
// Positions and RoPE
//   Every slot keeps its token's original position (position()). Rotation is
//   the caller's business: most engines cache keys after RoPE, so an evicted
//   neighbour leaves the others' rotations unchanged and q.k still sees the
//   true distance, which is what H2O, TOVA, SnapKV and Quest assume. The
//   StreamingLLM paper instead re-rotates by rank inside the cache; to do that,
//   cache keys before RoPE, rotate them at read time by their rank in the
//   selection, and pass append() the keys the query is really dotted with.
//
// GQA
//   Query head q reads KV head q / (n_heads / n_kv_heads) (the usual
//   "repeat each KV head" layout). A policy makes one selection per KV head and
//   folds the scores of that head's query heads with an explicit `reduction`
//   (sum, mean or max) - never by looking at one head only.
//
// Costs and rules
//   Everything is allocated at construction, sized by capacity(); no hook
//   allocates. A policy's state lives in a state pool (state_pool.hpp) as
//   one sequence of the structure of arrays that planner.hpp documents: a
//   policy built alone owns a pool of one sequence; a planner's sequences
//   share one, so the batched and the single-sequence paths run the same code. Hooks throw lil::error only for bad input (negative position,
//   a full cache, non-finite weights), before changing any state. One policy
//   object belongs to one (sequence, layer): objects are independent, so
//   different sequences may run on different threads, but one object must not
//   be used by two threads at once.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "lil/config.hpp"
#include "lil/kv/slot_table.hpp"
#include "lil/kv/state_pool.hpp"

namespace lil::kv {

class planner;

// How the scores of the query heads that share one KV head are folded.
enum class reduction : std::uint8_t { sum, mean, max };

inline const char* to_string(reduction r) noexcept {
  switch (r) {
    case reduction::sum: return "sum";
    case reduction::mean: return "mean";
    case reduction::max: return "max";
  }
  return "?";
}

namespace detail {
inline std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
inline std::string number(std::int64_t v) { return std::to_string(v); }
inline std::string number(int v) { return std::to_string(v); }
}  // namespace detail

// The attention geometry of the model, shared by all its layers.
struct model_shape {
  int n_layers = 1;
  int n_heads = 0;     // query heads
  int n_kv_heads = 0;  // key/value heads (GQA: n_heads is a multiple of it)
  int head_dim = 0;
  int max_context = 0;            // most tokens a sequence may append to one layer
  int kv_bytes_per_element = 4;   // what the caller stores K/V as; memory reports only

  int group_size() const noexcept { return n_heads / n_kv_heads; }
  int kv_head_of(int q_head) const noexcept { return q_head / group_size(); }

  void validate() const {
    auto bad = [](const char* field, int value, const char* why) {
      lil::detail::throw_error(std::string("kv model_shape: ") + field + " " + detail::number(value) + " " + why);
    };
    if (n_layers < 1) bad("n_layers", n_layers, "must be at least 1");
    if (n_heads < 1) bad("n_heads", n_heads, "must be at least 1");
    if (n_kv_heads < 1) bad("n_kv_heads", n_kv_heads, "must be at least 1");
    if (n_heads % n_kv_heads != 0)
      lil::detail::throw_error("kv model_shape: n_heads " + detail::number(n_heads) +
                               " is not a multiple of n_kv_heads " + detail::number(n_kv_heads));
    if (head_dim < 1) bad("head_dim", head_dim, "must be at least 1");
    if (max_context < 1) bad("max_context", max_context, "must be at least 1");
    if (kv_bytes_per_element < 1) bad("kv_bytes_per_element", kv_bytes_per_element, "must be at least 1");
  }
};

// A budget in tokens, or a ratio of model_shape::max_context where the source
// paper states one. Implicit from int, so `opts.budget = 64;` reads naturally.
class token_budget {
 public:
  token_budget() = default;
  token_budget(int tokens) : tokens_(tokens) {}  // NOLINT(google-explicit-constructor)
  static token_budget ratio_of_context(double ratio) {
    token_budget b;
    b.ratio_ = ratio;
    return b;
  }
  int tokens() const noexcept { return tokens_; }
  double ratio() const noexcept { return ratio_; }

  int resolve(const model_shape& shape, const char* policy_name) const {
    const std::string where = std::string("kv ") + policy_name + ": budget ";
    if (ratio_ != 0.0) {
      if (!(ratio_ > 0.0 && ratio_ <= 1.0))
        lil::detail::throw_error(where + "ratio " + detail::number(ratio_) + " must be in (0, 1]");
      const int t = static_cast<int>(std::ceil(ratio_ * shape.max_context));
      return t < 1 ? 1 : t;
    }
    if (tokens_ < 1) lil::detail::throw_error(where + detail::number(tokens_) + " tokens must be at least 1");
    return tokens_;
  }

 private:
  int tokens_ = 0;
  double ratio_ = 0.0;
};

// A read-only list of slots of one KV head.
struct slot_span {
  const std::int32_t* data = nullptr;
  std::int32_t size = 0;
  const std::int32_t* begin() const noexcept { return data; }
  const std::int32_t* end() const noexcept { return data + size; }
  std::int32_t operator[](std::int32_t i) const noexcept { return data[i]; }
};

// Per KV head, a list of slots (a selection, or slots freed by prefill_done).
// A view into the policy: valid until its next hook call.
class slot_lists {
 public:
  slot_lists() = default;
  slot_lists(const std::int32_t* const* heads, const std::int32_t* counts, int n_kv_heads) noexcept
      : heads_(heads), counts_(counts), n_(n_kv_heads) {}
  int n_kv_heads() const noexcept { return n_; }
  slot_span head(int kv) const noexcept { return n_ == 0 ? slot_span{} : slot_span{heads_[kv], counts_[kv]}; }
  std::int32_t largest() const noexcept {
    std::int32_t m = 0;
    for (int h = 0; h < n_; ++h) m = counts_[h] > m ? counts_[h] : m;
    return m;
  }

 private:
  const std::int32_t* const* heads_ = nullptr;
  const std::int32_t* counts_ = nullptr;
  int n_ = 0;
};

// What append() decided, per KV head. A view, valid until the next append.
struct append_result {
  const std::int32_t* slot = nullptr;              // write the new K/V of head h at slot[h]
  const std::int64_t* evicted_position = nullptr;  // position the slot held before, or -1
  int n_kv_heads = 0;
  bool evicted(int kv) const noexcept { return evicted_position[kv] >= 0; }
};

// What prefill_done() changed, per KV head. A view, valid until the next hook.
// First move, in list order, the K and V of slot move_from[i] to slot
// move_to[i] (a move never overwrites a row still to be moved); then the
// slots in `freed` hold nothing the policy will read again.
struct prefill_result {
  slot_lists freed;
  slot_lists move_from;
  slot_lists move_to;
};

// Softmax attention weights of one step: row q (query head q) holds one weight
// per entry of the selection of KV head kv_head_of(q), in selection order.
struct weights_view {
  const float* data = nullptr;
  std::size_t stride = 0;  // floats from one query head's row to the next
  const float* row(int q_head) const noexcept { return data + static_cast<std::size_t>(q_head) * stride; }
};

// What a policy needs from the caller's loop.
struct needs {
  bool weights = false;    // call observe() with this step's weights
  int prefill_window = 0;  // the last N prompt steps' weights are used by prefill_done()
};

struct memory_report {
  std::size_t kv_bytes = 0;           // K and V of the tokens held now
  std::size_t kv_reserved_bytes = 0;  // K and V of every slot the caller preallocates
  std::size_t policy_bytes = 0;       // the policy's own state (slot maps, scores, page bounds)
  std::int32_t tokens_held = 0;       // the most tokens held by one KV head

  memory_report& operator+=(const memory_report& o) noexcept {
    kv_bytes += o.kv_bytes;
    kv_reserved_bytes += o.kv_reserved_bytes;
    policy_bytes += o.policy_bytes;
    tokens_held = o.tokens_held > tokens_held ? o.tokens_held : tokens_held;
    return *this;
  }
};

class policy {
 public:
  virtual ~policy() = default;
  policy(const policy&) = delete;
  policy& operator=(const policy&) = delete;

  const char* name() const noexcept { return name_; }
  const model_shape& shape() const noexcept { return shape_; }
  int layer() const noexcept { return layer_; }
  reduction gqa() const noexcept { return gqa_; }
  // Tokens read per KV head at most, per step (see "Budgets").
  std::int32_t budget() const noexcept { return budget_; }
  // Slots per KV head the caller must preallocate.
  std::int32_t capacity() const noexcept { return capacity_; }
  // The longest list select() can return for one KV head (weights row length).
  std::int32_t max_selected() const noexcept { return max_selected_; }
  // Tokens appended so far (not the number held).
  std::int64_t appended() const noexcept { return appended_[0]; }
  // Tokens that can still be appended with nothing evicted and every held
  // token read (what a chunk of prefill may hold; see planner.hpp).
  virtual std::int32_t room() const noexcept { return capacity_ - table(0).size(); }
  // Whether append() accepts a token now (a policy that evicts always does;
  // one that keeps everything only below its capacity).
  virtual bool can_append() const noexcept { return !table(0).full(); }
  // 1 when one slot map serves every KV head, else n_kv_heads.
  int slot_maps() const noexcept { return shared_ ? 1 : shape_.n_kv_heads; }

  virtual needs requirements() const noexcept { return {}; }

  // Takes the new token's keys ([n_kv_heads][head_dim], as q will be dotted
  // with them) and its original position. Throws lil::error if the position
  // is negative or a policy that keeps everything is already at max_context.
  virtual const append_result& append(std::int64_t position, const float* keys) = 0;
  // The query is [n_heads][head_dim]. Only Quest looks at it; every other
  // policy reads everything it holds.
  virtual slot_lists select(const float* /*query*/) noexcept {
    select_all_live();
    return last_selection();
  }
  // Weights over the last selection. Throws lil::error on a non-finite weight.
  virtual void observe(const weights_view& /*weights*/) {}
  // End of the prompt. SnapKV drops tokens and compacts; the others change
  // nothing and return empty lists.
  virtual prefill_result prefill_done() { return {}; }
  // Forget the sequence; keeps every allocation.
  virtual void reset() noexcept {
    for (auto& t : tables_) t.clear();
    appended_[0] = 0;
    for (auto& c : selection_counts_) c = 0;
  }

  std::int32_t size(int kv_head) const noexcept { return table(kv_head).size(); }
  slot_span live_slots(int kv_head) const noexcept { return {table(kv_head).live(), table(kv_head).size()}; }
  bool is_live(int kv_head, std::int32_t slot) const noexcept { return table(kv_head).is_live(slot); }
  // Original position of the token in the slot, -1 if the slot is free.
  std::int64_t position(int kv_head, std::int32_t slot) const noexcept { return table(kv_head).position(slot); }
  // The selection returned by the last select().
  slot_lists last_selection() const noexcept {
    return {selection_heads_.data(), selection_counts_.data(), shape_.n_kv_heads};
  }

  memory_report memory() const noexcept {
    memory_report m;
    const std::size_t per_token =
        static_cast<std::size_t>(shape_.head_dim) * 2u * static_cast<std::size_t>(shape_.kv_bytes_per_element);
    for (int h = 0; h < shape_.n_kv_heads; ++h) {
      m.kv_bytes += static_cast<std::size_t>(size(h)) * per_token;
      m.tokens_held = size(h) > m.tokens_held ? size(h) : m.tokens_held;
    }
    m.kv_reserved_bytes = static_cast<std::size_t>(capacity_) * static_cast<std::size_t>(shape_.n_kv_heads) * per_token;
    for (const auto& t : tables_) m.policy_bytes += t.bytes();
    m.policy_bytes += extra_bytes();
    return m;
  }

 protected:
  // shared_slots: one slot map for all KV heads (the policy evicts the same
  // token everywhere); otherwise one per KV head.
  policy(const char* name, const model_shape& shape, int layer, reduction gqa, std::int32_t budget,
         std::int32_t capacity, std::int32_t max_selected, bool shared_slots, detail::state_binding bind)
      : own_pool_(bind.pool == nullptr ? std::make_unique<detail::state_pool>(1) : nullptr),
        bind_{bind.pool == nullptr ? own_pool_.get() : bind.pool, bind.pool == nullptr ? 0 : bind.seq},
        name_(name),
        shape_(shape),
        layer_(layer),
        gqa_(gqa),
        budget_(budget),
        capacity_(capacity),
        max_selected_(max_selected),
        shared_(shared_slots),
        append_slot_(static_cast<std::size_t>(shape.n_kv_heads), -1),
        append_evicted_(static_cast<std::size_t>(shape.n_kv_heads), -1),
        selection_heads_(static_cast<std::size_t>(shape.n_kv_heads), nullptr),
        selection_counts_(static_cast<std::size_t>(shape.n_kv_heads), 0),
        reduced_(static_cast<std::size_t>(max_selected), 0.0f) {
    const std::size_t n = shared_slots ? 1u : static_cast<std::size_t>(shape.n_kv_heads);
    const std::size_t c = static_cast<std::size_t>(capacity);
    appended_ = take<std::int64_t>("appended", 1, 0);
    auto position = take<std::int64_t>("slot.position", n * c, -1);
    auto arrival = take<std::int64_t>("slot.arrival", n * c, -1);
    auto live = take<std::int32_t>("slot.live", n * c, 0);
    auto live_index = take<std::int32_t>("slot.live_index", n * c, -1);
    auto counts = take<std::int32_t>("slot.count", n * 2, 0);
    tables_.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
      tables_.emplace_back(detail::seq_array<std::int64_t>(position.data() + i * c, c),
                           detail::seq_array<std::int64_t>(arrival.data() + i * c, c),
                           detail::seq_array<std::int32_t>(live.data() + i * c, c),
                           detail::seq_array<std::int32_t>(live_index.data() + i * c, c), counts.data() + 2 * i);
    result_.slot = append_slot_.data();
    result_.evicted_position = append_evicted_.data();
    result_.n_kv_heads = shape.n_kv_heads;
  }

  // This sequence's slice of state array `name` (see planner.hpp).
  template <class T>
  detail::seq_array<T> take(const char* name, std::size_t elements, T init) {
    return bind_.pool->take<T>(name, elements, bind_.seq, init);
  }
  detail::state_binding binding() const noexcept { return bind_; }

  // Checks what every policy checks before a policy's own validation.
  static void check_shape(const model_shape& shape, int layer, const char* name) {
    shape.validate();
    if (layer < 0 || layer >= shape.n_layers)
      lil::detail::throw_error(std::string("kv ") + name + ": layer " + detail::number(layer) +
                               " is outside 0.." + detail::number(shape.n_layers - 1) + " (model_shape.n_layers " +
                               detail::number(shape.n_layers) + ")");
  }

  detail::slot_table& table(int kv_head) noexcept { return tables_[shared_ ? 0u : static_cast<std::size_t>(kv_head)]; }
  const detail::slot_table& table(int kv_head) const noexcept {
    return tables_[shared_ ? 0u : static_cast<std::size_t>(kv_head)];
  }
  bool shared_slots() const noexcept { return shared_; }

  void check_position(std::int64_t position) const {
    if (position < 0)
      lil::detail::throw_error(std::string("kv ") + name_ + " append: position " + detail::number(position) +
                               " is negative");
  }
  [[noreturn]] void fail_full(std::int64_t position) const {
    lil::detail::throw_error(std::string("kv ") + name_ + " append: layer " + detail::number(layer_) +
                             " already holds " + detail::number(capacity_) + " tokens (model_shape.max_context " +
                             detail::number(shape_.max_context) + "); position " + detail::number(position) +
                             " does not fit");
  }

  // Every KV head reads all of its live slots.
  void select_all_live() noexcept {
    for (int h = 0; h < shape_.n_kv_heads; ++h) {
      selection_heads_[static_cast<std::size_t>(h)] = table(h).live();
      selection_counts_[static_cast<std::size_t>(h)] = table(h).size();
    }
  }

  // Rejects weights that are not finite, naming the first bad one.
  void validate_weights(const weights_view& w) const {
    if (w.data == nullptr)
      lil::detail::throw_error(std::string("kv ") + name_ + " observe: weights is null but the policy needs them");
    const slot_lists sel = last_selection();
    if (w.stride < static_cast<std::size_t>(sel.largest()))
      lil::detail::throw_error(std::string("kv ") + name_ + " observe: weights stride " +
                               detail::number(static_cast<std::int64_t>(w.stride)) +
                               " is shorter than the selection (" + detail::number(sel.largest()) + " slots)");
    for (int q = 0; q < shape_.n_heads; ++q) {
      const int kv = shape_.kv_head_of(q);
      const slot_span s = sel.head(kv);
      const float* row = w.row(q);
      // x - x is 0 for every finite x and NaN otherwise; eight lanes let the
      // compiler vectorize the sum without reassociation.
      float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      std::int32_t i = 0;
      for (; i + 8 <= s.size; i += 8)
        for (int j = 0; j < 8; ++j) lane[j] += row[i + j] - row[i + j];
      float all = ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
      for (; i < s.size; ++i) all += row[i] - row[i];
      if (LIL_LIKELY(all == 0.0f)) continue;
      for (std::int32_t k = 0; k < s.size; ++k) {
        if (std::isfinite(row[k])) continue;
        lil::detail::throw_error(std::string("kv ") + name_ + " observe: weight of query head " + detail::number(q) +
                                 " at selection index " + detail::number(k) + " (slot " + detail::number(s[k]) +
                                 ", position " + detail::number(position(kv, s[k])) + ") is " +
                                 detail::number(static_cast<double>(row[k])) + "; weights must be finite");
      }
    }
  }

  // Folds the rows of query heads [first, first + count) over the first n
  // selection entries into reduced_[0..n).
  const float* reduce_rows(const weights_view& w, int first, int count, std::int32_t n) noexcept {
    float* out = reduced_.data();
    const float* r0 = w.row(first);
    for (std::int32_t i = 0; i < n; ++i) out[i] = r0[i];
    for (int g = 1; g < count; ++g) {
      const float* r = w.row(first + g);
      if (gqa_ == reduction::max) {
        for (std::int32_t i = 0; i < n; ++i) out[i] = out[i] < r[i] ? r[i] : out[i];
      } else {
        for (std::int32_t i = 0; i < n; ++i) out[i] += r[i];
      }
    }
    if (gqa_ == reduction::mean && count > 1) {
      const float c = static_cast<float>(count);
      for (std::int32_t i = 0; i < n; ++i) out[i] /= c;
    }
    return out;
  }

  // The policy's own arrays beyond the slot maps, for memory().
  virtual std::size_t extra_bytes() const noexcept { return 0; }

  std::int64_t next_arrival() noexcept { return appended_[0]++; }
  void set_append(int kv_head, std::int32_t slot, std::int64_t evicted_position) noexcept {
    append_slot_[static_cast<std::size_t>(kv_head)] = slot;
    append_evicted_[static_cast<std::size_t>(kv_head)] = evicted_position;
  }
  const append_result& append_done() const noexcept { return result_; }
  void set_selection(int kv_head, const std::int32_t* slots, std::int32_t count) noexcept {
    selection_heads_[static_cast<std::size_t>(kv_head)] = slots;
    selection_counts_[static_cast<std::size_t>(kv_head)] = count;
  }

 private:
  friend class planner;
  // The planner's chunk rows read a prefix of the selection: drop the last
  // `by` entries of every KV head's list (0 restores the full one).
  void narrow_selection(std::int32_t by) noexcept {
    for (std::size_t h = 0; h < selection_counts_.size(); ++h)
      selection_counts_[h] = selection_full_[h] - by;
  }
  void remember_selection() noexcept { selection_full_ = selection_counts_; }

  std::unique_ptr<detail::state_pool> own_pool_;
  detail::state_binding bind_;
  const char* name_;
  model_shape shape_;
  int layer_;
  reduction gqa_;
  std::int32_t budget_;
  std::int32_t capacity_;
  std::int32_t max_selected_;
  bool shared_;
  detail::seq_array<std::int64_t> appended_;
  std::vector<detail::slot_table> tables_;
  std::vector<std::int32_t> append_slot_;
  std::vector<std::int64_t> append_evicted_;
  append_result result_;
  std::vector<const std::int32_t*> selection_heads_;
  std::vector<std::int32_t> selection_counts_;
  std::vector<std::int32_t> selection_full_ = selection_counts_;
  std::vector<float> reduced_;
};

}  // namespace lil::kv
