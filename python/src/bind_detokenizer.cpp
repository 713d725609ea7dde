// lil.IncrementalDetokenizer: the text each new token adds, for every sequence
// of a batch, with one call of the tokenizer's decode per decode step.
//
// Why a window
//   Decoding one token alone is wrong for most tokenizers: sentencepiece drops
//   the space that starts a string, and a character split over byte tokens
//   decodes to U+FFFD until its last byte arrives. So each slot keeps a short
//   window of ids: the first `read` are already emitted and are there only as
//   context, the rest are not. A new token's text is decode(window) minus
//   decode(window[:read]); while decode(window) ends in U+FFFD (a character
//   still unfinished) the token adds no text and the window grows, and the
//   token that completes the character brings all of its bytes. After an
//   emission the window keeps its last `context_tokens` ids. A character that
//   stays unfinished for `max_pending` tokens (an invalid byte sequence) is
//   emitted as it decodes, so the window is bounded: context + max_pending ids.
//
// Why batched, and why here
//   A per-sequence Python loop costs several microseconds a token, more than
//   Guardian itself at large batches. Here one step gathers every slot's two
//   windows into one list, makes one call of `decode_batch` (a Hugging Face
//   fast tokenizer decodes the whole list in Rust), and feeds each slot's text
//   straight to its Guardian. The single-sequence adapters use the same object
//   with one slot (lil._sequences.IncrementalDecoder), so there is one
//   implementation of the rules above.
//
// Exactness
//   Text is compared as Python compares it: when decode(window) does not start
//   with decode(window[:read]) (a decoder that rewrites its context, rare), the
//   new text is what lies past as many code points as the old text had, or
//   nothing when the new text is not longer.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "lil/guardian/batch.hpp"
#include "step_flags.hpp"
#include "step_sources.hpp"

namespace lil::python {

namespace {

using batch_t = lil::guardian_batch<>;

constexpr std::string_view replacement_character = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

std::size_t code_points(std::string_view s) noexcept {
  std::size_t n = 0;
  for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// The byte offset of code point `n` of s (s.size() when s has no more).
std::size_t code_point_offset(std::string_view s, std::size_t n) noexcept {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) continue;
    if (n == 0) return i;
    --n;
  }
  return s.size();
}

bool ends_unfinished(std::string_view text) noexcept {
  return text.size() >= replacement_character.size() &&
         text.substr(text.size() - replacement_character.size()) == replacement_character;
}

// What `after` adds to `before`, compared as Python compares str (above).
std::string_view added_text(std::string_view before, std::string_view after) noexcept {
  if (after.size() >= before.size() && after.substr(0, before.size()) == before) return after.substr(before.size());
  const std::size_t old_points = code_points(before);
  if (code_points(after) > old_points) return after.substr(code_point_offset(after, old_points));
  return {};
}

std::string_view utf8_of(py::handle text, std::size_t slot) {
  if (!PyUnicode_Check(text.ptr()))
    throw py::type_error("IncrementalDetokenizer: decode_batch must return str for every window, got " +
                         std::string(py::str(py::type::handle_of(text).attr("__name__"))) + " for slot " +
                         std::to_string(slot));
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(text.ptr(), &size);
  if (!data) {
    PyErr_Clear();
    fail("IncrementalDetokenizer: the text decoded for slot " + std::to_string(slot) +
         " is not encodable as UTF-8 (a lone surrogate)");
  }
  return {data, static_cast<std::size_t>(size)};
}

class detokenizer {
 public:
  detokenizer(std::size_t slots, py::object decode_batch, int context_tokens, int max_pending, std::size_t check_every)
      : decode_(std::move(decode_batch)),
        context_(static_cast<std::size_t>(context_tokens)),
        pending_limit_(static_cast<std::size_t>(max_pending)),
        check_every_(check_every),
        width_(context_ + pending_limit_ + check_every_),
        ids_(slots * width_, 0),
        length_(slots, 0),
        read_(slots, 0),
        waiting_(slots, 0),
        views_(check_every_ + pending_limit_) {
    active_.reserve(slots);
    due_.reserve(slots);
    taken_.reserve(slots);
    held_back_.reserve(slots);
  }

  std::size_t size() const noexcept { return length_.size(); }
  int context_tokens() const noexcept { return static_cast<int>(context_); }
  int max_pending() const noexcept { return static_cast<int>(pending_limit_); }
  std::size_t check_every() const noexcept { return check_every_; }
  std::size_t waiting(std::size_t slot) const noexcept { return waiting_[slot]; }

