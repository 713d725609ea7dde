// python/src/module.cpp - the extension module lil._lil (re-exported by the
// package lil). lil::error becomes lil.Error, a ValueError, with the C++
// message unchanged: it names the field and the bad value.
#include <pybind11/pybind11.h>

#include "bindings.hpp"
#include "lil/config.hpp"

PYBIND11_MODULE(_lil, m) {
  m.doc() = "lil: Guardian (stop a decode loop when its output stops carrying information), the exact "
            "incremental DEFLATE engine behind it, and sparse-attention KV-cache policies.";
  m.attr("__version__") = LIL_VERSION_STRING;
  pybind11::register_exception<lil::error>(m, "Error", PyExc_ValueError);
  lil::python::bind_vocabulary(m);
  lil::python::bind_guardian(m);
  lil::python::bind_detokenizer(m);
  lil::python::bind_piece_cache(m);
  lil::python::bind_column_feed(m);
  lil::python::bind_repetition(m);
  lil::python::bind_deflate(m);
  auto kv = m.def_submodule("kv", "Sparse-attention KV-cache policies (H2O, Quest, StreamingLLM, SnapKV, TOVA).");
  lil::python::bind_kv(kv);
}
