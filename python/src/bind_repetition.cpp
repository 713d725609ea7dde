// vLLM's repetition rule (lil::repetition_detector) as lil.RepetitionDetector,
// with its decision as lil.RepetitionDecision. The object is the C++ one; this
// file only converts arguments and results.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "lil/guardian/repetition.hpp"

namespace lil::python {

namespace {

constexpr long long uint32_max = std::numeric_limits<std::uint32_t>::max();

std::uint32_t small_field(py::handle v, const std::string& field) {
  return static_cast<std::uint32_t>(integer_in_range(v, 0, uint32_max, "repetition_options." + field + " must be >= 0, "));
}

py::dict decision_dict(const repetition_decision& d) {
  py::dict out;
  out["stop"] = d.stop();
  out["tokens"] = d.tokens;
  out["stopped_at"] = d.stopped_at;
  out["pattern_size"] = d.pattern_size;
  return out;
}

py::dict options_dict(const repetition_options& o) {
  py::dict out;
  out["min_pattern_size"] = o.min_pattern_size;
  out["max_pattern_size"] = o.max_pattern_size;
  out["min_count"] = o.min_count;
  out["min_tokens"] = o.min_tokens;
  out["rollback_window"] = o.rollback_window;
  return out;
}

}  // namespace

void bind_repetition(py::module_& m) {
  py::class_<repetition_decision>(m, "RepetitionDecision", "The repetition rule's answer now: go or stop, and where.")
      .def_property_readonly("stop", &repetition_decision::stop)
      .def_readonly("tokens", &repetition_decision::tokens, "Tokens accepted so far.")
      .def_readonly("stopped_at", &repetition_decision::stopped_at, "Tokens when the loop was found; 0 while going.")
      .def_readonly("pattern_size", &repetition_decision::pattern_size, "n-gram size of the loop found; 0 while going.")
      .def("as_dict", &decision_dict, "The decision as a dict (for JSON logs).")
      .def("__bool__", &repetition_decision::stop)
      .def("__repr__", [](const repetition_decision& d) {
        return std::string("RepetitionDecision(") + (d.stop() ? "stop" : "go") + ", tokens=" + std::to_string(d.tokens) +
               ", stopped_at=" + std::to_string(d.stopped_at) + ", pattern_size=" + std::to_string(d.pattern_size) + ")";
      });

  py::class_<repetition_detector>(m, "RepetitionDetector", R"doc(
vLLM's repetition rule (SamplingParams.repetition_detection) for any decode loop.

Stops as soon as the output ends in an n-gram of size min_pattern_size ..
max_pattern_size repeated at least min_count times in a row; the settings
mean what vLLM's mean (min_pattern_size 0 is 1). Tokens compare by id
(accept_id) or by text (accept; a 64-bit hash of the bytes).

    r = lil.RepetitionDetector(max_pattern_size=20, min_count=4)
    for token_id in stream:
        if r.accept_id(token_id):
            break
)doc")
      .def(py::init([](py::handle max_pattern_size, py::handle min_count, py::handle min_pattern_size,
                       py::handle min_tokens, py::handle rollback_window) {
             repetition_options o;
             o.min_pattern_size = small_field(min_pattern_size, "min_pattern_size");
             o.max_pattern_size = small_field(max_pattern_size, "max_pattern_size");
             o.min_count = small_field(min_count, "min_count");
             o.min_tokens = static_cast<std::uint64_t>(integer_in_range(
                 min_tokens, 0, std::numeric_limits<long long>::max() - 1, "repetition_options.min_tokens must be >= 0, "));
             o.rollback_window = small_field(rollback_window, "rollback_window");
             return repetition_detector(o);
           }),
           py::kw_only(), py::arg("max_pattern_size"), py::arg("min_count"), py::arg("min_pattern_size") = 0,
           py::arg("min_tokens") = 0, py::arg("rollback_window") = 32)
      .def(
          "accept", [](repetition_detector& d, py::handle text) { return d.accept(token_bytes(text, "token text")); },
          py::arg("text"), "One accepted token by its text (str as UTF-8, or bytes). Returns the Verdict.")
      .def(
          "accept_id",
          [](repetition_detector& d, py::handle id) {
            return d.accept_id(static_cast<std::int32_t>(integer_in_range(id, std::numeric_limits<std::int32_t>::min(),
                                                                          std::numeric_limits<std::int32_t>::max(),
                                                                          "token id must be in the 32-bit range, ")));
          },
          py::arg("id"), "One accepted token by its id. Do not mix ids and texts in one sequence.")
      .def(
          "accept_ids",
          [](repetition_detector& d, py::handle ids) {
            const std::vector<std::int32_t> v = token_ids(ids, "ids");
            return d.accept_ids(v.data(), v.size());
          },
          py::arg("ids"), "Several accepted tokens by id (a list or an integer buffer).")
      .def(
          "rollback",
          [](repetition_detector& d, py::handle count) {
            return d.rollback(static_cast<std::size_t>(
                integer_in_range(count, 0, std::numeric_limits<long long>::max() - 1, "rollback count must be >= 0, ")));
          },
          py::arg("count"), "Takes back the last `count` tokens; False (nothing changes) past rollback_limit.")
      .def_property_readonly("rollback_limit", &repetition_detector::rollback_limit)
      .def("decision", &repetition_detector::decision, "Go or stop, and where the loop was found.")
      .def("reset", &repetition_detector::reset, "Back to an empty sequence with the same settings.")
      .def("clone", &repetition_detector::clone, "An independent copy.")
      .def("__copy__", &repetition_detector::clone)
      .def("__deepcopy__", [](const repetition_detector& d, py::handle) { return d.clone(); }, py::arg("memo"))
      .def_property_readonly("stopped", &repetition_detector::stopped, "True once the rule said stop.")
      .def_property_readonly("tokens", &repetition_detector::tokens, "Tokens accepted so far.")
      .def_property_readonly("state_bytes", &repetition_detector::state_bytes, "Bytes of state held.")
      .def_property_readonly("options", [](const repetition_detector& d) { return options_dict(d.options()); },
                             "The settings, as keyword arguments.")
      .def("__repr__", [](const repetition_detector& d) {
        const auto& o = d.options();
        return "RepetitionDetector(max_pattern_size=" + std::to_string(o.max_pattern_size) +
               ", min_count=" + std::to_string(o.min_count) + ", tokens=" + std::to_string(d.tokens()) + ", " +
               (d.stopped() ? "stop" : "go") + ")";
      });
}

}  // namespace lil::python
