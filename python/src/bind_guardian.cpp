// Guardian, its options, decisions and information curve, and the batch
// container, as Python classes. The objects are the C++ ones (lil::guardian<>
// and lil::guardian_batch<>); this file only converts arguments and results.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "lil/guardian/batch.hpp"
#include "lil/guardian/guardian.hpp"
#include "step_sources.hpp"

namespace lil::python {

namespace {

using guardian_t = lil::guardian<>;
using batch_t = lil::guardian_batch<>;

constexpr long long uint32_max = std::numeric_limits<std::uint32_t>::max();
constexpr long long int64_max = std::numeric_limits<long long>::max();

// An unsigned C++ field from a Python int. Values the field cannot represent
// are refused here with the C++ validation's wording, so that a negative
// count reads "must be >= 1, got -3" rather than wrapping around.
long long unsigned_field(py::handle value, const std::string& field, const char* lower, long long max) {
  const long long v = to_integer(value, field.c_str());
  if (v < 0) fail(field + " must be " + lower + ", got " + std::string(py::str(value)));
  if (v > max || v == int64_max) fail(field + " must be <= " + std::to_string(max) + ", got " + std::string(py::str(value)));
  return v;
}

const char* const option_names[] = {"check_every", "min_gain",      "patience",         "warmup_tokens",
                                    "relative_gain", "relative_checks", "level",        "profile",
                                    "pending_capacity", "curve_capacity"};

std::string known_options() {
  std::string s;
  for (const char* n : option_names) s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

void set_option(guardian_options& o, const std::string& key, py::handle v) {
  auto& r = o.rule;
  if (key == "check_every") {
    r.check_every = static_cast<std::uint32_t>(unsigned_field(v, "plateau_options.check_every (f)", ">= 1", uint32_max));
  } else if (key == "min_gain") {
    r.min_gain = to_number(v, "plateau_options.min_gain (t)");
  } else if (key == "patience") {
    r.patience = static_cast<std::uint32_t>(unsigned_field(v, "plateau_options.patience", ">= 1", uint32_max));
  } else if (key == "warmup_tokens") {
    r.warmup_tokens = static_cast<std::uint64_t>(unsigned_field(v, "plateau_options.warmup_tokens", ">= 0", int64_max - 1));
  } else if (key == "relative_gain") {
    r.relative_gain = to_number(v, "plateau_options.relative_gain");
  } else if (key == "relative_checks") {
    r.relative_checks =
        static_cast<std::uint32_t>(unsigned_field(v, "plateau_options.relative_checks", ">= 2", uint32_max));
  } else if (key == "level") {
    o.level = static_cast<int>(integer_in_range(v, 1, 9, "guardian_options.level must be 1..9, "));
  } else if (key == "profile") {
    o.profile = static_cast<deflate::profile>(profile_from(v, "guardian_options.profile"));
  } else if (key == "pending_capacity") {
    o.pending_capacity =
        static_cast<std::size_t>(unsigned_field(v, "guardian_options.pending_capacity", ">= 0", int64_max - 1));
  } else if (key == "curve_capacity") {
    o.curve_capacity =
        static_cast<std::size_t>(unsigned_field(v, "guardian_options.curve_capacity", ">= 0", int64_max - 1));
  } else {
    throw py::type_error("unexpected option '" + key + "' (options: " + known_options() + ")");
  }
}

// The options a constructor was given: a GuardianOptions (or None for the
// defaults), then keyword overrides.
guardian_options options_from(py::handle options, const py::kwargs& overrides) {
  guardian_options o;
  if (!options.is_none()) {
    if (!py::isinstance<guardian_options>(options))
      throw py::type_error("options must be a lil.GuardianOptions or None, got " +
                           std::string(py::str(py::type::handle_of(options).attr("__name__"))));
    o = options.cast<guardian_options>();
  }
  for (auto item : overrides) set_option(o, py::str(item.first), item.second);
  return o;
}

py::object option_value(const guardian_options& o, const std::string& key) {
  const auto& r = o.rule;
  if (key == "check_every") return py::int_(r.check_every);
  if (key == "min_gain") return py::float_(r.min_gain);
  if (key == "patience") return py::int_(r.patience);
  if (key == "warmup_tokens") return py::int_(r.warmup_tokens);
  if (key == "relative_gain") return py::float_(r.relative_gain);
  if (key == "relative_checks") return py::int_(r.relative_checks);
  if (key == "level") return py::int_(o.level);
  if (key == "profile") return py::str(deflate::profile_name(o.profile));
  if (key == "pending_capacity") return py::int_(o.pending_capacity);
  return py::int_(o.curve_capacity);
}

py::dict options_dict(const guardian_options& o) {
  py::dict d;
  for (const char* n : option_names) d[n] = option_value(o, n);
  return d;
}

// What a guardian was built with, read back from its parts.
guardian_options options_of(const guardian_t& g) {
  guardian_options o;
  o.rule = g.detector().options();
  o.level = g.compressor().opts().level;
  o.profile = g.compressor().opts().profile;
  o.pending_capacity = g.pending_capacity();
  o.curve_capacity = g.curve().capacity();
  return o;
}

std::int32_t one_id(py::handle id) {
  return static_cast<std::int32_t>(integer_in_range(id, std::numeric_limits<std::int32_t>::min(),
                                                    std::numeric_limits<std::int32_t>::max(),
                                                    "token id must be in the 32-bit range, "));
}

py::dict check_dict(const check_result& c) {
  py::dict d;
  d["tokens"] = c.point.tokens;
  d["bytes"] = c.point.bytes;
  d["size"] = c.point.size;
  d["gain"] = c.gain;
  d["threshold"] = c.threshold;
  d["low_gain_streak"] = c.low_gain_streak;
  d["reason"] = reason_name(c.why);
  d["stop"] = c.action == verdict::stop;
  return d;
}

py::dict decision_dict(const decision& d) {
  py::dict out;
  out["stop"] = d.stop();
  out["reason"] = reason_name(d.why);
  out["tokens"] = d.tokens;
  out["stopped_at"] = d.stopped_at;
  out["last"] = check_dict(d.last);
  return out;
}

std::string repr_check(const check_result& c) {
  if (c.point.tokens == 0) return "Check(none)";
  return "Check(tokens=" + std::to_string(c.point.tokens) + ", size=" + std::to_string(c.point.size) +
         ", gain=" + std::to_string(c.gain) + ", threshold=" + std::string(py::str(py::float_(c.threshold))) +
         ", reason='" + reason_name(c.why) + "')";
}

// Texts of one call, with the Python objects kept alive while their bytes are
// read (a str's UTF-8 form lives inside the str).
struct text_list {
  py::list owners;
  std::vector<std::string_view> views;
};

text_list texts_of(py::handle texts, const char* what, bool allow_none) {
  text_list t;
  if (PyUnicode_Check(texts.ptr()) || PyBytes_Check(texts.ptr()))
    throw py::type_error(std::string(what) + " must be a sequence of texts, not a single " +
                         std::string(py::str(py::type::handle_of(texts).attr("__name__"))));
  t.owners = py::list(py::reinterpret_borrow<py::iterable>(texts));
  t.views.reserve(t.owners.size());
  for (py::handle item : t.owners) {
    if (allow_none && item.is_none())
      t.views.emplace_back();  // data() == nullptr: the batch skips this slot
    else
      t.views.push_back(token_bytes(item, what));
  }
  return t;
}

py::list verdict_flags(const std::vector<verdict>& v) {
  py::list out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = py::bool_(v[i] == verdict::stop);
  return out;
}

using vocab_ptr = std::shared_ptr<vocabulary>;

vocab_ptr vocabulary_arg(py::handle v) {
  if (v.is_none()) return nullptr;
  if (!py::isinstance<vocabulary>(v))
    throw py::type_error("vocabulary must be a lil.Vocabulary or None, got " +
                         std::string(py::str(py::type::handle_of(v).attr("__name__"))));
  return v.cast<vocab_ptr>();
}

const vocabulary& needs_vocabulary(const vocabulary* v, const char* verb) {
  if (!v)
    fail(std::string(verb) +
         " needs a vocabulary (vocabulary=lil.Vocabulary...): ids then price the text they decode to. "
         "accept_raw_id(s) prices each id as its 4 bytes instead (sizes not comparable with text)");
  return *v;
}

// Refuses, before any token is taken, an id the vocabulary does not have.
void check_ids(const vocabulary& v, const std::int32_t* ids, std::size_t begin, std::size_t end, bool allow_none,
               const char* verb) {
  for (std::size_t i = begin; i < end; ++i)
    if (!(v.contains(ids[i]) || (allow_none && ids[i] == no_token)))
      fail(std::string(verb) + ": id " + std::to_string(ids[i]) + " at " + std::to_string(i) +
           " is outside the vocabulary (0.." + std::to_string(v.size()) + (allow_none ? "; -1: no token" : "") + ")");
}

std::size_t slot_index(const batch_t& b, long long i) {
  const auto n = static_cast<long long>(b.size());
  if (i < 0) i += n;
  if (i < 0 || i >= n) throw py::index_error("GuardianBatch index out of range");
  return static_cast<std::size_t>(i);
}

}  // namespace

void step_by_vocabulary(batch_t& batch, const std::int32_t* ids, const char* verb) {
  check_ids(needs_vocabulary(batch.bound_vocabulary(), verb), ids, 0, batch.size(), true, verb);
  batch.accept_ids(ids);
}

void bind_guardian(py::module_& m) {
  py::enum_<verdict>(m, "Verdict", "A guardian's answer: go on, or stop. Truthy when it is stop.")
      .value("go", verdict::go)
      .value("stop", verdict::stop)
      .def("__bool__", [](verdict v) { return v == verdict::stop; });

  py::enum_<reason>(m, "Reason", "Why a check (or a decision) says what it says.")
      .value("no_check_yet", reason::no_check_yet, "fewer than f tokens so far")
      .value("first_check", reason::first_check, "n = f: nothing to compare with yet")
      .value("gaining", reason::gaining, "the gain reached the threshold")
      .value("warming_up", reason::warming_up, "low gain, but n < warmup_tokens")
      .value("awaiting_patience", reason::awaiting_patience, "low gain, but fewer than `patience` in a row")
      .value("plateau", reason::plateau, "low gain `patience` times in a row, past the warm-up: stop")
      .value("repetition", reason::repetition, "the output ends in a repeated n-gram: stop");

  py::class_<check_point>(m, "CurvePoint", "One point of the information curve: n, bytes(n), C(n).")
      .def_property_readonly("tokens", [](const check_point& p) { return p.tokens; }, "n: tokens so far")
      .def_property_readonly("bytes", [](const check_point& p) { return p.bytes; }, "bytes of the first n tokens")
      .def_property_readonly("size", [](const check_point& p) { return p.size; },
                             "C(n): exact raw DEFLATE size of those bytes")
      .def_property_readonly("ratio", &check_point::ratio, "C(n) / bytes(n)")
      .def("as_tuple", [](const check_point& p) { return py::make_tuple(p.tokens, p.bytes, p.size); },
           "(tokens, bytes, size)")
      .def("__eq__", [](const check_point& a, const check_point& b) {
        return a.tokens == b.tokens && a.bytes == b.bytes && a.size == b.size;
      })
      .def("__repr__", [](const check_point& p) {
        return "CurvePoint(tokens=" + std::to_string(p.tokens) + ", bytes=" + std::to_string(p.bytes) +
               ", size=" + std::to_string(p.size) + ")";
      });

  py::class_<check_result>(m, "Check", "The figures of one check, as the rule judged them.")
      .def_property_readonly("tokens", [](const check_result& c) { return c.point.tokens; },
                             "n of the check (0: no check yet)")
      .def_property_readonly("bytes", [](const check_result& c) { return c.point.bytes; })
      .def_property_readonly("size", [](const check_result& c) { return c.point.size; }, "C(n)")
      .def_property_readonly("ratio", [](const check_result& c) { return c.point.ratio(); }, "C(n) / bytes(n)")
      .def_property_readonly("gain", [](const check_result& c) { return c.gain; },
                             "C(n) - C(n-f) (at the first check: C(f))")
      .def_property_readonly("threshold", [](const check_result& c) { return c.threshold; },
                             "the threshold the gain was held to")
      .def_property_readonly("low_gain_streak", [](const check_result& c) { return c.low_gain_streak; })
      .def_property_readonly("reason", [](const check_result& c) { return c.why; })
      .def_property_readonly("action", [](const check_result& c) { return c.action; })
      .def_property_readonly("stop", [](const check_result& c) { return c.action == verdict::stop; })
      .def("as_dict", &check_dict, "The figures as a dict (for JSON logs).")
      .def("__repr__", &repr_check);

  py::class_<decision>(m, "Decision", "The loop's answer now: go or stop, why, and the last check's figures.")
      .def_property_readonly("action", [](const decision& d) { return d.action; }, "Verdict.go or Verdict.stop")
      .def_property_readonly("stop", &decision::stop, "True once the guardian said stop (it stays)")
      .def_property_readonly("reason", [](const decision& d) { return d.why; },
                             "why; for a stop, the stopping check's reason")
      .def_property_readonly("tokens", [](const decision& d) { return d.tokens; }, "tokens accepted so far")
      .def_property_readonly("stopped_at", [](const decision& d) { return d.stopped_at; },
                             "n of the check that said stop; 0 while going")
      .def_property_readonly("last", [](const decision& d) { return d.last; }, "figures of the last check")
      .def("as_dict", &decision_dict, "The decision as a dict (for JSON logs).")
      .def("__bool__", &decision::stop)
      .def("__repr__", [](const decision& d) {
        return std::string("Decision(") + (d.stop() ? "stop" : "go") + ", reason='" + reason_name(d.why) +
               "', tokens=" + std::to_string(d.tokens) + ", stopped_at=" + std::to_string(d.stopped_at) +
               ", last=" + repr_check(d.last) + ")";
      });

  py::class_<guardian_options> opts(m, "GuardianOptions",
                                    "Settings of a Guardian. The defaults are the paper's rule: f = 250, t = 20,\n"
                                    "level 6, profile gzip. Keywords set fields: GuardianOptions(check_every=50).");
  opts.def(py::init([](const py::kwargs& kw) { return options_from(py::none(), kw); }))
      .def("validate", &guardian_options::validate, "Raises lil.Error naming the first bad field.")
      .def("as_dict", &options_dict, "The options as a dict of keyword arguments.")
      .def("__eq__", [](const guardian_options& a, const guardian_options& b) {
        return options_dict(a).equal(options_dict(b));
      })
      .def("__repr__", [](const guardian_options& o) {
        std::string s = "GuardianOptions(";
        bool first = true;
        for (const char* n : option_names) {
          s += (first ? "" : ", ") + std::string(n) + "=" + std::string(py::repr(option_value(o, n)));
          first = false;
        }
        return s + ")";
      });
  for (const char* name : option_names) {
    const std::string key = name;
    opts.def_property(
        name, [key](const guardian_options& o) { return option_value(o, key); },
        [key](guardian_options& o, py::handle v) { set_option(o, key, v); });
  }

  py::class_<guardian_t>(m, "Guardian", R"doc(
Stops a decode loop when the output stops carrying information.

Every f tokens (check_every) the guardian measures C(n), the exact size of the
raw DEFLATE stream of the output so far; a check whose gain C(n) - C(n-f) is
below t bytes (min_gain), at n >= 2f, says stop ("Less is Less", arXiv
2601.03043). One guardian follows one sequence.

    g = lil.Guardian()                 # the paper's rule; or Guardian(check_every=50, min_gain=4)
    for text in stream:
        if g.accept(text):             # a Verdict, truthy when it is stop
            break
    print(g.decision())
)doc")
      .def(py::init([](py::handle options, py::handle vocab, bool starts_text, const py::kwargs& kw) {
             guardian_options o = options_from(options, kw);
             o.output_starts_text = starts_text;
             const vocab_ptr v = vocabulary_arg(vocab);
             return v ? guardian_t(o, v) : guardian_t(o);
           }),
           py::arg("options") = py::none(), py::arg("vocabulary") = py::none(), py::arg("output_starts_text") = true,
           "Guardian(options=None, vocabulary=None, output_starts_text=True, **overrides): a GuardianOptions\n"
           "and/or keyword options; with a lil.Vocabulary, accept_id prices the text the ids decode to\n"
           "(output_starts_text=False: the output continues a prompt, its first token keeps its leading space).")
      .def(
          "accept", [](guardian_t& g, py::handle text) { return g.accept(token_bytes(text, "token text")); },
          py::arg("text"), "One accepted token by its text (str is sent as UTF-8, or bytes). Returns the Verdict.")
      .def(
          "accept_id",
          [](guardian_t& g, py::handle id) {
            const vocabulary& v = needs_vocabulary(g.bound_vocabulary(), "Guardian.accept_id");
            const std::int32_t i = one_id(id);
            check_ids(v, &i, 0, 1, false, "Guardian.accept_id");
            return g.accept_id(i);
          },
          py::arg("id"), "One accepted token by its id, through the guardian's vocabulary.")
      .def(
          "accept_raw_id", [](guardian_t& g, py::handle id) { return g.accept_raw_id(one_id(id)); }, py::arg("id"),
          "One token priced as its id's 4 bytes (little-endian), the explicit choice for engines with\n"
          "neither text nor a vocabulary; sizes are not those of text. Do not mix with text in one sequence.")
      .def(
          "accept_texts",
          [](guardian_t& g, py::handle texts) {
            const text_list t = texts_of(texts, "texts", false);
            return g.accept(t.views.data(), t.views.size());
          },
          py::arg("texts"),
          "Several accepted tokens at once (speculative decoding); checks fall at the exact multiples of f.")
      .def(
          "accept_ids",
          [](guardian_t& g, py::handle ids) {
            const vocabulary& voc = needs_vocabulary(g.bound_vocabulary(), "Guardian.accept_ids");
            const std::vector<std::int32_t> v = token_ids(ids, "ids");
            check_ids(voc, v.data(), 0, v.size(), false, "Guardian.accept_ids");
            return g.accept_ids(v.data(), v.size());
          },
          py::arg("ids"), "Several accepted tokens by id through the vocabulary (a list or an integer buffer).")
      .def(
          "accept_raw_ids",
          [](guardian_t& g, py::handle ids) {
            const std::vector<std::int32_t> v = token_ids(ids, "ids");
            return g.accept_raw_ids(v.data(), v.size());
          },
          py::arg("ids"), "Several tokens, each priced as its id's 4 bytes (see accept_raw_id).")
      .def_property_readonly(
          "vocabulary",
          [](const guardian_t& g) -> py::object {
            return g.bound_vocabulary() ? py::cast(g.bound_vocabulary(), py::return_value_policy::reference)
                                        : py::none();
          },
          "The bound lil.Vocabulary, or None.")
      .def("decision", &guardian_t::decision, "Go or stop, why, tokens so far, and the last check's figures.")
      .def(
          "rollback",
          [](guardian_t& g, py::handle count) {
            return g.rollback(static_cast<std::size_t>(
                integer_in_range(count, 0, int64_max - 1, "rollback count must be >= 0, ")));
          },
          py::arg("count"),
          "Takes back the last `count` tokens. Returns False (and changes nothing) past rollback_limit.")
      .def_property_readonly("rollback_limit", &guardian_t::rollback_limit,
                             "How many tokens rollback() can take back now (those since the last check).")
      .def("reset", &guardian_t::reset, "Back to an empty sequence with the same options, keeping its memory.")
      .def("clone", &guardian_t::clone, "An independent copy (for beam search or parallel sampling).")
      .def("__copy__", &guardian_t::clone)
      .def("__deepcopy__", [](const guardian_t& g, py::handle) { return g.clone(); }, py::arg("memo"))
      .def(
          "curve",
          [](const guardian_t& g) { return std::vector<check_point>(g.curve().begin(), g.curve().end()); },
          "The information curve: the first curve_capacity checks as CurvePoints.")
      .def_property_readonly("curve_dropped", [](const guardian_t& g) { return g.curve().dropped(); },
                             "Checks made after the curve was full (counted, not kept).")
      .def_property_readonly("stopped", &guardian_t::stopped, "True once the guardian said stop.")
      .def_property_readonly("tokens", &guardian_t::tokens, "Tokens accepted so far.")
      .def_property_readonly("bytes", &guardian_t::bytes, "Bytes of those tokens.")
      .def_property_readonly("check_every", &guardian_t::interval, "f: tokens between checks.")
      .def_property_readonly("pending_capacity", &guardian_t::pending_capacity, "Bytes buffered between checks.")
      .def_property_readonly("state_bytes", &guardian_t::state_bytes, "Bytes of state held by this guardian.")
      .def_property_readonly("options", &options_of, "The GuardianOptions it was built with.")
      .def("__repr__", [](const guardian_t& g) {
        const decision d = g.decision();
        return "Guardian(tokens=" + std::to_string(d.tokens) + ", " + (d.stop() ? "stop" : "go") + ", reason='" +
               reason_name(d.why) + "', check_every=" + std::to_string(g.interval()) + ")";
      });

  py::class_<batch_t>(m, "GuardianBatch", R"doc(
One Guardian per slot of a serving batch, all allocated at construction.

    batch = lil.GuardianBatch(64, check_every=50, min_gain=4)
    stops = batch.accept_ids(step_ids)     # None (or -1) skips a slot; returns a list of bools (stop)
    batch.reset(slot)                      # a new request takes the slot
    batch[slot].decision()
)doc")
      .def(py::init([](py::handle size, py::handle options, py::handle vocab, bool starts_text, const py::kwargs& kw) {
             const auto n = integer_in_range(size, 0, int64_max - 1, "GuardianBatch size must be >= 0, ");
             guardian_options o = options_from(options, kw);
             o.output_starts_text = starts_text;
             const vocab_ptr v = vocabulary_arg(vocab);
             return v ? new batch_t(static_cast<std::size_t>(n), o, v) : new batch_t(static_cast<std::size_t>(n), o);
           }),
           py::arg("size"), py::arg("options") = py::none(), py::arg("vocabulary") = py::none(),
           py::arg("output_starts_text") = true,
           "GuardianBatch(size, options=None, vocabulary=None, output_starts_text=True, **overrides):\n"
           "`size` guardians with the same options, reading ids through the vocabulary.")
      .def(
          "step",
          [](batch_t& b, py::handle ids, py::handle out, std::size_t begin, py::handle end_arg) {
            const vocabulary& voc = needs_vocabulary(b.bound_vocabulary(), "GuardianBatch.step");
            const std::size_t end = end_arg.is_none() ? b.size() : end_arg.cast<std::size_t>();
            if (begin > end || end > b.size())
              fail("GuardianBatch.step: range [" + std::to_string(begin) + ", " + std::to_string(end) +
                   ") is not inside the " + std::to_string(b.size()) + " slots");
            static thread_local std::vector<std::int32_t> scratch;
            static thread_local std::vector<verdict> verdicts;
            py::object keep;
            const std::int32_t* p = step_ids(ids, b.size(), scratch, keep, "GuardianBatch.step ids");
            check_ids(voc, p, begin, end, true, "GuardianBatch.step");
            py::array_t<bool> flags;
            if (out.is_none()) {
              flags = py::array_t<bool>(static_cast<py::ssize_t>(b.size()));
            } else {
              flags = py::array_t<bool>::ensure(out);
              if (!flags || flags.ndim() != 1 || static_cast<std::size_t>(flags.shape(0)) != b.size() ||
                  !flags.writeable() || flags.ptr() != out.ptr())
                fail("GuardianBatch.step: out must be a writable 1-D numpy bool array of " + std::to_string(b.size()) +
                     " slots");
            }
            verdicts.resize(b.size());
            {
              py::gil_scoped_release unlocked;
              b.accept_ids(p, verdicts.data(), begin, end);
            }
            auto f = flags.mutable_unchecked<1>();
            for (std::size_t i = begin; i < end; ++i) f(static_cast<py::ssize_t>(i)) = verdicts[i] == verdict::stop;
            return flags;
          },
          py::arg("ids"), py::arg("out") = py::none(), py::arg("begin") = 0, py::arg("end") = py::none(),
          "One decode step for the whole batch in one call: slot i accepts ids[i] through the vocabulary\n"
          "(-1: no token this step). ids: any integer buffer (numpy array, CPU torch tensor, array.array),\n"
          "one per slot. Returns (or fills `out`, a numpy bool array) each slot's stop flag; begin/end\n"
          "take a range of slots (another thread may step another range; the GIL is released).")
      .def("__len__", &batch_t::size)
      .def("__copy__", [](const batch_t& b) { return batch_t(b); })
      .def("__deepcopy__", [](const batch_t& b, py::handle) { return batch_t(b); }, py::arg("memo"),
           "An independent copy of every slot (the vocabulary is shared: it never changes).")
      .def(
          "__getitem__", [](batch_t& b, long long i) -> guardian_t& { return b[slot_index(b, i)]; },
          py::return_value_policy::reference_internal, "The guardian of a slot (a view into the batch).")
      .def(
          "accept_ids",
          [](batch_t& b, py::handle ids) {
            const vocabulary& voc = needs_vocabulary(b.bound_vocabulary(), "GuardianBatch.accept_ids");
            const std::vector<std::int32_t> v = token_ids(ids, "ids", true, no_token);
            if (v.size() != b.size())
              fail("GuardianBatch.accept_ids: got " + std::to_string(v.size()) + " ids for " +
                   std::to_string(b.size()) + " sequences");
            check_ids(voc, v.data(), 0, v.size(), true, "GuardianBatch.accept_ids");
            std::vector<verdict> out(b.size());
            b.accept_ids(v.data(), out.data());
            return verdict_flags(out);
          },
          py::arg("ids"),
          "One decode step by ids through the vocabulary: slot i accepts ids[i] (None or -1: no token).\n"
          "Returns a list of stop flags; step() is the array form.")
      .def(
          "accept_raw_ids",
          [](batch_t& b, py::handle ids) {
            const std::vector<std::int32_t> v = token_ids(ids, "ids", true, no_token);
            if (v.size() != b.size())
              fail("GuardianBatch.accept_raw_ids: got " + std::to_string(v.size()) + " ids for " +
                   std::to_string(b.size()) + " sequences");
            std::vector<verdict> out(b.size());
            b.accept_raw_ids(v.data(), out.data(), 0, b.size());
            return verdict_flags(out);
          },
          py::arg("ids"), "One decode step, each id priced as its 4 bytes (see Guardian.accept_raw_id).")
      .def(
          "accept_texts",
          [](batch_t& b, py::handle texts) {
            const text_list t = texts_of(texts, "texts", true);
            if (t.views.size() != b.size())
              fail("GuardianBatch.accept_texts: got " + std::to_string(t.views.size()) + " texts for " +
                   std::to_string(b.size()) + " sequences");
            std::vector<verdict> out(b.size());
            b.accept_texts(t.views.data(), out.data());
            return verdict_flags(out);
          },
          py::arg("texts"),
          "One decode step by text: slot i accepts texts[i] (None: no token). Returns each slot's stop flag.")
      .def(
          "reset",
          [](batch_t& b, py::handle slot) {
            if (slot.is_none())
              b.reset();
            else
              b.reset(slot_index(b, to_integer(slot, "slot")));
          },
          py::arg("slot") = py::none(), "Empties one slot (or all, with no argument), keeping the memory.")
      .def_property_readonly(
          "stopped",
          [](const batch_t& b) {
            py::list out(b.size());
            for (std::size_t i = 0; i < b.size(); ++i) out[i] = py::bool_(b[i].stopped());
            return out;
          },
          "Each slot's stop flag.")
      .def_property_readonly("stopped_count", &batch_t::stopped_count, "How many slots say stop.")
      .def(
          "decisions",
          [](const batch_t& b) {
            std::vector<decision> out;
            out.reserve(b.size());
            for (std::size_t i = 0; i < b.size(); ++i) out.push_back(b[i].decision());
            return out;
          },
          "Every slot's Decision.")
      .def_property_readonly("state_bytes", &batch_t::state_bytes, "Bytes of state of all slots.")
      .def("__repr__", [](const batch_t& b) {
        return "GuardianBatch(size=" + std::to_string(b.size()) + ", stopped=" + std::to_string(b.stopped_count()) +
               ")";
      });
}

}  // namespace lil::python