  // A new sequence in `slot`; the last context_tokens of `context` (the
  // prompt's tail) are its first window, so its first token keeps its space.
  void reset(std::size_t slot, const std::vector<std::int32_t>& context) {
    const std::size_t keep = std::min(context.size(), context_);
    std::copy(context.end() - static_cast<std::ptrdiff_t>(keep), context.end(), window(slot));
    length_[slot] = keep;
    read_[slot] = keep;
    waiting_[slot] = 0;
  }

  std::vector<std::int32_t> window_of(std::size_t slot) const {
    const std::int32_t* w = window(slot);
    return {w, w + length_[slot]};
  }

  // Every slot i with ids[i] >= 0 takes that token; emit(slot, text) is then
  // called for each of them in slot order, with the text the token adds
  // (possibly empty). Nothing changes when decode_batch fails.
  template <class Emit>
  void step(const std::int32_t* ids, std::size_t count, Emit&& emit) {
    active_.clear();
    for (std::size_t i = 0; i < count; ++i)
      if (ids[i] >= 0) active_.push_back({i, ids[i]});
    run(emit);
  }

  // Text at the checks: slot i takes ids[i] (>= 0) and the token waits; when
  // it is the one that brings batch[i] to a check (a multiple of its f), the
  // slot's waiting tokens go to its guardian at once, all of their text on
  // the last. Nothing changes when decode_batch fails.
  template <class Batch>
  void step_at_checks(const std::int32_t* ids, Batch& batch) {
    due_.clear();
    taken_.clear();
    for (std::size_t i = 0; i < size(); ++i) {
      if (ids[i] < 0) continue;
      window(i)[length_[i]++] = ids[i];
      ++waiting_[i];
      taken_.push_back(i);
      if ((batch[i].tokens() + waiting_[i]) % batch[i].interval() == 0) due_.push_back(i);
    }
    try {
      give_waiting(due_, batch);
    } catch (...) {
      for (const std::size_t i : taken_) --length_[i], --waiting_[i];
      throw;
    }
  }

  // Every waiting token of slots [begin, end) to its guardian now (the text
  // of a character still unfinished keeps waiting for its last byte).
  template <class Batch>
  void flush(Batch& batch, std::size_t begin, std::size_t end) {
    due_.clear();
    for (std::size_t i = begin; i < end; ++i)
      if (waiting_[i] > 0) due_.push_back(i);
    give_waiting(due_, batch);
  }

  // One slot takes one token; returns the text it adds (a view into the
  // decoded strings, valid until the next call).
  std::string_view push(std::size_t slot, std::int32_t id) {
    active_.clear();
    active_.push_back({slot, id});
    std::string_view out;
    run([&](std::size_t, std::string_view text) { out = text; });
    return out;
  }

 private:
  struct entry {
    std::size_t slot;
    std::int32_t id;
  };

  std::int32_t* window(std::size_t slot) noexcept { return ids_.data() + slot * width_; }
  const std::int32_t* window(std::size_t slot) const noexcept { return ids_.data() + slot * width_; }

  py::sequence decode(const py::list& windows) const {
    py::object decoded = decode_(windows);
    if (!PySequence_Check(decoded.ptr()) || PyUnicode_Check(decoded.ptr()) ||
        static_cast<std::size_t>(py::len(decoded)) != py::len(windows))
      throw py::type_error("IncrementalDetokenizer: decode_batch must return a list of one str per window (" +
                           std::to_string(py::len(windows)) + " windows)");
    return py::reinterpret_borrow<py::sequence>(decoded);
  }

  static py::list id_list(const std::int32_t* ids, std::size_t n, const std::int32_t* extra) {
    py::list out(n + (extra ? 1 : 0));
    for (std::size_t k = 0; k < n; ++k) PyList_SET_ITEM(out.ptr(), k, PyLong_FromLong(ids[k]));
    if (extra) PyList_SET_ITEM(out.ptr(), n, PyLong_FromLong(*extra));
    return out;
  }

