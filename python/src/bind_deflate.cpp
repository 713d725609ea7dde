// The DEFLATE engine: the exact compressed size of some bytes, the streaming
// compressor (size-if-finished at any moment), and whole-buffer compression in
// the raw / gzip / zlib containers.
#include <pybind11/pybind11.h>

#include <limits>
#include <string>

#include "bindings.hpp"
#include "convert.hpp"
#include "lil/deflate/compressor.hpp"

namespace lil::python {

namespace {

deflate::options deflate_options(py::handle level, py::handle profile, bool keep_output) {
  deflate::options o;
  o.level = static_cast<int>(integer_in_range(level, std::numeric_limits<int>::min(), std::numeric_limits<int>::max(),
                                              "deflate options: level must be 1..9, "));
  o.profile = static_cast<deflate::profile>(profile_from(profile, "deflate options: profile"));
  o.keep_output = keep_output;
  return o;
}

deflate::container container_from(py::handle value) {
  if (PyUnicode_Check(value.ptr())) {
    const std::string name = py::str(value);
    if (name == "raw") return deflate::container::raw;
    if (name == "gzip") return deflate::container::gzip;
    if (name == "zlib") return deflate::container::zlib;
  }
  fail("deflate container must be \"raw\", \"gzip\" or \"zlib\", got " + std::string(py::repr(value)));
}

py::bytes to_bytes(const std::vector<unsigned char>& v) {
  return py::bytes(reinterpret_cast<const char*>(v.data()), v.size());
}

}  // namespace

void bind_deflate(py::module_& m) {
  m.def(
      "deflate_size",
      [](py::handle data, py::handle level, py::handle profile) {
        const std::string_view bytes = token_bytes(data, "data");
        return deflate::deflate_size(bytes.data(), bytes.size(), deflate_options(level, profile, false));
      },
      py::arg("data"), py::arg("level") = 6, py::arg("profile") = "gzip",
      "Exact size in bytes of the raw DEFLATE stream of `data` (str as UTF-8, or bytes) at `level`,\n"
      "as GNU gzip (profile \"gzip\") or zlib (profile \"zlib\") would write it.");

  m.def(
      "compress",
      [](py::handle data, py::handle level, py::handle profile, py::handle container) {
        const std::string_view bytes = token_bytes(data, "data");
        const auto out =
            deflate::compress(bytes.data(), bytes.size(), deflate_options(level, profile, true), container_from(container));
        return to_bytes(out);
      },
      py::arg("data"), py::arg("level") = 6, py::arg("profile") = "gzip", py::arg("container") = "raw",
      "Compresses `data` byte for byte as gzip -n (profile \"gzip\") or zlib (profile \"zlib\") would, in the\n"
      "container \"raw\" (bare DEFLATE), \"gzip\" (RFC 1952) or \"zlib\" (RFC 1950, as zlib.compress).");

  py::class_<deflate::compressor>(m, "Compressor", R"doc(
The streaming DEFLATE compressor: feed bytes in any chunks; size_if_finished()
says, exactly and without finishing, how long the raw stream would be if the
input ended now.

    c = lil.Compressor(level=6, profile="gzip", keep_output=False)
    c.feed("some text")
    c.size_if_finished()
)doc")
      .def(py::init([](py::handle level, py::handle profile, bool keep_output) {
             return deflate::compressor(deflate_options(level, profile, keep_output));
           }),
           py::arg("level") = 6, py::arg("profile") = "gzip", py::arg("keep_output") = true,
           "keep_output=False keeps sizes only (smaller; output() stays empty).")
      .def(
          "feed",
          [](deflate::compressor& c, py::handle data) {
            const std::string_view bytes = token_bytes(data, "data");
            c.feed(bytes.data(), bytes.size());
          },
          py::arg("data"), "Appends input (str as UTF-8, or bytes).")
      .def("size_if_finished", &deflate::compressor::size_if_finished,
           "Exact size in bytes of the raw stream if the input ended now; the stream is left as it was.")
      .def("finish", &deflate::compressor::finish, "Ends the stream; feed() afterwards raises lil.Error.")
      .def_property_readonly("finished", &deflate::compressor::finished)
      .def(
          "output", [](const deflate::compressor& c) { return to_bytes(c.output()); },
          "The raw DEFLATE bytes produced so far (complete bytes only until finish()).")
      .def(
          "take_output", [](deflate::compressor& c) { return to_bytes(c.take_output()); },
          "The bytes produced so far, removed from the compressor.")
      .def_property_readonly("bytes_in", &deflate::compressor::bytes_in, "Input bytes so far.")
      .def_property_readonly("bits_closed", &deflate::compressor::bits_closed,
                             "Bits of the stream already decided (closed blocks).")
      .def_property_readonly("level", [](const deflate::compressor& c) { return c.opts().level; })
      .def_property_readonly("profile", [](const deflate::compressor& c) { return deflate::profile_name(c.opts().profile); })
      .def_property_readonly("keep_output", [](const deflate::compressor& c) { return c.opts().keep_output; })
      .def_property_readonly("state_bytes",
                             [](const deflate::compressor& c) { return deflate::compressor::state_bytes(c.opts()); },
                             "Heap bytes held by a compressor with these options.")
      .def("reset", &deflate::compressor::reset, "Back to an empty stream with the same options.")
      .def("clone", [](const deflate::compressor& c) { return deflate::compressor(c); }, "An independent fork.")
      .def("__copy__", [](const deflate::compressor& c) { return deflate::compressor(c); })
      .def("__deepcopy__", [](const deflate::compressor& c, py::handle) { return deflate::compressor(c); },
           py::arg("memo"))
      .def("__repr__", [](const deflate::compressor& c) {
        return "Compressor(level=" + std::to_string(c.opts().level) + ", profile='" +
               deflate::profile_name(c.opts().profile) + "', bytes_in=" + std::to_string(c.bytes_in()) + ")";
      });
}

}  // namespace lil::python