  // The waiting tokens of `slots` to their guardians. Per slot one window
  // decodes the text since the last emission; when it ends in an unfinished
  // character, shorter windows (one id fewer each, up to max_pending - 1) find
  // how many trailing ids to hold back, as the per-token rule would: the
  // shortest hold whose text is whole. The state changes only after both
  // decodes succeeded.
  template <class Batch>
  void give_waiting(const std::vector<std::size_t>& slots, Batch& batch) {
    if (slots.empty()) return;
    py::list windows;
    for (const std::size_t s : slots) {
      if (read_[s] > 0) windows.append(id_list(window(s), read_[s], nullptr));
      windows.append(id_list(window(s), length_[s], nullptr));
    }
    const py::sequence texts = decode(windows);
    py::list shorter;
    held_back_.clear();
    std::size_t k = 0;
    for (const std::size_t s : slots) {
      k += read_[s] > 0 ? 1 : 0;
      const std::string_view after = utf8_of(texts[k++], s);
      std::size_t tries = 0;
      if (ends_unfinished(after)) {
        tries = std::min(pending_limit_ - 1, length_[s] - read_[s]);
        for (std::size_t h = 1; h <= tries; ++h) shorter.append(id_list(window(s), length_[s] - h, nullptr));
      }
      held_back_.push_back(tries);
    }
    const py::sequence shorter_texts = py::len(shorter) > 0 ? decode(shorter) : py::sequence(py::list());
    k = 0;
    std::size_t q = 0;
    for (std::size_t j = 0; j < slots.size(); ++j) {
      const std::size_t s = slots[j];
      const std::string_view before = read_[s] > 0 ? utf8_of(texts[k++], s) : std::string_view{};
      std::string_view after = utf8_of(texts[k++], s);
      std::size_t held = 0;
      for (std::size_t h = 1; h <= held_back_[j]; ++h) {
        const std::string_view t = utf8_of(shorter_texts[q + h - 1], s);
        if (!ends_unfinished(t)) {
          held = h;
          after = t;
          break;
        }
      }
      q += held_back_[j];
      const std::size_t n = waiting_[s];
      views_[n - 1] = added_text(before, after);
      batch[s].accept(views_.data(), n);
      views_[n - 1] = {};
      waiting_[s] = 0;
      // The next window: the last few emitted ids as context, then the held ones.
      std::int32_t* w = window(s);
      const std::size_t emitted = length_[s] - held;
      const std::size_t keep = std::min(emitted, context_);
      std::copy(w + (emitted - keep), w + length_[s], w);
      length_[s] = keep + held;
      read_[s] = keep;
    }
  }

  template <class Emit>
  void run(Emit&& emit) {
    if (active_.empty()) return;
    // Two windows per slot (one when nothing is emitted yet): what was read,
    // and everything with the new token. The state changes only once the
    // decode has succeeded.
    py::list windows;
    for (const entry& e : active_) {
      const std::int32_t* w = window(e.slot);
      if (read_[e.slot] > 0) windows.append(id_list(w, read_[e.slot], nullptr));
      windows.append(id_list(w, length_[e.slot], &e.id));
    }
    const py::sequence texts = decode(windows);
    last_result_ = texts;
    std::size_t k = 0;
    for (const entry& e : active_) {
      const std::size_t slot = e.slot;
      const std::string_view before = read_[slot] > 0 ? utf8_of(texts[k++], slot) : std::string_view{};
      const std::string_view after = utf8_of(texts[k++], slot);
      std::int32_t* w = window(slot);
      w[length_[slot]++] = e.id;
      const std::size_t pending = length_[slot] - read_[slot];
      if (ends_unfinished(after) && pending < pending_limit_) {
        emit(slot, std::string_view{});
        continue;
      }
      emit(slot, added_text(before, after));
      // Keep the last few ids as the next token's context.
      const std::size_t keep = std::min(length_[slot], context_);
      std::copy(w + (length_[slot] - keep), w + length_[slot], w);
      length_[slot] = keep;
      read_[slot] = keep;
    }
  }

  py::object decode_;
  std::size_t context_;
  std::size_t pending_limit_;
  std::size_t check_every_;  // f of the batch at the checks (0: per token only)
  std::size_t width_;
  std::vector<std::int32_t> ids_;  // [slot][width_]
  std::vector<std::size_t> length_;
  std::vector<std::size_t> read_;
  std::vector<std::size_t> waiting_;  // tokens taken, not yet given to the guardian
  std::vector<std::string_view> views_;  // texts of one slot's waiting tokens
  std::vector<entry> active_;
  std::vector<std::size_t> due_, taken_, held_back_;
  py::object last_result_;  // the last decode's strings: what push's view points into
};

std::vector<std::int32_t> context_ids(py::handle context) {
  if (context.is_none()) return {};
  std::vector<std::int32_t> out = token_ids(context, "context");
  for (std::size_t i = 0; i < out.size(); ++i)
    if (out[i] < 0) fail("IncrementalDetokenizer: context id " + std::to_string(out[i]) + " at " + std::to_string(i) +
                         " is negative");
  return out;
}

std::size_t slot_of(const detokenizer& d, long long slot) {
  if (slot < 0 || static_cast<std::size_t>(slot) >= d.size())
    throw py::index_error("IncrementalDetokenizer: slot " + std::to_string(slot) + " is outside 0.." +
                          std::to_string(d.size()));
  return static_cast<std::size_t>(slot);
}

void check_batch(const detokenizer& d, const batch_t& batch, const char* verb) {
  if (batch.size() != d.size())
    fail(std::string(verb) + ": the batch has " + std::to_string(batch.size()) + " slots, the detokenizer " +
         std::to_string(d.size()));
}

// A step by either rule, with its checks (what step, step_at_checks and
// ColumnFeed share).
void step_into(detokenizer& d, const std::int32_t* ids, batch_t& batch, bool at_checks) {
  if (!at_checks) {
    check_batch(d, batch, "IncrementalDetokenizer.step");
    d.step(ids, d.size(), [&](std::size_t slot, std::string_view text) { batch[slot].accept(text); });
    return;
  }
  check_batch(d, batch, "IncrementalDetokenizer.step_at_checks");
  if (d.check_every() == 0 || batch.size() == 0 || batch[0].interval() > d.check_every())
    fail("IncrementalDetokenizer.step_at_checks: the detokenizer was made for check_every=" +
         std::to_string(d.check_every()) + ", the batch checks every " +
         std::to_string(batch.size() ? batch[0].interval() : 0) + " tokens (make it with check_every >= f)");
  d.step_at_checks(ids, batch);
}

}  // namespace

bool step_detokenizer(py::handle source, const std::int32_t* ids, batch_t& batch, bool at_checks) {
  if (!py::isinstance<detokenizer>(source)) return false;
  step_into(source.cast<detokenizer&>(), ids, batch, at_checks);
  return true;
}

void bind_detokenizer(py::module_& m) {
  py::class_<detokenizer>(m, "IncrementalDetokenizer", R"doc(
The text each new token adds, for every slot of a batch, from a tokenizer's
decode, with one decode call per step (incremental detokenization).

    detok = lil.IncrementalDetokenizer(64, tokenizer.backend_tokenizer.decode_batch)
    detok.reset(slot, prompt_ids[-4:])      # a new sequence; the prompt's tail is context
    flags = detok.step(step_ids, batch)     # batch: a lil.GuardianBatch of the same size
    text = detok.push(slot, token_id)       # or one slot at a time: the text it adds

decode_batch takes a list of id lists and returns one str per list. A token
whose character is still unfinished (the decode ends in U+FFFD) adds no text;
the token that finishes it brings all of its bytes.
)doc")
      .def(py::init([](py::handle size, py::object decode_batch, int context_tokens, int max_pending,
                       py::handle check_every) {
             const long long n = integer_in_range(size, 0, (1LL << 40), "IncrementalDetokenizer size must be >= 0, ");
             if (!PyCallable_Check(decode_batch.ptr()))
               throw py::type_error("IncrementalDetokenizer: decode_batch must be a function (list of id lists) -> "
                                    "list of str");
             if (context_tokens < 0 || context_tokens > 64)
               fail("IncrementalDetokenizer: context_tokens must be in 0..64, got " + std::to_string(context_tokens));
             if (max_pending < 1 || max_pending > 64)
               fail("IncrementalDetokenizer: max_pending must be in 1..64, got " + std::to_string(max_pending));
             const long long f = check_every.is_none()
                                     ? 0
                                     : integer_in_range(check_every, 1, (1LL << 24),
                                                        "IncrementalDetokenizer check_every must be in 1..2^24, ");
             return new detokenizer(static_cast<std::size_t>(n), std::move(decode_batch), context_tokens, max_pending,
                                    static_cast<std::size_t>(f));
           }),
           py::arg("size"), py::arg("decode_batch"), py::arg("context_tokens") = 4, py::arg("max_pending") = 8,
           py::arg("check_every") = py::none())
      .def("__len__", &detokenizer::size)
      .def_property_readonly("context_tokens", &detokenizer::context_tokens)
      .def_property_readonly("max_pending", &detokenizer::max_pending)
      .def_property_readonly("check_every", [](const detokenizer& d) -> py::object {
        return d.check_every() ? py::int_(d.check_every()) : py::object(py::none());
      }, "The f that step_at_checks was sized for (None: per token only).")
      .def(
          "waiting", [](const detokenizer& d, long long slot) { return d.waiting(slot_of(d, slot)); },
          py::arg("slot"), "Tokens the slot took that its guardian has not been given yet (step_at_checks).")
      .def(
          "reset",
          [](detokenizer& d, long long slot, py::handle context) { d.reset(slot_of(d, slot), context_ids(context)); },
          py::arg("slot"), py::arg("context") = py::none(),
          "A new sequence in the slot: its window is the last context_tokens ids of `context`.")
      .def(
          "window", [](const detokenizer& d, long long slot) { return py::cast(d.window_of(slot_of(d, slot))); },
          py::arg("slot"), "The slot's window of ids (context, then ids whose text is not out yet).")
      .def(
          "push",
          [](detokenizer& d, long long slot, py::handle id) {
            const long long v = to_integer(id, "token id");
            if (v < 0 || v > 0x7FFFFFFF) fail("IncrementalDetokenizer.push: token id must be in 0..2^31-1, got " +
                                              std::to_string(v));
            const std::string_view text = d.push(slot_of(d, slot), static_cast<std::int32_t>(v));
            return py::str(text.data(), text.size());
          },
          py::arg("slot"), py::arg("id"), "One token for one slot; returns the text it adds ('' while unfinished).")
      .def(
          "step",
          [](detokenizer& d, py::handle ids, batch_t& batch, py::handle out) {
            static thread_local std::vector<std::int32_t> scratch;
            py::object keep;
            const std::int32_t* p = step_ids(ids, d.size(), scratch, keep, "IncrementalDetokenizer.step ids");
            py::array_t<bool> flags = flags_out(d.size(), out, "IncrementalDetokenizer.step");
            step_into(d, p, batch, false);
            return fill_flags(flags, batch);
          },
          py::arg("ids"), py::arg("batch"), py::arg("out") = py::none(),
          "One decode step: slot i takes ids[i] (-1: no token) and batch[i] accepts the text it adds; one\n"
          "decode_batch call for all slots. Returns (or fills `out`) each slot's stop flag.")
      .def(
          "step_at_checks",
          [](detokenizer& d, py::handle ids, batch_t& batch, py::handle out) {
            static thread_local std::vector<std::int32_t> scratch;
            py::object keep;
            const std::int32_t* p = step_ids(ids, d.size(), scratch, keep, "IncrementalDetokenizer.step_at_checks ids");
            py::array_t<bool> flags = flags_out(d.size(), out, "IncrementalDetokenizer.step_at_checks");
            step_into(d, p, batch, true);
            return fill_flags(flags, batch);
          },
          py::arg("ids"), py::arg("batch"), py::arg("out") = py::none(),
          "One decode step, text decoded at the checks only: slot i takes ids[i] (-1: no token); a slot\n"
          "whose token reaches a check of batch[i] gives its guardian the tokens since its last one, with\n"
          "their text decode(context + those ids) minus decode(context) (an unfinished last character\n"
          "waits for the next check). One decode_batch call per check step, none in between. The same\n"
          "C(n) as step() whenever the tokenizer decodes a window as the concatenation of its tokens'\n"
          "texts. Call flush() before reading figures between checks. Returns each slot's stop flag.")
      .def(
          "flush", [](detokenizer& d, batch_t& batch) {
            check_batch(d, batch, "IncrementalDetokenizer.flush");
            d.flush(batch, 0, d.size());
          },
          py::arg("batch"), "Gives every slot's waiting tokens to its guardian now (step_at_checks).")
      .def("__copy__", [](const detokenizer& d) { return detokenizer(d); })
      .def(
          "__deepcopy__", [](const detokenizer& d, py::handle) { return detokenizer(d); }, py::arg("memo"),
          "An independent copy of every window (decode_batch is shared).");
}

}  // namespace lil::python
